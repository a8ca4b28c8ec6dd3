// Package cvdnn runs rpscam's float model with OpenCV's own DNN module
// (cv::dnn, OpenCV 4.6 here) instead of ONNX Runtime, for rpscam bench
// --compare. OpenCV 4.6 cannot import the shipped graph as it is, so Export
// writes the form it reads; Classifier then takes frames exactly as
// infer.Classifier does (same preprocessing, same two steps).
package cvdnn

import (
	"errors"
	"fmt"
	"image"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/nn"
)

// outputName is the graph output Classifier reads.
const outputName = infer.ProbabilitiesName

// Classifier runs one model exported by Export on frames, in one call
// (Classify) or in two steps (Preprocess, then Infer), which may run
// concurrently with each other. For more parallel instances, see Another.
type Classifier struct {
	path     string
	model    []byte
	contract infer.Contract
	pre      *infer.Preprocessor
	net      *net
	blob     []float32 // the float NCHW input Infer fills
	out      []float32
	probs    []float32
	input    []byte // Classify's preprocessed frame
}

// Result is one frame's classification, the same type as infer's so that
// callers can hold either classifier behind one interface; Probs is the
// Classifier's own buffer, overwritten by the next call.
type Result = infer.Result

// Load reads a model written by Export into OpenCV's DNN module (CPU,
// OpenCV's own backend).
func Load(path string) (*Classifier, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := contractOf(path, data)
	if err != nil {
		return nil, err
	}
	return newClassifier(path, data, c)
}

func newClassifier(path string, data []byte, c infer.Contract) (*Classifier, error) {
	n, err := readONNX(data)
	if err != nil {
		return nil, fmt.Errorf("cvdnn: OpenCV cannot read %s: %w (is it a model written by cvdnn.Export?)", path, err)
	}
	pre, err := infer.NewPreprocessor(c)
	if err != nil {
		n.close()
		return nil, err
	}
	size := pre.Size()
	return &Classifier{path: path, model: data, contract: c, pre: pre, net: n,
		blob: make([]float32, size), out: make([]float32, len(c.Labels)), probs: make([]float32, len(c.Labels)), input: make([]byte, size)}, nil
}

// contractOf reads the exported model's input shape and metadata.
func contractOf(path string, data []byte) (infer.Contract, error) {
	bad := func(problem string) (infer.Contract, error) {
		return infer.Contract{}, fmt.Errorf("cvdnn: %s: %s; write it with cvdnn.Export from rpscam's float model", path, problem)
	}
	meta, err := metadata(data)
	if err != nil {
		return bad("not a readable ONNX file")
	}
	dims, err := inputDims(data)
	if err != nil || len(dims) != 4 || dims[1] != 3 || dims[2] < 1 || dims[3] < 1 {
		return bad(fmt.Sprintf("no float32 [1,3,H,W] input %s (dims %v)", inputName, dims))
	}
	if meta[infer.KeyInputLayout] != string(infer.NCHW) {
		return bad("its metadata does not say input_layout NCHW")
	}
	c := infer.Contract{InputName: inputName, OutputName: outputName, Element: infer.Float32, Layout: infer.NCHW,
		Color: infer.RGB, Channels: 3, Height: int(dims[2]), Width: int(dims[3]), OutputKind: infer.Probabilities, LabelSource: "metadata"}
	if meta[infer.KeyInputColor] == string(infer.BGR) {
		c.Color = infer.BGR
	}
	if meta[infer.KeyOutputKind] == string(infer.Logits) {
		c.OutputKind = infer.Logits
	}
	scale, err1 := strconv.ParseFloat(meta[infer.KeyInputScale], 32)
	offset, err2 := strconv.ParseFloat(meta[infer.KeyInputOffset], 32)
	if err1 != nil || err2 != nil {
		return bad("its metadata lacks a one-number input_scale and input_offset")
	}
	c.Scale = [3]float32{float32(scale), float32(scale), float32(scale)}
	c.Offset = [3]float32{float32(offset), float32(offset), float32(offset)}
	for _, l := range strings.Split(meta[infer.KeyLabels], ",") {
		if l = strings.TrimSpace(l); l != "" {
			c.Labels = append(c.Labels, l)
		}
	}
	if len(c.Labels) < 2 {
		return bad("its metadata names fewer than two labels")
	}
	return c, nil
}

// inputDims reads the dims of the graph input named inputName.
func inputDims(data []byte) ([]int64, error) {
	top, err := parseFields(data)
	if err != nil {
		return nil, err
	}
	for _, f := range top {
		if f.num != 7 {
			continue
		}
		gf, err := parseFields(f.body)
		if err != nil {
			return nil, err
		}
		for _, g := range gf {
			if g.num != 11 {
				continue
			}
			vi, _ := parseFields(g.body)
			var name string
			var typ []byte
			for _, v := range vi {
				if v.num == 1 {
					name = string(v.body)
				} else if v.num == 2 {
					typ = v.body
				}
			}
			if name == inputName {
				return tensorDims(typ)
			}
		}
	}
	return nil, fmt.Errorf("no input %s", inputName)
}

// Another loads one more instance of the same model, for parallel workers.
func (c *Classifier) Another() (*Classifier, error) {
	return newClassifier(c.path, c.model, c.contract)
}

// Labels are the class names in output order.
func (c *Classifier) Labels() []string { return slices.Clone(c.contract.Labels) }

// Contract is how the model is fed.
func (c *Classifier) Contract() infer.Contract { return c.contract }

// InputSize is the model's input width and height.
func (c *Classifier) InputSize() (w, h int) { return c.contract.Width, c.contract.Height }

// InputBytes is the size of one preprocessed frame (H*W*C uint8), as for
// infer.Classifier.
func (c *Classifier) InputBytes() int { return c.pre.Size() }

// Preprocess writes roi of bgr (zero: the model's centre crop), cropped,
// resized and in the model's channel order, into dst (InputBytes long):
// the same code and bytes as infer.Classifier.Preprocess.
func (c *Classifier) Preprocess(bgr gocv.Mat, roi image.Rectangle, dst []byte) error {
	if c.net == nil {
		return errClosed
	}
	return c.pre.IntoUint8(bgr, roi, dst)
}

var errClosed = errors.New("cvdnn: classifier used after Close")

// Infer runs the model on one preprocessed frame. Like infer.Classifier,
// the conversion to the float input tensor counts as inference.
func (c *Classifier) Infer(input []byte) (Result, error) {
	if c.net == nil {
		return Result{}, errClosed
	}
	if len(input) != len(c.blob) {
		return Result{}, fmt.Errorf("cvdnn: %d bytes of input, want %d (%dx%dx3)", len(input), len(c.blob), c.contract.Height, c.contract.Width)
	}
	start := time.Now()
	plane := len(input) / 3
	for k := 0; k < 3; k++ {
		s, o := c.contract.Scale[k], c.contract.Offset[k]
		dst := c.blob[k*plane : (k+1)*plane]
		for i := range dst {
			dst[i] = float32(input[i*3+k])*s + o
		}
	}
	got, err := c.net.forward(inputName, c.blob, 3, c.contract.Height, c.contract.Width, outputName, c.out)
	if err != nil {
		return Result{}, fmt.Errorf("cvdnn: running %s: %w", c.path, err)
	}
	if got != len(c.probs) {
		return Result{}, fmt.Errorf("cvdnn: %s gave %d outputs for %d labels", c.path, got, len(c.probs))
	}
	copy(c.probs, c.out)
	if c.contract.OutputKind == infer.Logits {
		nn.SoftmaxInPlace(c.probs)
	}
	res := Result{Probs: c.probs, Inference: time.Since(start), Top: nn.ArgmaxSkipNaN(c.probs)}
	if res.Top >= 0 {
		res.Label, res.Confidence = c.contract.Labels[res.Top], c.probs[res.Top]
	}
	return res, nil
}

// Classify preprocesses roi of bgr and runs the model on it.
func (c *Classifier) Classify(bgr gocv.Mat, roi image.Rectangle) (Result, error) {
	start := time.Now()
	if err := c.Preprocess(bgr, roi, c.input); err != nil {
		return Result{}, err
	}
	pre := time.Since(start)
	res, err := c.Infer(c.input)
	res.Preprocess = pre
	return res, err
}

// Close releases the network and the preprocessing Mats; it is safe to call
// more than once.
func (c *Classifier) Close() error {
	if c.net == nil {
		return nil
	}
	c.net.close()
	c.net = nil
	return c.pre.Close()
}
