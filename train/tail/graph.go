// Package tail fine-tunes the last layers of MobileNet-v2 with the head: the
// forward and backward pass of block_16 (1x1 expand, 3x3 depthwise, 1x1
// project), Conv_1 (1x1, ReLU6), the global average pool and the dense
// softmax head are written as one ONNX graph whose weights are graph inputs,
// so ONNX Runtime's GEMMs do the heavy arithmetic and a single session serves
// every training step. The optimiser, dropout masks, batching and early
// stopping stay in Go (Trainer).
//
// Layout: activations are NHWC; a 1x1 convolution over [N,S,S,C] is a
// MatMul of its [N*S*S, C] rows with a [C, C'] weight matrix (the TFLite OHWI
// weights transposed), and the depthwise 3x3 convolution (stride 1, SAME
// padding) is the sum of nine shifted slices of the padded input, each
// scaled per channel. Its backward pass is the same nine slices: the
// weight gradient sums slice x output gradient, the input gradient sums the
// padded output gradient's mirrored slices x weights.
package tail

import (
	"fmt"

	"github.com/rpscam/rpscam/internal/onnx"
)

// Dims are the tail's sizes: MobileNet-v2's are In 160, Expand 960,
// Project 320, Features 1280 on a 7x7 grid. Tests use tiny ones.
type Dims struct {
	Size     int // spatial size S of the S x S input grid
	In       int // channels of the cached trunk activation (block_16's input)
	Expand   int // block_16_expand output channels
	Project  int // block_16_project output channels (Conv_1's input)
	Features int // Conv_1 output channels = the pooled feature width
	Classes  int
}

// MobileNetV2 are the tail sizes of MobileNet-v2 1.0/224 with a 3-class head.
var MobileNetV2 = Dims{Size: 7, In: 160, Expand: 960, Project: 320, Features: 1280, Classes: 3}

func (d Dims) validate() error {
	if d.Size < 1 || d.In < 1 || d.Expand < 1 || d.Project < 1 || d.Features < 1 || d.Classes < 2 {
		return fmt.Errorf("tail dims %+v: every size must be positive and classes at least 2", d)
	}
	return nil
}

// Parameter names, in the order Params lists them. Weight matrices are
// [in, out] (x·W), the depthwise kernel is [9, channels] (row ky*3+kx).
const (
	ExpandW   = "expand_w"
	ExpandB   = "expand_b"
	DepthW    = "depthwise_w"
	DepthB    = "depthwise_b"
	ProjectW  = "project_w"
	ProjectB  = "project_b"
	Conv1W    = "conv1_w"
	Conv1B    = "conv1_b"
	HeadW     = "head_w"
	HeadB     = "head_b"
	inputX    = "x"
	inputY    = "onehot"
	inputWt   = "weight"
	inputMask = "mask"
	// Outputs.
	OutProbs  = "probs"
	OutPooled = "pooled"
	OutLoss   = "loss"
	gradOf    = "grad_"
)

// Block16Params and Conv1Params name the layers' tensors; HeadParams the head's.
var (
	Block16Params = []string{ExpandW, ExpandB, DepthW, DepthB, ProjectW, ProjectB}
	Conv1Params   = []string{Conv1W, Conv1B}
	HeadParams    = []string{HeadW, HeadB}
	AllParams     = append(append(append([]string{}, Block16Params...), Conv1Params...), HeadParams...)
)

// Shape returns the shape of parameter name.
func (d Dims) Shape(name string) []int64 {
	i := func(v ...int) []int64 {
		out := make([]int64, len(v))
		for k, x := range v {
			out[k] = int64(x)
		}
		return out
	}
	switch name {
	case ExpandW:
		return i(d.In, d.Expand)
	case ExpandB, DepthB:
		return i(d.Expand)
	case DepthW:
		return i(9, d.Expand)
	case ProjectW:
		return i(d.Expand, d.Project)
	case ProjectB:
		return i(d.Project)
	case Conv1W:
		return i(d.Project, d.Features)
	case Conv1B:
		return i(d.Features)
	case HeadW:
		return i(d.Features, d.Classes)
	case HeadB:
		return i(d.Classes)
	}
	return nil
}

// GradName is the output holding dLoss/d(param).
func GradName(param string) string { return gradOf + param }

// GraphOption changes what Build writes.
type GraphOption func(*graphConfig)

type graphConfig struct {
	train     bool
	trainable map[string]bool
	elem      onnx.DataType
}

// Training adds the loss and the gradients of the named parameters
// (block_16's are skipped when none of them is trainable, which also skips
// back-propagating into block_16). Without it the graph is inference only:
// probabilities and pooled features, no dropout.
func Training(trainable ...string) GraphOption {
	return func(c *graphConfig) {
		c.train = true
		c.trainable = map[string]bool{}
		for _, p := range trainable {
			c.trainable[p] = true
		}
	}
}

// Float64 writes the graph in double precision (for gradient checks).
func Float64() GraphOption { return func(c *graphConfig) { c.elem = onnxDouble } }

// onnxDouble is TensorProto.DOUBLE; package onnx writes no double
// initializers, so every float constant of the graph is an input instead.
const onnxDouble onnx.DataType = 11

// Constant inputs: fed by the caller (Session does it).
const (
	constZero = "c_zero"
	constSix  = "c_six"
	constArea = "c_inv_area" // 1/(S*S), the average pool's factor
)

type builder struct {
	g    onnx.Graph
	elem onnx.DataType
	seq  int
}

func (b *builder) op(op string, in []string, attrs ...onnx.Attr) string {
	b.seq++
	out := fmt.Sprintf("%s_%d", op, b.seq)
	b.g.Nodes = append(b.g.Nodes, onnx.Node{Name: out, Op: op, Inputs: in, Outputs: []string{out}, Attrs: attrs})
	return out
}

// named is op with a chosen output name.
func (b *builder) named(name, op string, in []string, attrs ...onnx.Attr) string {
	b.g.Nodes = append(b.g.Nodes, onnx.Node{Name: name, Op: op, Inputs: in, Outputs: []string{name}, Attrs: attrs})
	return name
}

func (b *builder) ints(name string, v ...int64) string {
	b.g.Initializers = append(b.g.Initializers, onnx.Tensor{Name: name, Type: onnx.Int64, Dims: []int64{int64(len(v))}, Int64: v})
	return name
}

func (b *builder) scalarInt(name string, v int64) string {
	b.g.Initializers = append(b.g.Initializers, onnx.Tensor{Name: name, Type: onnx.Int64, Int64: []int64{v}})
	return name
}

func (b *builder) input(name string, dims ...onnx.Dim) {
	b.g.Inputs = append(b.g.Inputs, onnx.ValueInfo{Name: name, Type: b.elem, Dims: dims})
}

func (b *builder) output(name string, dims ...onnx.Dim) {
	b.g.Outputs = append(b.g.Outputs, onnx.ValueInfo{Name: name, Type: b.elem, Dims: dims})
}

func (b *builder) mm(x, w string) string  { return b.op("MatMul", []string{x, w}) }
func (b *builder) add(x, y string) string { return b.op("Add", []string{x, y}) }
func (b *builder) mul(x, y string) string { return b.op("Mul", []string{x, y}) }
func (b *builder) reshape(x, shape string) string {
	return b.op("Reshape", []string{x, shape})
}
func (b *builder) relu6(x string) string {
	return b.op("Clip", []string{x, constZero, constSix})
}

// relu6Mask is 1 where ReLU6 passes its input's gradient (0 < z < 6), else 0.
func (b *builder) relu6Mask(z string) string {
	in := b.op("And", []string{b.op("Greater", []string{z, constZero}), b.op("Less", []string{z, constSix})})
	return b.op("Cast", []string{in}, onnx.AttrInt("to", int64(b.elem)))
}

// gemmT computes aᵀ·g: a weight gradient from [M,in] inputs and [M,out] output gradients.
func (b *builder) gemmT(a, g string) string {
	return b.op("Gemm", []string{a, g}, onnx.AttrInt("transA", 1))
}

// backT computes g·wᵀ: the input gradient of x·w.
func (b *builder) backT(g, w string) string {
	return b.op("Gemm", []string{g, w}, onnx.AttrInt("transB", 1))
}

func (b *builder) sumRows(g string) string {
	return b.op("ReduceSum", []string{g, "axes0"}, onnx.AttrInt("keepdims", 0))
}

// Build writes the tail graph for dims (see the package comment).
//
// Inputs: x [N,S,S,In]; every parameter (AllParams, shapes from Dims.Shape);
// the constants c_zero, c_six, c_inv_area (scalars); for training also
// onehot [N,Classes], weight [N,1] (each example's share of the loss: 1/N
// for a plain mean) and mask [N,Features] (inverted dropout: 0 or 1/(1-rate)).
// Outputs: probs [N,Classes] and pooled [N,Features]; for training also
// loss ([1,1], the weighted cross-entropy) and grad_<param> for each
// trainable parameter.
func Build(d Dims, opts ...GraphOption) (*onnx.Model, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	cfg := graphConfig{elem: onnx.Float32}
	for _, o := range opts {
		o(&cfg)
	}
	for p := range cfg.trainable {
		if d.Shape(p) == nil {
			return nil, fmt.Errorf("tail: %q is not a tail parameter (have %v)", p, AllParams)
		}
	}
	b := &builder{elem: cfg.elem}
	b.g.Name = "rpscam_tail"
	n := onnx.Dim{Param: "N"}
	S, area := int64(d.Size), int64(d.Size*d.Size)
	b.input(inputX, n, onnx.Dim{Value: S}, onnx.Dim{Value: S}, onnx.Dim{Value: int64(d.In)})
	for _, p := range AllParams {
		b.input(p, onnx.Dims(d.Shape(p)...)...)
	}
	b.input(constZero)
	b.input(constSix)
	b.input(constArea)
	b.ints("axes0", 0)
	b.ints("axes_nhw", 0, 1, 2)
	b.ints("rows_in", -1, int64(d.In))
	b.ints("rows_expand", -1, int64(d.Expand))
	b.ints("grid_expand", -1, S, S, int64(d.Expand))
	b.ints("pool_shape", -1, area, int64(d.Features))
	b.ints("rows_features", -1, int64(d.Features))
	b.ints("pooled_3d", -1, 1, int64(d.Features))
	b.ints("one_row", 1, int64(d.Expand))
	b.ints("pad_hw", 0, 1, 1, 0, 0, 1, 1, 0)
	b.ints("axes_hw", 1, 2)

	// Forward.
	a0 := b.reshape(inputX, "rows_in")                                      // [M,In]
	z1 := b.add(b.mm(a0, ExpandW), ExpandB)                                 // [M,E]
	a1 := b.relu6(z1)                                                       //
	padded := b.op("Pad", []string{b.reshape(a1, "grid_expand"), "pad_hw"}) // [N,S+2,S+2,E]
	slice := func(x string, ky, kx int) string {
		st := b.ints(fmt.Sprintf("start_%s_%d%d", x, ky, kx), int64(ky), int64(kx))
		en := b.ints(fmt.Sprintf("end_%s_%d%d", x, ky, kx), int64(ky)+S, int64(kx)+S)
		return b.op("Slice", []string{x, st, en, "axes_hw"})
	}
	tap := make([]string, 9) // depthwise kernel row k, [E]
	for k := range tap {
		tap[k] = b.op("Gather", []string{DepthW, b.scalarInt(fmt.Sprintf("tap%d", k), int64(k))}, onnx.AttrInt("axis", 0))
	}
	shifted := make([]string, 9)
	var z2 string
	for k := range 9 {
		shifted[k] = slice(padded, k/3, k%3)
		t := b.mul(shifted[k], tap[k])
		if z2 == "" {
			z2 = t
		} else {
			z2 = b.add(z2, t)
		}
	}
	z2 = b.add(z2, DepthB)                      // [N,S,S,E]
	a2 := b.reshape(b.relu6(z2), "rows_expand") // [M,E]
	z3 := b.add(b.mm(a2, ProjectW), ProjectB)   // [M,P], linear
	z4 := b.add(b.mm(z3, Conv1W), Conv1B)       // [M,F]
	a4 := b.relu6(z4)                           //
	pooled := b.named(OutPooled, "ReduceMean", []string{b.reshape(a4, "pool_shape")}, onnx.AttrInts("axes", 1), onnx.AttrInt("keepdims", 0))
	nd := onnx.Dim{Param: "N"}
	b.output(OutPooled, nd, onnx.Dim{Value: int64(d.Features)})

	if !cfg.train {
		logits := b.add(b.mm(pooled, HeadW), HeadB)
		b.named(OutProbs, "Softmax", []string{logits}, onnx.AttrInt("axis", 1))
		b.output(OutProbs, nd, onnx.Dim{Value: int64(d.Classes)})
		return &onnx.Model{Graph: b.g, ProducerName: "rpscam", DocString: "rpscam fine-tuning tail (inference)"}, nil
	}
	b.input(inputY, n, onnx.Dim{Value: int64(d.Classes)})
	b.input(inputWt, n, onnx.Dim{Value: 1})
	b.input(inputMask, n, onnx.Dim{Value: int64(d.Features)})
	dropped := b.mul(pooled, inputMask)
	logits := b.add(b.mm(dropped, HeadW), HeadB)
	logp := b.op("LogSoftmax", []string{logits}, onnx.AttrInt("axis", 1))
	probs := b.named(OutProbs, "Exp", []string{logp})
	b.output(OutProbs, nd, onnx.Dim{Value: int64(d.Classes)})
	// loss = -Σ weight·onehot·log p
	// Kept [1,1]: ONNX Runtime's Go binding cannot return a rank-0 output.
	nll := b.op("ReduceSum", []string{b.mul(b.mul(logp, inputY), inputWt)}, onnx.AttrInt("keepdims", 1))
	b.named(OutLoss, "Neg", []string{nll})
	b.output(OutLoss, onnx.Dim{Value: 1}, onnx.Dim{Value: 1})

	grad := func(param, value string) {
		if cfg.trainable[param] {
			b.named(GradName(param), "Identity", []string{value})
			b.output(GradName(param), onnx.Dims(d.Shape(param)...)...)
		}
	}
	// Head.
	dLogits := b.mul(b.op("Sub", []string{probs, inputY}), inputWt) // [N,K]
	grad(HeadW, b.gemmT(dropped, dLogits))
	grad(HeadB, b.sumRows(dLogits))
	trainConv1 := cfg.trainable[Conv1W] || cfg.trainable[Conv1B]
	trainBlock := false
	for _, p := range Block16Params {
		trainBlock = trainBlock || cfg.trainable[p]
	}
	if !trainConv1 && !trainBlock {
		return b.model(), nil
	}
	// Pool and Conv_1.
	dPooled := b.mul(b.backT(dLogits, HeadW), inputMask)                                    // [N,F]
	dA4 := b.mul(b.reshape(dPooled, "pooled_3d"), constArea)                                // [N,1,F]
	dZ4 := b.reshape(b.mul(b.reshape(b.relu6Mask(z4), "pool_shape"), dA4), "rows_features") // [M,F]
	grad(Conv1W, b.gemmT(z3, dZ4))
	grad(Conv1B, b.sumRows(dZ4))
	if !trainBlock {
		return b.model(), nil
	}
	// block_16: project (linear), depthwise, expand.
	dZ3 := b.backT(dZ4, Conv1W) // [M,P]
	grad(ProjectW, b.gemmT(a2, dZ3))
	grad(ProjectB, b.sumRows(dZ3))
	dA2 := b.backT(dZ3, ProjectW)                                                          // [M,E]
	dZ2 := b.reshape(b.mul(dA2, b.reshape(b.relu6Mask(z2), "rows_expand")), "grid_expand") // [N,S,S,E]
	if cfg.trainable[DepthW] {
		rows := make([]string, 9)
		for k := range 9 {
			s := b.op("ReduceSum", []string{b.mul(shifted[k], dZ2), "axes_nhw"}, onnx.AttrInt("keepdims", 1))
			rows[k] = b.reshape(s, "one_row")
		}
		grad(DepthW, b.op("Concat", rows, onnx.AttrInt("axis", 0)))
	}
	grad(DepthB, b.op("ReduceSum", []string{dZ2, "axes_nhw"}, onnx.AttrInt("keepdims", 0)))
	// dA1[y,x] = Σ_k dZ2[y+1-ky, x+1-kx]·w_k: the padded gradient's mirrored slices.
	dPad := b.op("Pad", []string{dZ2, "pad_hw"})
	var dA1 string
	for k := range 9 {
		t := b.mul(slice(dPad, 2-k/3, 2-k%3), tap[k])
		if dA1 == "" {
			dA1 = t
		} else {
			dA1 = b.add(dA1, t)
		}
	}
	dZ1 := b.mul(b.reshape(dA1, "rows_expand"), b.relu6Mask(z1)) // [M,E]
	grad(ExpandW, b.gemmT(a0, dZ1))
	grad(ExpandB, b.sumRows(dZ1))
	return b.model(), nil
}

func (b *builder) model() *onnx.Model {
	return &onnx.Model{Graph: b.g, ProducerName: "rpscam", DocString: "rpscam fine-tuning tail (loss and gradients)"}
}
