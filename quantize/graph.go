// Package quantize makes int8 models from rpscam's float32 classifiers:
// post-training static quantization in QDQ form, which ONNX Runtime fuses
// into its integer kernels (QLinearConv, QLinearAdd).
//
// Weights are int8, symmetric, one scale per output channel (zero point 0,
// what ONNX Runtime's fast x86 kernels want); biases int32 at input scale x
// weight scale; activations uint8 with ranges calibrated on images run
// through the float model (calibrate). The uint8 camera image itself is the
// first quantized tensor: the graph's x/127.5-1 normalisation becomes its
// dequantization, so the int8 model takes the same input as the float one.
package quantize

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/rpscam/rpscam/internal/onnx"
)

// Params is one tensor's uint8 quantization: real = Scale * (q - ZeroPoint).
type Params struct {
	Scale     float32
	ZeroPoint uint8
}

// activationRange is an activation's calibrated range in float terms.
type activationRange struct{ Min, Max float32 }

// Params maps the range, widened to include 0 (so that zero, the padding
// of every convolution, is exact), onto 0..255. A range starting at 0 (after
// ReLU6) gets zero point 0, which lets ONNX Runtime drop the Clip.
func (r activationRange) Params() Params {
	lo, hi := math.Min(float64(r.Min), 0), math.Max(float64(r.Max), 0)
	if !(hi-lo > 0) || math.IsInf(hi-lo, 0) {
		return Params{Scale: 1}
	}
	s := (hi - lo) / 255
	zp := math.Round(-lo / s)
	return Params{Scale: float32(s), ZeroPoint: uint8(min(max(zp, 0), 255))}
}

// ErrUnsupported is wrapped when a graph has a shape quantize does not handle.
var ErrUnsupported = errors.New("quantize: unsupported graph")

// points are the activations transformModel quantizes, in graph order: every
// convolution's output (after its Clip, when a Clip is its only reader)
// and every Add's. They are what calibrate measures.
func points(m *onnx.Model) []string {
	readers := readersOf(m.Graph.Nodes)
	var pts []string
	for _, n := range m.Graph.Nodes {
		switch n.Op {
		case "Conv":
			out := n.Outputs[0]
			if r := readers[out]; len(r) == 1 && r[0].Op == "Clip" {
				out = r[0].Outputs[0]
			}
			pts = append(pts, out)
		case "Add":
			pts = append(pts, n.Outputs[0])
		}
	}
	return pts
}

func readersOf(nodes []onnx.Node) map[string][]onnx.Node {
	r := map[string][]onnx.Node{}
	for _, n := range nodes {
		for _, in := range n.Inputs {
			r[in] = append(r[in], n)
		}
	}
	return r
}

// Summary says what transformModel did.
type Summary struct {
	Convs, Adds int // quantized operators
	// PairSafeConvs are the convolutions quantized with pairSafeWeights.
	PairSafeConvs int
	// WeightBytes is the int8 weights' size; FloatWeightBytes what they took as float32.
	WeightBytes, FloatWeightBytes int
	// InputParams is the image's quantization (the graph's normalisation);
	// InputOffset the constant it is off from that normalisation by,
	// folded into the first convolutions' biases.
	InputParams Params
	InputOffset float32
}

// transformModel returns m in QDQ form: the input normalisation (uint8 input ->
// Cast -> Mul by a scalar -> Sub of a scalar) becomes a DequantizeLinear of
// the input, every convolution reads a dequantized uint8 activation with
// int8 per-channel weights and an int32 bias, and every point (see points)
// goes through QuantizeLinear -> DequantizeLinear with ranges[point]'s
// parameters. Everything after the last point (pooling, head, softmax)
// stays float32, so the outputs keep their names and types.
func transformModel(m *onnx.Model, ranges map[string]activationRange, opts ...option) (*onnx.Model, Summary, error) {
	t := &transform{
		src:    m,
		inits:  map[string]*onnx.Tensor{},
		points: map[string]bool{},
		q:      map[string]quantized{},
	}
	for i := range m.Graph.Initializers {
		t.inits[m.Graph.Initializers[i].Name] = &m.Graph.Initializers[i]
	}
	for _, p := range points(m) {
		if _, ok := ranges[p]; !ok {
			return nil, Summary{}, fmt.Errorf("quantize: no calibrated range for %s (calibrate the same model)", p)
		}
		t.points[p] = true
	}
	t.ranges = ranges
	for _, o := range opts {
		o(&t.opt)
	}
	if err := t.run(); err != nil {
		return nil, Summary{}, err
	}
	out := &onnx.Model{
		Graph: onnx.Graph{Name: m.Graph.Name, Nodes: t.nodes, Initializers: t.used(),
			Inputs: slices.Clone(m.Graph.Inputs), Outputs: slices.Clone(m.Graph.Outputs)},
		Opset: m.Opset, ProducerName: m.ProducerName, ProducerVersion: m.ProducerVersion,
		DocString: m.DocString, Metadata: maps.Clone(m.Metadata),
	}
	return out, t.sum, nil
}

// option changes how transformModel quantizes.
type option func(*options)

type options struct{ pairSafe bool }

// pairSafe quantizes the weights of ordinary (not depthwise) convolutions
// so that no two neighbouring weights along the input (NHWC im2col order:
// kernel row, column, channel) of the same sign add up to more than 128 in
// magnitude (pairSafeWeights). ONNX Runtime runs these convolutions as
// uint8 x int8 products; on x86 CPUs without VNNI its AVX2 kernels add each
// such pair of products in a saturating 16-bit lane (vpmaddubsw), where
// 255 x 127 x 2 overflows and 255 x 128 does not. Depthwise convolutions
// use another kernel and keep the plain symmetric scale.
func pairSafe() option { return func(o *options) { o.pairSafe = true } }

// quantized is a float tensor that also exists dequantized from uint8:
// readers use dq instead. offset is what must be added to the dequantized
// value to get the float model's (only the input has one).
type quantized struct {
	dq     string
	p      Params
	offset float32
}

type transform struct {
	src    *onnx.Model
	inits  map[string]*onnx.Tensor
	ranges map[string]activationRange
	points map[string]bool
	q      map[string]quantized
	nodes  []onnx.Node
	added  []onnx.Tensor
	sum    Summary
	skip   map[int]bool
	opt    options
}

func (t *transform) run() error {
	t.skip = map[int]bool{}
	if err := t.input(); err != nil {
		return err
	}
	for i, n := range t.src.Graph.Nodes {
		if t.skip[i] {
			continue
		}
		var err error
		switch n.Op {
		case "Conv":
			err = t.conv(n)
		case "Add":
			err = t.add(n)
		case "Transpose":
			err = t.transpose(n)
		default:
			t.emit(t.rewired(n))
		}
		if err != nil {
			return fmt.Errorf("quantize: node %s (%s): %w", n.Name, n.Op, err)
		}
		for _, o := range n.Outputs {
			if t.points[o] {
				t.quantizeOutput(o, t.ranges[o].Params(), 0)
			}
		}
	}
	return nil
}

// input replaces Cast -> Mul(s) -> Sub(o) on the uint8 graph input with one
// DequantizeLinear: s*(x-zp) with zp = o/s rounded; the remainder
// s*zp - o (half a step for x/127.5-1) is recorded as the offset.
func (t *transform) input() error {
	g := &t.src.Graph
	if len(g.Inputs) != 1 || g.Inputs[0].Type != onnx.Uint8 {
		return fmt.Errorf("%w: want one uint8 image input (rpscam's models normalise it in the graph)", ErrUnsupported)
	}
	in := g.Inputs[0].Name
	find := func(op, input string) (int, *onnx.Node) {
		for i := range g.Nodes {
			if g.Nodes[i].Op == op && len(g.Nodes[i].Inputs) > 0 && g.Nodes[i].Inputs[0] == input {
				return i, &g.Nodes[i]
			}
		}
		return -1, nil
	}
	ci, cast := find("Cast", in)
	if cast == nil {
		return fmt.Errorf("%w: the uint8 input %q is not read by a Cast (expected Cast -> Mul -> Sub, the x/127.5-1 normalisation)", ErrUnsupported, in)
	}
	mi, mul := find("Mul", cast.Outputs[0])
	if mul == nil {
		return fmt.Errorf("%w: no Mul after the input's Cast", ErrUnsupported)
	}
	si, sub := find("Sub", mul.Outputs[0])
	if sub == nil {
		return fmt.Errorf("%w: no Sub after the input's Mul", ErrUnsupported)
	}
	s, ok1 := t.scalar(mul.Inputs[1])
	o, ok2 := t.scalar(sub.Inputs[1])
	if !ok1 || !ok2 || !(s > 0) {
		return fmt.Errorf("%w: the input normalisation's Mul and Sub must take positive scalar constants", ErrUnsupported)
	}
	zp := math.Round(float64(o) / float64(s))
	if zp < 0 || zp > 255 {
		return fmt.Errorf("%w: normalisation x*%g-%g has its zero at %g, outside 0..255", ErrUnsupported, s, o, zp)
	}
	p := Params{Scale: s, ZeroPoint: uint8(zp)}
	offset := float32(float64(s)*zp - float64(o))
	t.skip[ci], t.skip[mi], t.skip[si] = true, true, true
	t.emitDQ(in, sub.Outputs[0], p)
	// The dequantized input is already the float tensor, so its readers
	// take it directly; they are told about the offset.
	t.q[sub.Outputs[0]] = quantized{dq: sub.Outputs[0], p: p, offset: offset}
	t.sum.InputParams, t.sum.InputOffset = p, offset
	return nil
}

func (t *transform) scalar(name string) (float32, bool) {
	c, ok := t.inits[name]
	if !ok || c.Type != onnx.Float32 || len(c.Float) != 1 {
		return 0, false
	}
	return c.Float[0], true
}

// transpose moves a quantized tensor as it is: Q -> DQ with the same
// parameters after it lets ONNX Runtime run the Transpose on uint8 (and its
// layout pass remove it).
func (t *transform) transpose(n onnx.Node) error {
	x, ok := t.q[n.Inputs[0]]
	t.emit(t.rewired(n))
	if ok {
		t.quantizeOutput(n.Outputs[0], x.p, x.offset)
	}
	return nil
}

func (t *transform) add(n onnx.Node) error {
	for _, in := range n.Inputs {
		x, ok := t.q[in]
		if !ok {
			return fmt.Errorf("%w: input %s is not quantized", ErrUnsupported, in)
		}
		if x.offset != 0 {
			return fmt.Errorf("%w: input %s carries the image's normalisation offset; only a convolution can absorb it", ErrUnsupported, in)
		}
	}
	t.sum.Adds++
	t.emit(t.rewired(n))
	return nil
}

func (t *transform) conv(n onnx.Node) error {
	if len(n.Inputs) < 2 {
		return fmt.Errorf("%w: no weights", ErrUnsupported)
	}
	x, ok := t.q[n.Inputs[0]]
	if !ok {
		return fmt.Errorf("%w: input %s is not quantized", ErrUnsupported, n.Inputs[0])
	}
	w, ok := t.inits[n.Inputs[1]]
	if !ok || w.Type != onnx.Float32 || len(w.Dims) != 4 {
		return fmt.Errorf("%w: weights %s are not a constant 4-D float tensor", ErrUnsupported, n.Inputs[1])
	}
	outC := int(w.Dims[0])
	per := len(w.Float) / outC
	bias := make([]float32, outC)
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		b, ok := t.inits[n.Inputs[2]]
		if !ok || b.Type != onnx.Float32 || len(b.Float) != outC {
			return fmt.Errorf("%w: bias %s is not a constant float tensor of %d values", ErrUnsupported, n.Inputs[2], outC)
		}
		copy(bias, b.Float)
	}
	var qw []int8
	var ws []float32
	if t.opt.pairSafe && !depthwise(n, w) {
		qw, ws = pairSafeWeights(w.Float, w.Dims)
		t.sum.PairSafeConvs++
	} else {
		qw, ws = quantizeWeights(w.Float, outC, 127)
	}
	if x.offset != 0 {
		// conv(v + offset) = conv(v) + offset * sum(W) away from the
		// padded border, where the float model pads with zeros after
		// normalising and this one pads with the zero point.
		for o := range outC {
			var sum float64
			for _, v := range w.Float[o*per : (o+1)*per] {
				sum += float64(v)
			}
			bias[o] += float32(float64(x.offset) * sum)
		}
	}
	qb, bs, err := quantizeBias(bias, x.p.Scale, ws)
	if err != nil {
		return err
	}
	wName, bName := n.Inputs[1]+"/int8", n.Name+"/bias_int32"
	t.added = append(t.added,
		onnx.Tensor{Name: wName, Type: onnx.Int8, Dims: w.Dims, Bytes: int8Bytes(qw)},
		onnx.Tensor{Name: wName + "/scale", Type: onnx.Float32, Dims: []int64{int64(outC)}, Float: ws},
		onnx.Tensor{Name: wName + "/zero", Type: onnx.Int8, Dims: []int64{int64(outC)}, Bytes: make([]byte, outC)},
		onnx.Tensor{Name: bName, Type: onnx.Int32, Dims: []int64{int64(outC)}, Int32: qb},
		onnx.Tensor{Name: bName + "/scale", Type: onnx.Float32, Dims: []int64{int64(outC)}, Float: bs},
		onnx.Tensor{Name: bName + "/zero", Type: onnx.Int32, Dims: []int64{int64(outC)}, Int32: make([]int32, outC)},
	)
	t.emit(onnx.Node{Name: wName + "/dq", Op: "DequantizeLinear", Inputs: []string{wName, wName + "/scale", wName + "/zero"},
		Outputs: []string{wName + "/dq"}, Attrs: []onnx.Attr{onnx.AttrInt("axis", 0)}})
	t.emit(onnx.Node{Name: bName + "/dq", Op: "DequantizeLinear", Inputs: []string{bName, bName + "/scale", bName + "/zero"},
		Outputs: []string{bName + "/dq"}, Attrs: []onnx.Attr{onnx.AttrInt("axis", 0)}})
	c := n
	c.Inputs = []string{x.dq, wName + "/dq", bName + "/dq"}
	t.emit(c)
	t.sum.Convs++
	t.sum.WeightBytes += len(qw)
	t.sum.FloatWeightBytes += 4 * len(qw)
	return nil
}

// depthwise reports a convolution with one group per input channel.
func depthwise(n onnx.Node, w *onnx.Tensor) bool {
	for _, a := range n.Attrs {
		if a.Name() == "group" {
			return a.Int() > 1 && w.Dims[1] == 1
		}
	}
	return false
}

// quantizeWeights quantizes OIHW (or any output-channel-major) float weights to
// int8, symmetric per output channel: scale = max|w|/qmax, q = round(w/scale)
// (qmax 127, or 63 for 7 bits). A channel of zeros gets scale 1.
func quantizeWeights(w []float32, outC, qmax int) ([]int8, []float32) {
	per := len(w) / outC
	q := make([]int8, len(w))
	scales := make([]float32, outC)
	for o := range outC {
		ch := w[o*per : (o+1)*per]
		var m float64
		for _, v := range ch {
			m = math.Max(m, math.Abs(float64(v)))
		}
		if m == 0 {
			scales[o] = 1
			continue
		}
		s := float32(m / float64(qmax))
		scales[o] = s
		for i, v := range ch {
			q[o*per+i] = int8(min(max(math.Round(float64(v)/float64(s)), -float64(qmax)), float64(qmax)))
		}
	}
	return q, scales
}

// quantizeBias quantizes a convolution's bias to int32 at scale inScale x
// weightScales[c] (computed in float32, as ONNX Runtime's integer kernels
// assume), returning the values and those scales.
func quantizeBias(b []float32, inScale float32, weightScales []float32) ([]int32, []float32, error) {
	q := make([]int32, len(b))
	scales := make([]float32, len(b))
	for c, v := range b {
		s := inScale * weightScales[c]
		scales[c] = s
		r := math.Round(float64(v) / float64(s))
		if math.IsNaN(r) || math.Abs(r) > math.MaxInt32 {
			return nil, nil, fmt.Errorf("bias %g of channel %d does not fit int32 at scale %g", v, c, s)
		}
		q[c] = int32(r)
	}
	return q, scales, nil
}

// pairSafeWeights quantizes OIHW weights (dims [O,I,KH,KW]) symmetric per
// output channel with the smallest scale at which every weight fits in
// -127..127 and every same-signed pair of neighbours (2j, 2j+1) in NHWC
// im2col order (ky, kx, i) sums to at most 127 in magnitude before rounding
// (128 after), so uint8 x int8 pair sums stay within int16.
func pairSafeWeights(w []float32, dims []int64) ([]int8, []float32) {
	outC, in, kh, kw := int(dims[0]), int(dims[1]), int(dims[2]), int(dims[3])
	per := in * kh * kw
	q := make([]int8, len(w))
	scales := make([]float32, outC)
	// at(o, k) is the weight at im2col position k = (ky*kw+kx)*in + i.
	at := func(o, k int) float64 {
		i, pos := k%in, k/in
		return float64(w[o*per+i*kh*kw+pos])
	}
	for o := range outC {
		var m float64
		for k := range per {
			m = math.Max(m, math.Abs(at(o, k))/127)
		}
		for k := 0; k+1 < per; k += 2 {
			a, b := at(o, k), at(o, k+1)
			if (a > 0) == (b > 0) {
				m = math.Max(m, (math.Abs(a)+math.Abs(b))/127)
			}
		}
		if m == 0 {
			scales[o] = 1
			continue
		}
		s := float32(m)
		scales[o] = s
		for i, v := range w[o*per : (o+1)*per] {
			q[o*per+i] = int8(min(max(math.Round(float64(v)/float64(s)), -127), 127))
		}
	}
	return q, scales
}

func int8Bytes(q []int8) []byte {
	b := make([]byte, len(q))
	for i, v := range q {
		b[i] = byte(v)
	}
	return b
}

// quantizeOutput adds QuantizeLinear -> DequantizeLinear after tensor name;
// later readers take the dequantized copy.
func (t *transform) quantizeOutput(name string, p Params, offset float32) {
	sName, zName := name+"/scale", name+"/zero"
	t.added = append(t.added,
		onnx.Tensor{Name: sName, Type: onnx.Float32, Float: []float32{p.Scale}},
		onnx.Tensor{Name: zName, Type: onnx.Uint8, Bytes: []byte{p.ZeroPoint}})
	t.emit(onnx.Node{Name: name + "/q", Op: "QuantizeLinear", Inputs: []string{name, sName, zName}, Outputs: []string{name + "/uint8"}})
	t.emit(onnx.Node{Name: name + "/dq", Op: "DequantizeLinear", Inputs: []string{name + "/uint8", sName, zName}, Outputs: []string{name + "/dq"}})
	t.q[name] = quantized{dq: name + "/dq", p: p, offset: offset}
}

// emitDQ dequantizes the uint8 tensor in into out.
func (t *transform) emitDQ(in, out string, p Params) {
	sName, zName := in+"/scale", in+"/zero"
	t.added = append(t.added,
		onnx.Tensor{Name: sName, Type: onnx.Float32, Float: []float32{p.Scale}},
		onnx.Tensor{Name: zName, Type: onnx.Uint8, Bytes: []byte{p.ZeroPoint}})
	t.emit(onnx.Node{Name: in + "/dq", Op: "DequantizeLinear", Inputs: []string{in, sName, zName}, Outputs: []string{out}})
}

// rewired is n reading the dequantized copy of every quantized input.
func (t *transform) rewired(n onnx.Node) onnx.Node {
	n.Inputs = slices.Clone(n.Inputs)
	for i, in := range n.Inputs {
		if x, ok := t.q[in]; ok {
			n.Inputs[i] = x.dq
		}
	}
	return n
}

func (t *transform) emit(n onnx.Node) { t.nodes = append(t.nodes, n) }

// used returns the initializers the new graph reads: the original ones
// still referenced (float weights that were quantized are dropped) and
// the added ones.
func (t *transform) used() []onnx.Tensor {
	read := map[string]bool{}
	for _, n := range t.nodes {
		for _, in := range n.Inputs {
			read[in] = true
		}
	}
	var out []onnx.Tensor
	for _, in := range t.src.Graph.Initializers {
		if read[in.Name] {
			out = append(out, in)
		}
	}
	return append(out, t.added...)
}
