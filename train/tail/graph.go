// Package tail fine-tunes the last layers of MobileNet-v2 with the head: the
// forward and backward pass of block_16 (1x1 expand, 3x3 depthwise, 1x1
// project), optionally of the residual blocks before it (block_15, ...: the
// same three layers, projecting back to the block's input width, plus the
// skip sum) and of the stride-2 block_13 before those, Conv_1 (1x1, ReLU6),
// the global average pool and the dense
// softmax head are written as one ONNX graph whose weights are graph inputs,
// so ONNX Runtime's GEMMs do the heavy arithmetic and a single session serves
// every training step. The optimiser, dropout masks, batching and early
// stopping stay in Go (Fit).
//
// Layout: activations are NHWC; a 1x1 convolution over [N,S,S,C] is a
// MatMul of its [N*S*S, C] rows with a [C, C'] weight matrix (the TFLite OHWI
// weights transposed), and the depthwise 3x3 convolution (SAME padding)
// multiplies each channel's S*S cells by a banded S*S x S*S matrix made from
// its nine weights (declareTaps; 4S*S x S*S at stride 2), all channels in one
// batched MatMul; its backward pass is two more (input gradient: by the
// transposed band; band gradient, folded back onto the nine taps).
package tail

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/rpscam/rpscam/internal/onnx"
)

// Dims are the tail's sizes: MobileNet-v2's are In 160, Expand 960,
// Project 320, Features 1280 on a 7x7 grid. Tests use tiny ones.
type Dims struct {
	Size     int // spatial size S of the S x S input grid
	In       int // channels of the cached trunk activation (the tail's input)
	Expand   int // expand output channels (block_16 and the residual blocks)
	Project  int // block_16_project output channels (Conv_1's input)
	Features int // Conv_1 output channels = the pooled feature width
	Classes  int
	// Residual is how many residual blocks (In -> Expand -> In, added to
	// their input) run before block_16: 0, the tail starts at block_15_add;
	// 1, it computes block_15 from block_14_add; MobileNet-v2 has 2 such
	// blocks at the 7x7 grid (block_14, block_15).
	Residual int
	// DownIn and DownExpand, when DownIn is above 0, put a downsampling
	// block before the residual ones (MobileNet-v2's block_13: 96 -> 576 ->
	// 160): expand DownIn -> DownExpand on the 2S x 2S grid the input then
	// has, depthwise 3x3 stride 2 down to S x S, project to In, no skip sum.
	DownIn, DownExpand int
	// PreResidual is how many residual blocks (DownIn -> DownExpand ->
	// DownIn on the 2S x 2S grid, added to their input) run before the
	// downsampling block: MobileNet-v2 has 2 (block_11, block_12); 1
	// computes block_12 from block_11_add. It needs a downsampling block.
	PreResidual int
}

// down reports whether the tail starts with a downsampling block.
func (d Dims) down() bool { return d.DownIn > 0 }

// InputSide is the side of the input grid: 2S below a downsampling block.
func (d Dims) InputSide() int {
	if d.down() {
		return 2 * d.Size
	}
	return d.Size
}

// InputChannels is the width of the tail's input.
func (d Dims) InputChannels() int {
	if d.down() {
		return d.DownIn
	}
	return d.In
}

// InputLen is the number of values of one example's input activation.
func (d Dims) InputLen() int { return d.InputSide() * d.InputSide() * d.InputChannels() }

// mobileNetV2 are the tail sizes of MobileNet-v2 1.0/224 with a 3-class head.
var mobileNetV2 = Dims{Size: 7, In: 160, Expand: 960, Project: 320, Features: 1280, Classes: 3}

func (d Dims) validate() error {
	if d.Size < 1 || d.In < 1 || d.Expand < 1 || d.Project < 1 || d.Features < 1 || d.Classes < 2 || d.Residual < 0 {
		return fmt.Errorf("tail dims %+v: every size must be positive, classes at least 2 and residual blocks 0 or more", d)
	}
	if d.DownIn < 0 || (d.DownIn > 0) != (d.DownExpand > 0) {
		return fmt.Errorf("tail dims %+v: a downsampling block needs both DownIn and DownExpand positive (or both 0 for none)", d)
	}
	if d.PreResidual < 0 || (d.PreResidual > 0 && !d.down()) {
		return fmt.Errorf("tail dims %+v: residual blocks before the downsampling block need one (DownIn, DownExpand)", d)
	}
	return nil
}

// Parameter names, in the order Params lists them. Weight matrices are
// [in, out] (x·W), the depthwise kernel is [9, channels] (row ky*3+kx).
const (
	expandW   = "expand_w"
	expandB   = "expand_b"
	depthW    = "depthwise_w"
	depthB    = "depthwise_b"
	projectW  = "project_w"
	projectB  = "project_b"
	conv1W    = "conv1_w"
	conv1B    = "conv1_b"
	HeadW     = "head_w"
	HeadB     = "head_b"
	inputX    = "x"
	inputY    = "onehot"
	inputWt   = "weight"
	inputMask = "mask"
	// Outputs.
	outProbs  = "probs"
	outPooled = "pooled"
	outLoss   = "loss"
	gradOf    = "grad_"
	// residualPrefix starts residual block r's parameter names: res0_expand_w.
	residualPrefix = "res"
	// downPrefix starts the downsampling block's: down_expand_w.
	downPrefix = "down_"
	// prePrefix starts the names of residual block r before the
	// downsampling block: pre0_expand_w.
	prePrefix = "pre"
)

// block16Params and conv1Params name the layers' tensors; headParams the head's.
var (
	block16Params = []string{expandW, expandB, depthW, depthB, projectW, projectB}
	conv1Params   = []string{conv1W, conv1B}
	headParams    = []string{HeadW, HeadB}
	// allParams are the parameters of a tail without residual blocks.
	allParams = append(append(append([]string{}, block16Params...), conv1Params...), headParams...)
)

// downParams names the downsampling block's tensors, in block16Params' order.
var downParams = blockParamsPrefixed(downPrefix)

// residualParams names residual block r's tensors (r = 0 is the first the
// tail computes), in block16Params' order.
func residualParams(r int) []string {
	return blockParamsPrefixed(residualPrefix + strconv.Itoa(r) + "_")
}

// preResidualParams names the tensors of residual block r on the 2S x 2S
// grid (r = 0 is the first the tail computes), in block16Params' order.
func preResidualParams(r int) []string {
	return blockParamsPrefixed(prePrefix + strconv.Itoa(r) + "_")
}

// blockParamsPrefixed is block16Params with prefix before each name.
func blockParamsPrefixed(prefix string) []string {
	out := make([]string, len(block16Params))
	for i, base := range block16Params {
		out[i] = prefix + base
	}
	return out
}

// stage is one inverted-residual block the tail computes: the backbone's
// block it stands for, its tensors' names, its widths (in -> expand ->
// out), the geometry of its depthwise convolution and whether its output is
// summed with its input (block_N_add). Every walk over the tail's blocks
// (parameter names and shapes, the graph forward and backward, reading and
// writing backbone layers) goes through Dims.stages.
type stage struct {
	backbone        string // e.g. "block_14"
	params          block
	in, expand, out int
	geom            geometry
	skip            bool
}

// stages lists the tail's blocks in the order it computes them: the
// residual blocks on the 2S x 2S grid, the downsampling block, the residual
// blocks on the S x S grid, block_16.
func (d Dims) stages() []stage {
	var out []stage
	for r := 0; r < d.PreResidual; r++ {
		out = append(out, stage{preResidualBlockName(r, d.PreResidual), blockOf(preResidualParams(r)), d.DownIn, d.DownExpand, d.DownIn, stride1Wide, true})
	}
	if d.down() {
		// block_13 narrows to the residual width and halves the grid.
		out = append(out, stage{downBlock, blockOf(downParams), d.DownIn, d.DownExpand, d.In, stride2, false})
	}
	for r := 0; r < d.Residual; r++ {
		out = append(out, stage{residualBlockName(r, d.Residual), blockOf(residualParams(r)), d.In, d.Expand, d.In, stride1, true})
	}
	return append(out, stage{"block_16", blockOf(block16Params), d.In, d.Expand, d.Project, stride1, false})
}

// downsamples says whether the stage's depthwise convolution has stride 2
// (block_13: the grid halves), as its geometry says.
func (st stage) downsamples() bool { return st.geom == stride2 }

// shapes are the stage's tensor shapes, in block.params' order.
func (st stage) shapes() [][]int64 {
	in, e, out := int64(st.in), int64(st.expand), int64(st.out)
	return [][]int64{{in, e}, {e}, {9, e}, {e}, {e, out}, {out}}
}

// ParamNames lists every parameter of the tail: each stage's, then
// Conv_1's and the head's.
func (d Dims) ParamNames() []string {
	var out []string
	for _, st := range d.stages() {
		out = append(out, st.params.params()...)
	}
	return append(append(out, conv1Params...), headParams...)
}

// Shape returns the shape of parameter name (nil for a name the tail does
// not have).
func (d Dims) Shape(name string) []int64 {
	for _, st := range d.stages() {
		if i := slices.Index(st.params.params(), name); i >= 0 {
			return st.shapes()[i]
		}
	}
	switch name {
	case conv1W:
		return []int64{int64(d.Project), int64(d.Features)}
	case conv1B:
		return []int64{int64(d.Features)}
	case HeadW:
		return []int64{int64(d.Features), int64(d.Classes)}
	case HeadB:
		return []int64{int64(d.Classes)}
	}
	return nil
}

// gradName is the output holding dLoss/d(param).
func gradName(param string) string { return gradOf + param }

// graphOption changes what build writes.
type graphOption func(*graphConfig)

type graphConfig struct {
	train     bool
	trainable map[string]bool
	elem      onnx.DataType
}

// training adds the loss and the gradients of the named parameters; frozen
// layers below the lowest trainable one are not back-propagated into.
// Without it the graph is inference only: probabilities and pooled
// features, no dropout.
func training(trainable ...string) graphOption {
	return func(c *graphConfig) {
		c.train = true
		c.trainable = map[string]bool{}
		for _, p := range trainable {
			c.trainable[p] = true
		}
	}
}

// withFloat64 writes the graph in double precision (for gradient checks).
func withFloat64() graphOption { return func(c *graphConfig) { c.elem = onnxDouble } }

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

// relu6Back passes the gradient dA of a = ReLU6(z) where the clip left z
// as it was (0 <= z <= 6) and zeroes it elsewhere: three passes over the
// activations where comparing z with 0 and 6 takes five (Where with a
// broadcast zero was slower than Cast and Mul in ONNX Runtime 1.30).
func (b *builder) relu6Back(z, a, dA string) string {
	passes := b.op("Cast", []string{b.op("Equal", []string{a, z})}, onnx.AttrInt("to", int64(b.elem)))
	return b.mul(dA, passes)
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

// block names one inverted-residual block's parameters (block16Params or
// residualParams(r)).
type block struct {
	expandW, expandB, depthW, depthB, projectW, projectB string
}

func blockOf(names []string) block {
	return block{names[0], names[1], names[2], names[3], names[4], names[5]}
}

func (k block) params() []string {
	return []string{k.expandW, k.expandB, k.depthW, k.depthB, k.projectW, k.projectB}
}

// geometry names the shape constants and tap selectors of one kind of
// block's depthwise convolution: stride 1 on the S x S grid, stride 2
// from 2S x 2S down to S x S, or stride 1 on the 2S x 2S grid.
type geometry struct {
	gridIn, gridOut       string // [E,-1,cells] of the expand output and of the depthwise output
	channelRows           string // [E,-1]
	band, bandFlat        string // [E,cellsIn,cellsOut] and [E,cellsIn*cellsOut]
	tapSelect, tapSelectT string // [cellsIn*cellsOut,9] and its transpose [9,...]
}

var (
	stride1     = geometry{"grid_shape", "grid_shape", "channel_rows", "band_shape", "band_flat", tapSelect, tapSelectT}
	stride2     = geometry{"down_grid_in", "down_grid_out", "down_channel_rows", "down_band_shape", "down_band_flat", "down_" + tapSelect, "down_" + tapSelectT}
	stride1Wide = geometry{"pre_grid_shape", "pre_grid_shape", "pre_channel_rows", "pre_band_shape", "pre_band_flat", "pre_" + tapSelect, "pre_" + tapSelectT}
)

// blockPass is what one block's forward pass leaves for its backward pass.
type blockPass struct {
	geom   geometry
	in     string // [M,C] rows the block read
	z1, z2 string // pre-activations of expand and depthwise, rows [M,E] and [M',E]
	a1     string // expand output rows [M,E]
	grid   string // the expand output channel-major, [E,N,cells]
	band   string // the depthwise kernel as per-channel [E,cellsIn,cellsOut] matrices
	a2     string // depthwise output rows [M',E]
	out    string // project output rows (linear)
}

// forwardBlock computes expand (ReLU6), depthwise 3x3 (ReLU6) and project
// (linear) on rows x.
func (b *builder) forwardBlock(x string, k block, geom geometry) blockPass {
	f := blockPass{geom: geom, in: x}
	f.z1 = b.add(b.mm(x, k.expandW), k.expandB)
	f.a1 = b.relu6(f.z1)
	f.grid = b.channelMajor(f.a1, geom.gridIn)
	f.band = b.reshape(b.mm(b.transpose(k.depthW, 1, 0), geom.tapSelectT), geom.band)
	f.z2 = b.add(b.rowMajor(b.mm(f.grid, f.band), geom.channelRows), k.depthB)
	f.a2 = b.relu6(f.z2)
	f.out = b.add(b.mm(f.a2, k.projectW), k.projectB)
	return f
}

// backwardBlock takes dOut, the gradient at the block's projection output,
// emits the gradients of the block's trainable parameters, and returns the
// gradient at its input rows when needInput.
func (b *builder) backwardBlock(f blockPass, k block, dOut string, grad func(param, value string), trainable map[string]bool, needInput bool) string {
	grad(k.projectW, b.gemmT(f.a2, dOut))
	grad(k.projectB, b.sumRows(dOut))
	dA2 := b.backT(dOut, k.projectW)             // [M,E]
	dZ2 := b.relu6Back(f.z2, f.a2, dA2)          // [M',E]
	dGrid := b.channelMajor(dZ2, f.geom.gridOut) // [E,N,cellsOut]
	if trainable[k.depthW] {
		// d band[e,q,p] = Σ_n grid[e,n,q]·dGrid[e,n,p]; each tap's weight
		// gradient sums the band entries that tap fills.
		dBand := b.mm(b.transpose(f.grid, 0, 2, 1), dGrid)
		grad(k.depthW, b.transpose(b.mm(b.reshape(dBand, f.geom.bandFlat), f.geom.tapSelect), 1, 0))
	}
	grad(k.depthB, b.sumRows(dZ2))
	dA1 := b.rowMajor(b.mm(dGrid, b.transpose(f.band, 0, 2, 1)), f.geom.channelRows) // [M,E]
	dZ1 := b.relu6Back(f.z1, f.a1, dA1)                                              // [M,E]
	grad(k.expandW, b.gemmT(f.in, dZ1))
	grad(k.expandB, b.sumRows(dZ1))
	if !needInput {
		return ""
	}
	return b.backT(dZ1, k.expandW)
}

// transpose permutes x's axes (ONNX Transpose).
func (b *builder) transpose(x string, perm ...int64) string {
	return b.op("Transpose", []string{x}, onnx.AttrInts("perm", perm...))
}

// channelMajor turns rows [N*cells,E] into [E,N,cells] (gridShape): one
// row per image and channel, which the depthwise band matrices multiply.
// It is a plain matrix transpose of the rows (ONNX Runtime's 2-D transpose
// is several times faster than the same move written as a 3-D permutation).
func (b *builder) channelMajor(rows, gridShape string) string {
	return b.reshape(b.transpose(rows, 1, 0), gridShape)
}

// rowMajor is channelMajor's inverse (channelRows: [E,-1]).
func (b *builder) rowMajor(grid, channelRows string) string {
	return b.transpose(b.reshape(grid, channelRows), 1, 0)
}

// build writes the tail graph for dims (see the package comment).
//
// Inputs: x [N,S,S,In]; every parameter (Dims.ParamNames, shapes from
// Dims.Shape); the constants c_zero, c_six, c_inv_area (scalars); for
// training also onehot [N,Classes], weight [N,1] (each example's share of
// the loss: 1/N for a plain mean) and mask [N,Features] (inverted dropout: 0
// or 1/(1-rate)). Outputs: probs [N,Classes] and pooled [N,Features]; for
// training also loss ([1,1], the weighted cross-entropy) and grad_<param>
// for each trainable parameter. Back-propagation stops below the lowest
// trainable layer.
func build(d Dims, opts ...graphOption) (*onnx.Model, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	cfg := graphConfig{elem: onnx.Float32}
	for _, o := range opts {
		o(&cfg)
	}
	for p := range cfg.trainable {
		if d.Shape(p) == nil {
			return nil, fmt.Errorf("tail: %q is not a parameter of this tail (have %v)", p, d.ParamNames())
		}
	}
	b := &builder{elem: cfg.elem}
	b.g.Name = "rpscam_tail"
	b.declare(d)
	f := b.forward(d)
	if !cfg.train {
		logits := b.add(b.mm(f.pooled, HeadW), HeadB)
		b.named(outProbs, "Softmax", []string{logits}, onnx.AttrInt("axis", 1))
		b.output(outProbs, batchDim, onnx.Dim{Value: int64(d.Classes)})
		return &onnx.Model{Graph: b.g, ProducerName: "rpscam", DocString: "rpscam fine-tuning tail (inference)"}, nil
	}
	b.loss(d, &f)
	b.backward(d, cfg.trainable, f)
	return b.model(), nil
}

// batchDim is the graph's batch dimension.
var batchDim = onnx.Dim{Param: "N"}

// declare adds the graph's inputs (x, the parameters, the constants) and
// the shape and index constants the nodes use.
func (b *builder) declare(d Dims) {
	area := int64(d.Size * d.Size)
	side := int64(d.InputSide())
	b.input(inputX, batchDim, onnx.Dim{Value: side}, onnx.Dim{Value: side}, onnx.Dim{Value: int64(d.InputChannels())})
	for _, p := range d.ParamNames() {
		b.input(p, onnx.Dims(d.Shape(p)...)...)
	}
	b.input(constZero)
	b.input(constSix)
	b.input(constArea)
	b.ints("axes0", 0)
	b.ints("rows_in", -1, int64(d.In))
	b.ints("rows_expand", -1, int64(d.Expand))
	b.ints("pool_shape", -1, area, int64(d.Features))
	b.ints("rows_features", -1, int64(d.Features))
	b.ints("pooled_3d", -1, 1, int64(d.Features))
	b.ints("taps", 0, 1, 2, 3, 4, 5, 6, 7, 8)
	b.declareGeometry(stride1, d.Expand, d.Size, 1)
	if d.down() {
		b.ints("down_rows_in", -1, int64(d.DownIn))
		b.declareGeometry(stride2, d.DownExpand, d.Size, 2)
	}
	if d.PreResidual > 0 {
		b.declareGeometry(stride1Wide, d.DownExpand, 2*d.Size, 1)
	}
}

// declareGeometry adds geom's shape constants and tap selector: a 3x3
// depthwise convolution of channels channels with stride stride onto a
// size x size grid (from a (size*stride) x (size*stride) one).
func (b *builder) declareGeometry(geom geometry, channels, size, stride int) {
	side := size * stride
	e, cellsIn, cellsOut := int64(channels), int64(side*side), int64(size*size)
	b.ints(geom.gridIn, e, -1, cellsIn)
	if geom.gridOut != geom.gridIn { // stride 1: the grid keeps its shape
		b.ints(geom.gridOut, e, -1, cellsOut)
	}
	b.ints(geom.channelRows, e, -1)
	b.ints(geom.band, e, cellsIn, cellsOut)
	b.ints(geom.bandFlat, e, cellsIn*cellsOut)
	b.declareTaps(size, stride, geom)
}

// Names of the depthwise tap selector (see declareTaps).
const (
	tapSelect  = "tap_select"   // [S⁴,9]
	tapSelectT = "tap_select_t" // [9,S⁴]
)

// declareTaps adds geom's tap selector: row q*cellsOut+p is one-hot at the
// tap t = ky*3+kx that carries input cell q to output cell p of a 3x3
// depthwise convolution with TensorFlow's SAME padding, all zero where q is
// not one of p's nine inputs. Stride 1 on an S x S grid: q = p + (ky-1,
// kx-1); stride 2 from 2S x 2S (an even side, so SAME pads only after):
// q = 2p + (ky, kx). A channel's kernel w[9] then becomes the banded
// cellsIn x cellsOut matrix tap_select·w, so the convolution is one batched
// MatMul per layer and its gradients two more, instead of nine shifted
// slices each way: far fewer passes over the activations.
func (b *builder) declareTaps(size, stride int, geom geometry) {
	sideIn, pad := size*stride, 1
	if stride == 2 {
		pad = 0
	}
	cellsIn, cellsOut := sideIn*sideIn, size*size
	tapOf := make([]int64, cellsIn*cellsOut)
	for q := range cellsIn {
		for p := range cellsOut {
			ky, kx := q/sideIn-stride*(p/size)+pad, q%sideIn-stride*(p%size)+pad
			tapOf[q*cellsOut+p] = -1
			if ky >= 0 && ky < 3 && kx >= 0 && kx < 3 {
				tapOf[q*cellsOut+p] = int64(ky*3 + kx)
			}
		}
	}
	tapOfName := geom.tapSelect + "_of"
	b.g.Initializers = append(b.g.Initializers, onnx.Tensor{Name: tapOfName, Type: onnx.Int64, Dims: []int64{int64(cellsIn * cellsOut), 1}, Int64: tapOf})
	b.named(geom.tapSelect, "Cast", []string{b.op("Equal", []string{tapOfName, "taps"})}, onnx.AttrInt("to", int64(b.elem)))
	b.named(geom.tapSelectT, "Transpose", []string{geom.tapSelect}, onnx.AttrInts("perm", 1, 0))
}

// tailPass holds the forward values the backward pass reads.
type tailPass struct {
	blocks  []blockPass // one per stage
	conv1In string      // the rows Conv_1 reads: the last stage's output
	z4, a4  string      // Conv_1 before and after its ReLU6, [M,F]
	pooled  string      // [N,F]
	// Training only.
	dropped string // pooled with the dropout mask applied
	probs   string
}

// forward adds the stages (a residual one as x + block(x)), Conv_1 and the
// pool, whose result is the outPooled output.
func (b *builder) forward(d Dims) tailPass {
	stages := d.stages()
	f := tailPass{blocks: make([]blockPass, len(stages))}
	rows := "rows_in" // [M,In]
	if d.down() {
		rows = "down_rows_in" // [4M,DownIn] on the 2S x 2S grid
	}
	x := b.reshape(inputX, rows)
	for i, st := range stages {
		f.blocks[i] = b.forwardBlock(x, st.params, st.geom)
		if st.skip {
			x = b.add(x, f.blocks[i].out)
		} else {
			x = f.blocks[i].out
		}
	}
	f.conv1In = x
	f.z4 = b.add(b.mm(x, conv1W), conv1B) // [M,F]
	f.a4 = b.relu6(f.z4)
	f.pooled = b.named(outPooled, "ReduceMean", []string{b.reshape(f.a4, "pool_shape")}, onnx.AttrInts("axes", 1), onnx.AttrInt("keepdims", 0))
	b.output(outPooled, batchDim, onnx.Dim{Value: int64(d.Features)})
	return f
}

// loss adds the training inputs, dropout, the head and the outProbs and
// outLoss outputs.
func (b *builder) loss(d Dims, f *tailPass) {
	b.input(inputY, batchDim, onnx.Dim{Value: int64(d.Classes)})
	b.input(inputWt, batchDim, onnx.Dim{Value: 1})
	b.input(inputMask, batchDim, onnx.Dim{Value: int64(d.Features)})
	f.dropped = b.mul(f.pooled, inputMask)
	logits := b.add(b.mm(f.dropped, HeadW), HeadB)
	logp := b.op("LogSoftmax", []string{logits}, onnx.AttrInt("axis", 1))
	f.probs = b.named(outProbs, "Exp", []string{logp})
	b.output(outProbs, batchDim, onnx.Dim{Value: int64(d.Classes)})
	// loss = -Σ weight·onehot·log p
	// Kept [1,1]: ONNX Runtime's Go binding cannot return a rank-0 output.
	nll := b.op("ReduceSum", []string{b.mul(b.mul(logp, inputY), inputWt)}, onnx.AttrInt("keepdims", 1))
	b.named(outLoss, "Neg", []string{nll})
	b.output(outLoss, onnx.Dim{Value: 1}, onnx.Dim{Value: 1})
}

// trainsBelow reports for each stage, then Conv_1, whether anything at or
// below it trains.
func trainsBelow(stages []stage, trainable map[string]bool) []bool {
	var names [][]string
	for _, st := range stages {
		names = append(names, st.params.params())
	}
	names = append(names, conv1Params)
	below := make([]bool, len(names))
	for i, ps := range names {
		if i > 0 {
			below[i] = below[i-1]
		}
		for _, p := range ps {
			below[i] = below[i] || trainable[p]
		}
	}
	return below
}

// backward adds a grad_<param> output per trainable parameter, stopping
// below the lowest trainable stage.
func (b *builder) backward(d Dims, trainable map[string]bool, f tailPass) {
	grad := func(param, value string) {
		if trainable[param] {
			b.named(gradName(param), "Identity", []string{value})
			b.output(gradName(param), onnx.Dims(d.Shape(param)...)...)
		}
	}
	stages := d.stages()
	below := trainsBelow(stages, trainable)
	// Head.
	dLogits := b.mul(b.op("Sub", []string{f.probs, inputY}), inputWt) // [N,K]
	grad(HeadW, b.gemmT(f.dropped, dLogits))
	grad(HeadB, b.sumRows(dLogits))
	if !below[len(stages)] {
		return
	}
	// Pool and Conv_1.
	dPooled := b.mul(b.backT(dLogits, HeadW), inputMask)                                                              // [N,F]
	dA4 := b.mul(b.reshape(dPooled, "pooled_3d"), constArea)                                                          // [N,1,F]
	dZ4 := b.reshape(b.relu6Back(b.reshape(f.z4, "pool_shape"), b.reshape(f.a4, "pool_shape"), dA4), "rows_features") // [M,F]
	grad(conv1W, b.gemmT(f.conv1In, dZ4))
	grad(conv1B, b.sumRows(dZ4))
	// The stages from the last down. The gradient at a residual block's
	// output flows both into the block and past it. Stage i's input
	// gradient is needed when stage i-1 trains or has trainable stages
	// below it.
	if !below[len(stages)-1] {
		return
	}
	dX := b.backT(dZ4, conv1W)
	for i := len(stages) - 1; i >= 0 && below[i]; i-- {
		dIn := b.backwardBlock(f.blocks[i], stages[i].params, dX, grad, trainable, i > 0 && below[i-1])
		switch {
		case !stages[i].skip:
			dX = dIn
		case dIn != "":
			dX = b.add(dX, dIn)
		}
	}
}

func (b *builder) model() *onnx.Model {
	return &onnx.Model{Graph: b.g, ProducerName: "rpscam", DocString: "rpscam fine-tuning tail (loss and gradients)"}
}
