// Package model turns the MobileNet-v2 TFLite weights into rpscam's models:
// it reads and dequantizes the TFLite file into float32 layers (Backbone),
// runs them in plain Go as a reference (Forward), writes them as an ONNX graph
// with an optional classification head (BuildONNX), and stores trained head
// parameters (Params, WriteParams, ReadParams).
package model

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/internal/tflite"
)

// Weights identifies one of the known MobileNet-v2 TFLite files.
type Weights struct {
	Name   string // short name used on the command line
	File   string // file name under <shared>/models/mobilenet_v2/
	SHA256 string
	About  string
}

// The two MobileNet-v2 1.0/224 files in ../shared/models/mobilenet_v2.
var (
	// WeightsTF2 is the default: TF-Hub's TF2 MobileNet-v2 post-training
	// quantized to int8 with one scale per output channel. Its dequantized
	// weights are the float weights (those of the TF-Hub feature vector the
	// TensorFlow transfer-learning tutorial used) rounded to at most half a
	// per-channel step, measured several times finer than the TF-slim file's
	// single per-tensor scale (see models/README.md).
	WeightsTF2 = Weights{
		Name:   "tf2",
		File:   "tf2_mobilenet_v2_1.0_224_ptq.tflite",
		SHA256: "5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c",
		About:  "TF2, post-training quantized, int8 weights with one scale per output channel",
	}
	// WeightsSlim is TF-slim's quantization-aware-trained model: uint8
	// weights with one scale per tensor, trained to be accurate at that precision.
	WeightsSlim = Weights{
		Name:   "slim",
		File:   "mobilenet_v2_1.0_224_quant.tflite",
		SHA256: "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776",
		About:  "TF-slim, quantization-aware trained, uint8 weights with one scale per tensor",
	}
)

// KnownWeights lists the supported files, default first.
func KnownWeights() []Weights { return []Weights{WeightsTF2, WeightsSlim} }

// WeightsByName returns the known file called name ("tf2" or "slim").
func WeightsByName(name string) (Weights, error) {
	var names []string
	for _, w := range KnownWeights() {
		if w.Name == name {
			return w, nil
		}
		names = append(names, w.Name)
	}
	return Weights{}, fmt.Errorf("unknown weights %q: choose one of %s", name, strings.Join(names, ", "))
}

// DefaultTFLitePath is where the default weights live under the shared folder.
func DefaultTFLitePath(sharedDir string, w Weights) string {
	return filepath.Join(sharedDir, "models", "mobilenet_v2", w.File)
}

// Input geometry of MobileNet-v2 1.0/224.
const (
	InputSize    = 224
	InputColours = 3
	FeatureSize  = 1280
)

// LayerKind is what a backbone layer computes.
type LayerKind int

const (
	// Conv is a 2-D convolution (OHWI weights), with batch norm folded in.
	Conv LayerKind = iota
	// Depthwise is a depthwise convolution ([1,K,K,C] weights, multiplier 1).
	Depthwise
	// Add sums two earlier outputs: a residual connection.
	Add
)

func (k LayerKind) String() string {
	switch k {
	case Conv:
		return "conv"
	case Depthwise:
		return "depthwise"
	case Add:
		return "add"
	}
	return fmt.Sprintf("LayerKind(%d)", int(k))
}

// ImageInput is the Inputs value that stands for the normalised image.
const ImageInput = -1

// Layer is one dequantized layer of the backbone.
type Layer struct {
	// Name follows Keras' MobileNetV2: Conv1, expanded_conv_depthwise,
	// expanded_conv_project, block_1_expand ... block_16_project, Conv_1,
	// and block_N_add for residual sums.
	Name string
	Kind LayerKind
	// Inputs are indices of earlier layers whose outputs this layer reads
	// (ImageInput for the image): one for convolutions, two for Add.
	Inputs []int
	Kernel int // square kernel size (convolutions)
	Stride int // 1 or 2; padding is TensorFlow SAME
	// InChannels/OutChannels and InSize/OutSize (square spatial size at the
	// 224x224 input) describe the tensors around the layer.
	InChannels, OutChannels int
	InSize, OutSize         int
	// Weights are OHWI [Out][K][K][In] for Conv and [1][K][K][C] for
	// Depthwise; Bias is per output channel. Both are float32 dequantized
	// from the TFLite file: w = (q - zero_point) * scale, bias = q * scale
	// (scale = input scale * weight scale, per channel where the file is).
	Weights []float32
	Bias    []float32
	ReLU6   bool // followed by min(max(x, 0), 6)
	// TFLiteTensor is the weight tensor's name in the source file.
	TFLiteTensor string
}

// ParamCount is the number of weights and biases.
func (l *Layer) ParamCount() int { return len(l.Weights) + len(l.Bias) }

// Apply runs the layer on its inputs (as listed in Inputs) with package nn.
func (l *Layer) Apply(inputs ...*nn.Tensor) (*nn.Tensor, error) {
	if len(inputs) != len(l.Inputs) {
		return nil, fmt.Errorf("layer %s takes %d inputs, got %d", l.Name, len(l.Inputs), len(inputs))
	}
	switch l.Kind {
	case Conv:
		c := nn.Conv2D{Weights: l.Weights, Bias: l.Bias, Out: l.OutChannels, In: l.InChannels,
			KernelH: l.Kernel, KernelW: l.Kernel, StrideH: l.Stride, StrideW: l.Stride, Padding: nn.Same, ReLU6: l.ReLU6}
		return c.Forward(inputs[0])
	case Depthwise:
		d := nn.DepthwiseConv2D{Weights: l.Weights, Bias: l.Bias, Channels: l.InChannels, Multiplier: 1,
			KernelH: l.Kernel, KernelW: l.Kernel, StrideH: l.Stride, StrideW: l.Stride, Padding: nn.Same, ReLU6: l.ReLU6}
		return d.Forward(inputs[0])
	case Add:
		y, err := nn.Add(inputs[0], inputs[1])
		if err == nil && l.ReLU6 {
			nn.ReLU6(y)
		}
		return y, err
	}
	return nil, fmt.Errorf("layer %s: unknown kind %v", l.Name, l.Kind)
}

// Backbone is MobileNet-v2 up to the 1280-wide global average pool, plus the
// ImageNet classifier the file carries.
type Backbone struct {
	Layers []Layer
	// ImageNet is the 1x1 convolution 1280 -> 1001 ImageNet classes (class 0
	// is "background"), kept to verify the conversion, not for rpscam's use.
	ImageNet *Layer
	Source   Source
}

// Source records where the weights came from.
type Source struct {
	Path    string
	File    string // base name
	SHA256  string
	Weights Weights // the known file it matched (zero if allowUnknownFile)
	// InputScale and InputZeroPoint are the file's own input quantization;
	// rpscam normalises with x/127.5-1 instead (what the float network was
	// trained with), within half a step of either file's mapping.
	InputScale     float32
	InputZeroPoint int64
}

// LayerIndex returns the index of the layer called name, or -1.
func (b *Backbone) LayerIndex(name string) int {
	for i := range b.Layers {
		if b.Layers[i].Name == name {
			return i
		}
	}
	return -1
}

// ParamCount counts the backbone's weights and biases, without the ImageNet
// classifier: 2,206,816 for these files. Batch norm is folded into one bias
// per channel, so Keras's count (4 numbers per channel) is 3 x 17,056
// higher; ../shared/README.md adds the 2 input-normalisation constants.
func (b *Backbone) ParamCount() int {
	n := 0
	for i := range b.Layers {
		n += b.Layers[i].ParamCount()
	}
	return n
}

// LoadOption changes how LoadBackbone reads a file.
type LoadOption func(*loadConfig)

type loadConfig struct{ allowUnknown bool }

// allowUnknownFile accepts a TFLite file whose sha256 is not one of
// KnownWeights, for experimenting with other MobileNet-v2 exports; the
// structure is still checked layer by layer.
func allowUnknownFile() LoadOption { return func(c *loadConfig) { c.allowUnknown = true } }

// ErrUnknownFile is returned for a TFLite file with an unexpected checksum.
var ErrUnknownFile = errors.New("unknown TFLite file")

// LoadBackbone reads a MobileNet-v2 1.0/224 TFLite file and dequantizes it.
func LoadBackbone(tflitePath string, opts ...LoadOption) (*Backbone, error) {
	var cfg loadConfig
	for _, o := range opts {
		o(&cfg)
	}
	m, err := tflite.ReadFile(tflitePath)
	if err != nil {
		return nil, err
	}
	b := &Backbone{Source: Source{Path: tflitePath, File: filepath.Base(tflitePath), SHA256: m.SHA256}}
	for _, w := range KnownWeights() {
		if w.SHA256 == m.SHA256 {
			b.Source.Weights = w
		}
	}
	if b.Source.Weights.Name == "" && !cfg.allowUnknown {
		return nil, fmt.Errorf("%w: %s has sha256 %s, expected one of %s (%s) or %s (%s): use the files from ../shared/models/mobilenet_v2",
			ErrUnknownFile, tflitePath, m.SHA256, WeightsTF2.SHA256, WeightsTF2.File, WeightsSlim.SHA256, WeightsSlim.File)
	}
	if err := b.fromTFLite(m); err != nil {
		return nil, fmt.Errorf("%s: %w", tflitePath, err)
	}
	return b, nil
}

func (b *Backbone) fromTFLite(m *tflite.Model) error {
	if len(m.Inputs) != 1 {
		return fmt.Errorf("model has %d inputs, MobileNet-v2 has 1", len(m.Inputs))
	}
	in := m.Tensors[m.Inputs[0]]
	if len(in.Shape) != 4 || in.Shape[1] != InputSize || in.Shape[2] != InputSize || in.Shape[3] != InputColours {
		return fmt.Errorf("input %q has shape %v, want [1,%d,%d,%d]", in.Name, in.Shape, InputSize, InputSize, InputColours)
	}
	if q := in.Quantization; q != nil && len(q.Scale) == 1 && len(q.ZeroPoint) == 1 {
		b.Source.InputScale, b.Source.InputZeroPoint = q.Scale[0], q.ZeroPoint[0]
	}
	// producer maps a tensor to the layer that computes it (ImageInput for the image).
	producer := map[int]int{m.Inputs[0]: ImageInput}
	size := func(l int) int {
		if l == ImageInput {
			return InputSize
		}
		return b.Layers[l].OutSize
	}
	channels := func(l int) int {
		if l == ImageInput {
			return InputColours
		}
		return b.Layers[l].OutChannels
	}
	pooled := -1 // tensor index of the global average pool's output
	for i, op := range m.Operators {
		where := fmt.Sprintf("operator %d (%v)", i, op.Builtin)
		src := func(k int) (int, error) {
			if k >= len(op.Inputs) {
				return 0, fmt.Errorf("%s: missing input %d", where, k)
			}
			p, ok := producer[op.Inputs[k]]
			if !ok {
				return 0, fmt.Errorf("%s: input tensor %q is computed by nothing this converter understands", where, m.Tensors[op.Inputs[k]].Name)
			}
			return p, nil
		}
		switch op.Builtin {
		case tflite.OpQuantize, tflite.OpDequantize:
			// Requantization only changes the integer encoding; in float it is the identity.
			if pooled >= 0 {
				continue // the classifier's output encoding
			}
			p, err := src(0)
			if err != nil {
				return err
			}
			producer[op.Outputs[0]] = p
		case tflite.OpConv2D, tflite.OpDepthwiseConv2D:
			if pooled >= 0 {
				if b.ImageNet != nil || len(op.Inputs) < 2 || op.Inputs[0] != pooled {
					return fmt.Errorf("%s: only one classifier after the pool is expected", where)
				}
				l, err := convLayer(m, op, FeatureSize, 1)
				if err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
				l.Name, l.OutSize = "Logits", 1
				b.ImageNet = &l
				continue
			}
			p, err := src(0)
			if err != nil {
				return err
			}
			l, err := convLayer(m, op, channels(p), size(p))
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			l.Inputs = []int{p}
			if out := m.Tensors[op.Outputs[0]].Shape; len(out) != 4 || out[1] != l.OutSize || out[3] != l.OutChannels {
				return fmt.Errorf("%s: output shape %v, computed [1,%d,%d,%d]", where, out, l.OutSize, l.OutSize, l.OutChannels)
			}
			producer[op.Outputs[0]] = len(b.Layers)
			b.Layers = append(b.Layers, l)
		case tflite.OpAdd:
			p0, err := src(0)
			if err != nil {
				return err
			}
			p1, err := src(1)
			if err != nil {
				return err
			}
			if size(p0) != size(p1) || channels(p0) != channels(p1) {
				return fmt.Errorf("%s: adds %dx%dx%d to %dx%dx%d", where, size(p0), size(p0), channels(p0), size(p1), size(p1), channels(p1))
			}
			act := op.Options.Activation
			if act != tflite.ActNone && act != tflite.ActRelu6 {
				return fmt.Errorf("%s: fused activation %v is not supported", where, act)
			}
			producer[op.Outputs[0]] = len(b.Layers)
			b.Layers = append(b.Layers, Layer{Kind: Add, Inputs: []int{p0, p1}, InChannels: channels(p0), OutChannels: channels(p0),
				InSize: size(p0), OutSize: size(p0), ReLU6: act == tflite.ActRelu6})
		case tflite.OpAveragePool2D, tflite.OpMean:
			p, err := src(0)
			if err != nil {
				return err
			}
			if p != len(b.Layers)-1 || size(p) != 7 || channels(p) != FeatureSize {
				return fmt.Errorf("%s: expected the global pool over the last 7x7x%d layer", where, FeatureSize)
			}
			if op.Builtin == tflite.OpAveragePool2D && (op.Options.FilterW != 7 || op.Options.FilterH != 7) {
				return fmt.Errorf("%s: pool window %dx%d is not global", where, op.Options.FilterW, op.Options.FilterH)
			}
			pooled = op.Outputs[0]
		case tflite.OpReshape, tflite.OpSqueeze, tflite.OpSoftmax:
			if pooled < 0 {
				return fmt.Errorf("%s: unexpected before the global pool", where)
			}
		default:
			return fmt.Errorf("%s: operator not supported: this converter reads MobileNet-v2 1.0/224 files only", where)
		}
	}
	if pooled < 0 {
		return errors.New("no global average pool found: not a MobileNet-v2 classifier")
	}
	return b.nameLayers()
}

// nameLayers checks the MobileNet-v2 layer sequence and gives the layers
// Keras' names, so that fine-tuned parameters can refer to them whichever
// file they came from.
func (b *Backbone) nameLayers() error {
	var convs []int
	nAdd := 0
	for i := range b.Layers {
		if b.Layers[i].Kind == Add {
			nAdd++
		} else {
			convs = append(convs, i)
		}
	}
	// Conv1, (depthwise, project), 16 x (expand, depthwise, project), Conv_1.
	const blocks = 17
	if len(convs) != 1+2+3*(blocks-1)+1 || nAdd != 10 {
		return fmt.Errorf("found %d convolutions and %d adds before the pool; MobileNet-v2 has %d and 10", len(convs), nAdd, 1+2+3*(blocks-1)+1)
	}
	var names []string
	var kinds []LayerKind
	names, kinds = append(names, "Conv1", "expanded_conv_depthwise", "expanded_conv_project"), append(kinds, Conv, Depthwise, Conv)
	for blk := 1; blk < blocks; blk++ {
		p := fmt.Sprintf("block_%d_", blk)
		names = append(names, p+"expand", p+"depthwise", p+"project")
		kinds = append(kinds, Conv, Depthwise, Conv)
	}
	names, kinds = append(names, "Conv_1"), append(kinds, Conv)
	block := 0
	for k, li := range convs {
		l := &b.Layers[li]
		if l.Kind != kinds[k] {
			return fmt.Errorf("layer %d is a %v where MobileNet-v2 has a %v (%s)", li, l.Kind, kinds[k], names[k])
		}
		l.Name = names[k]
		if strings.HasSuffix(l.Name, "_project") {
			if strings.HasPrefix(l.Name, "block_") {
				block++
			}
			if l.ReLU6 {
				return fmt.Errorf("%s has an activation; MobileNet-v2's projections are linear", l.Name)
			}
			// A residual sum follows the projection directly.
			if li+1 < len(b.Layers) && b.Layers[li+1].Kind == Add {
				b.Layers[li+1].Name = fmt.Sprintf("block_%d_add", block)
			}
		}
	}
	for i := range b.Layers {
		if b.Layers[i].Name == "" {
			return fmt.Errorf("residual add at layer %d does not follow a projection", i)
		}
	}
	if last := b.Layers[len(b.Layers)-1]; last.Name != "Conv_1" || last.OutChannels != FeatureSize {
		return fmt.Errorf("last layer %s has %d channels, want Conv_1 with %d", last.Name, last.OutChannels, FeatureSize)
	}
	return nil
}

func convLayer(m *tflite.Model, op tflite.Operator, inChannels, inSize int) (Layer, error) {
	if len(op.Inputs) < 2 {
		return Layer{}, errors.New("no weights")
	}
	o := op.Options
	if o.StrideW != o.StrideH || o.StrideW < 1 {
		return Layer{}, fmt.Errorf("stride %dx%d: only equal strides are supported", o.StrideW, o.StrideH)
	}
	if o.DilationW > 1 || o.DilationH > 1 {
		return Layer{}, fmt.Errorf("dilation %dx%d is not supported", o.DilationW, o.DilationH)
	}
	if o.Padding != tflite.Same {
		return Layer{}, fmt.Errorf("padding %v: MobileNet-v2 uses SAME", o.Padding)
	}
	if o.Activation != tflite.ActNone && o.Activation != tflite.ActRelu6 {
		return Layer{}, fmt.Errorf("fused activation %v is not supported", o.Activation)
	}
	wt := m.Tensors[op.Inputs[1]]
	if len(wt.Shape) != 4 || wt.Shape[1] != wt.Shape[2] {
		return Layer{}, fmt.Errorf("weights %q have shape %v, want a square 4-D kernel", wt.Name, wt.Shape)
	}
	l := Layer{Kind: Conv, Kernel: wt.Shape[1], Stride: o.StrideW, InChannels: inChannels, InSize: inSize,
		ReLU6: o.Activation == tflite.ActRelu6, TFLiteTensor: wt.Name}
	if op.Builtin == tflite.OpDepthwiseConv2D {
		l.Kind = Depthwise
		if o.DepthMultiplier > 1 || wt.Shape[0] != 1 || wt.Shape[3] != inChannels {
			return Layer{}, fmt.Errorf("depthwise weights %v with multiplier %d on %d channels: only multiplier 1 is supported", wt.Shape, o.DepthMultiplier, inChannels)
		}
		l.OutChannels = inChannels
	} else {
		if wt.Shape[3] != inChannels {
			return Layer{}, fmt.Errorf("weights %q expect %d input channels, the input has %d", wt.Name, wt.Shape[3], inChannels)
		}
		l.OutChannels = wt.Shape[0]
	}
	l.OutSize, _, _ = nn.Same.Pads(inSize, l.Kernel, l.Stride)
	var err error
	if l.Weights, err = dequantize(m, op.Inputs[1]); err != nil {
		return Layer{}, err
	}
	if len(op.Inputs) > 2 && op.Inputs[2] >= 0 {
		if l.Bias, err = dequantize(m, op.Inputs[2]); err != nil {
			return Layer{}, err
		}
		if len(l.Bias) != l.OutChannels {
			return Layer{}, fmt.Errorf("bias has %d values for %d channels", len(l.Bias), l.OutChannels)
		}
		if err := checkBiasScale(m, op); err != nil {
			return Layer{}, err
		}
	} else {
		l.Bias = make([]float32, l.OutChannels)
	}
	return l, nil
}

// checkBiasScale confirms that the int32 bias's scale is input scale x
// weight scale, as TFLite's quantization spec requires: if it is not, this
// reader has misread the quantization and the float model would be wrong.
func checkBiasScale(m *tflite.Model, op tflite.Operator) error {
	in, w, bias := m.Tensors[op.Inputs[0]].Quantization, m.Tensors[op.Inputs[1]].Quantization, m.Tensors[op.Inputs[2]].Quantization
	if in == nil || w == nil || bias == nil || len(in.Scale) != 1 {
		return nil // float tensors: nothing to check
	}
	for c, bs := range bias.Scale {
		ws := w.Scale[0]
		if len(w.Scale) > 1 {
			if c >= len(w.Scale) {
				return fmt.Errorf("bias has %d scales, weights %d", len(bias.Scale), len(w.Scale))
			}
			ws = w.Scale[c]
		}
		want := float64(in.Scale[0]) * float64(ws)
		if math.Abs(float64(bs)-want) > 1e-3*want {
			return fmt.Errorf("bias scale %g for channel %d, but input scale x weight scale is %g", bs, c, want)
		}
	}
	return nil
}

// dequantize returns tensor ti as float32: (q - zero_point) * scale, with
// scale and zero point per slice along the quantized dimension when the file
// has one per channel.
func dequantize(m *tflite.Model, ti int) ([]float32, error) {
	t := m.Tensors[ti]
	data := m.Buffers[t.Buffer]
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	if es := t.Type.Size(); es == 0 || len(data) != n*es {
		return nil, fmt.Errorf("tensor %q: %d bytes of %v for shape %v", t.Name, len(data), t.Type, t.Shape)
	}
	raw := make([]float64, n)
	switch t.Type {
	case tflite.Float32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le32(data[4*i:]))
		}
		return out, nil
	case tflite.Uint8:
		for i, v := range data {
			raw[i] = float64(v)
		}
	case tflite.Int8:
		for i, v := range data {
			raw[i] = float64(int8(v))
		}
	case tflite.Int32:
		for i := range raw {
			raw[i] = float64(int32(le32(data[4*i:])))
		}
	default:
		return nil, fmt.Errorf("tensor %q: type %v cannot be dequantized", t.Name, t.Type)
	}
	q := t.Quantization
	if q == nil {
		return nil, fmt.Errorf("tensor %q: %v without quantization parameters", t.Name, t.Type)
	}
	// inner is the number of consecutive elements sharing one channel index.
	channels, inner := 1, 1
	if len(q.Scale) > 1 {
		if q.QuantizedDimension < 0 || q.QuantizedDimension >= len(t.Shape) || t.Shape[q.QuantizedDimension] != len(q.Scale) {
			return nil, fmt.Errorf("tensor %q: %d scales along dimension %d of shape %v", t.Name, len(q.Scale), q.QuantizedDimension, t.Shape)
		}
		channels = len(q.Scale)
		for _, d := range t.Shape[q.QuantizedDimension+1:] {
			inner *= d
		}
	}
	out := make([]float32, n)
	for i, v := range raw {
		c := (i / inner) % channels
		var zp int64
		if len(q.ZeroPoint) == len(q.Scale) {
			zp = q.ZeroPoint[c]
		} else if len(q.ZeroPoint) > 0 {
			zp = q.ZeroPoint[0]
		}
		out[i] = float32((v - float64(zp)) * float64(q.Scale[c]))
	}
	return out, nil
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
