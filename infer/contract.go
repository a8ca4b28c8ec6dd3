// Package infer loads an ONNX image classifier and runs it on BGR video
// frames through ONNX Runtime.
//
// A model describes how it wants its pixels through a small metadata contract
// (see the Key* constants), so one code path serves rpscam's own MobileNet-v2
// export (uint8 NHWC RGB, normalisation inside the graph) and classifiers
// exported elsewhere (float32 NCHW with a scale and offset, as the OpenCV DNN
// samples use). Everything the per-frame path needs (crop and resize Mats, the
// ONNX Runtime input and output tensors, the probability buffer) is made once
// in Load, so Classify does not allocate in steady state.
package infer

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Metadata contract: keys of the ONNX model's metadata_props that describe how
// to feed the model and read its output. The model exporter writes them; every
// key is optional, and the defaults below make a plain classifier work.
const (
	// KeyLabels holds the class names in output order, comma-separated
	// ("rock,paper,scissors"). Without it, labels come from a file beside the
	// model: "<model path without .onnx>.labels", else "labels.txt" in the same
	// folder, one label per line. A label "none" is the no-hand class
	// (see NoHandLabel): it is shown as "no hand", never as a gesture.
	KeyLabels = "labels"
	// KeyInputLayout is "NHWC" or "NCHW". Default: inferred from the input
	// shape (channel count at position 1 means NCHW, at position 3 NHWC).
	KeyInputLayout = "input_layout"
	// KeyInputColor is "RGB" or "BGR", the channel order the model was trained
	// on. Default: RGB. Ignored for single-channel (grey) inputs.
	KeyInputColor = "input_color"
	// KeyInputScale and KeyInputOffset apply to float32 inputs only:
	// model_value = pixel_uint8*scale + offset. Each is one number, or three
	// comma-separated numbers, one per channel in the model's colour order.
	// Defaults: scale 1/255, offset 0 (pixels in [0, 1]).
	KeyInputScale  = "input_scale"
	KeyInputOffset = "input_offset"
	// KeyOutputKind is "probabilities" (default: the output is already a
	// softmax) or "logits" (Classify applies a softmax itself). It lets
	// classifiers exported without a final softmax report real probabilities.
	KeyOutputKind = "output_kind"
)

// Names rpscam's exporter gives the graph's input and outputs.
const (
	InputName         = "image"
	ProbabilitiesName = "probabilities"
	FeaturesName      = "features"
)

// Layout is the order of a 4-D image tensor's dimensions.
type Layout string

// The layouts a model input may have.
const (
	NHWC Layout = "NHWC"
	NCHW Layout = "NCHW"
)

// ColorOrder is the channel order of a colour model input.
type ColorOrder string

// The channel orders a model input may have.
const (
	RGB ColorOrder = "RGB"
	BGR ColorOrder = "BGR"
)

// ElementType is the element type of the model's input tensor.
type ElementType string

// The input element types supported.
const (
	Uint8   ElementType = "uint8"
	Float32 ElementType = "float32"
)

// OutputKind says whether the classifier output is already a probability
// distribution.
type OutputKind string

// The output kinds a model may declare with KeyOutputKind.
const (
	Probabilities OutputKind = "probabilities"
	Logits        OutputKind = "logits"
)

// Contract is everything Load learned about how to feed a model and read it:
// the model's declared shape and type plus its metadata (or their defaults).
type Contract struct {
	InputName   string
	OutputName  string
	Element     ElementType
	Layout      Layout
	Color       ColorOrder // meaningful when Channels == 3
	Channels    int        // 3, or 1 for a grey model
	Width       int
	Height      int
	Scale       [3]float32 // per model channel; float32 inputs only
	Offset      [3]float32 // per model channel; float32 inputs only
	OutputKind  OutputKind
	Labels      []string
	LabelSource string // "metadata" or the path of the labels file
}

// channelIndex reports where the channel dimension sits in a rank-4 input of
// layout l.
func (l Layout) channelIndex() int {
	if l == NCHW {
		return 1
	}
	return 3
}

// parseLayout reads KeyInputLayout, or infers the layout from the shape.
func parseLayout(v string, dims []int64) (Layout, error) {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "NHWC":
		return NHWC, nil
	case "NCHW":
		return NCHW, nil
	case "":
	default:
		return "", fmt.Errorf("metadata %s=%q is not NHWC or NCHW", KeyInputLayout, v)
	}
	isCh := func(d int64) bool { return d == 3 || d == 1 }
	at1, at3 := isCh(dims[1]), isCh(dims[3])
	switch {
	case at1 && at3 && dims[1] != dims[3]:
		// [N,1,H,3] style shapes: prefer the colour reading.
		if dims[1] == 3 {
			return NCHW, nil
		}
		return NHWC, nil
	case at1 && !at3:
		return NCHW, nil
	case at3 && !at1:
		return NHWC, nil
	case at1 && at3:
		return "", fmt.Errorf("input shape %v is ambiguous between NCHW and NHWC; add metadata %s", dims, KeyInputLayout)
	}
	return "", fmt.Errorf("input shape %v has no channel dimension of size 3 or 1 at position 1 (NCHW) or 3 (NHWC)", dims)
}

// parseColor reads KeyInputColor.
func parseColor(v string) (ColorOrder, error) {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "", "RGB":
		return RGB, nil
	case "BGR":
		return BGR, nil
	}
	return "", fmt.Errorf("metadata %s=%q is not RGB or BGR", KeyInputColor, v)
}

// parseOutputKind reads KeyOutputKind.
func parseOutputKind(v string) (OutputKind, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "probabilities", "softmax":
		return Probabilities, nil
	case "logits":
		return Logits, nil
	}
	return "", fmt.Errorf("metadata %s=%q is not probabilities or logits", KeyOutputKind, v)
}

// parsePerChannel reads one number or three comma-separated numbers.
func parsePerChannel(key, v string, def float32) ([3]float32, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return [3]float32{def, def, def}, nil
	}
	parts := strings.Split(v, ",")
	if len(parts) != 1 && len(parts) != 3 {
		return [3]float32{}, fmt.Errorf("metadata %s=%q: want one number or three comma-separated numbers", key, v)
	}
	var out [3]float32
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return [3]float32{}, fmt.Errorf("metadata %s=%q: %q is not a finite number", key, v, p)
		}
		out[i] = float32(f)
	}
	if len(parts) == 1 {
		out[1], out[2] = out[0], out[0]
	}
	return out, nil
}

// parseLabelList splits the labels metadata value.
func parseLabelList(v string) ([]string, error) {
	parts := strings.Split(v, ",")
	labels := make([]string, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("metadata %s=%q: label %d is empty", KeyLabels, v, i)
		}
		labels = append(labels, p)
	}
	return labels, nil
}

// labelFileCandidates lists, in order of preference, where labels for a model
// without labels metadata may be.
func labelFileCandidates(modelPath string) []string {
	base := strings.TrimSuffix(modelPath, filepath.Ext(modelPath))
	return []string{base + ".labels", filepath.Join(filepath.Dir(modelPath), "labels.txt")}
}

// readLabelFile reads one label per line; blank lines are skipped.
func readLabelFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var labels []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			labels = append(labels, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("labels file %s has no labels (want one per line)", path)
	}
	return labels, nil
}
