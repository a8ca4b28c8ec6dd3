package quantize

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/ort/orttest"
)

// tinyFloat is rpscam's graph shape in miniature: a uint8 NHWC [1,1,2,2]
// image normalised in the graph as 0.5*x-64 (so zero point 128, no offset),
// a 1x1 convolution 2->2 with ReLU6, and an Add of its output to itself;
// the Add's output is the model's output.
func tinyFloat() *onnx.Model {
	return &onnx.Model{
		Graph: onnx.Graph{
			Name: "tiny",
			Nodes: []onnx.Node{
				{Name: "cast", Op: "Cast", Inputs: []string{"image"}, Outputs: []string{"f"}, Attrs: []onnx.Attr{onnx.AttrInt("to", int64(onnx.Float32))}},
				{Name: "scale", Op: "Mul", Inputs: []string{"f", "half"}, Outputs: []string{"scaled"}},
				{Name: "shift", Op: "Sub", Inputs: []string{"scaled", "offset"}, Outputs: []string{"norm_nhwc"}},
				{Name: "to_nchw", Op: "Transpose", Inputs: []string{"norm_nhwc"}, Outputs: []string{"norm"}, Attrs: []onnx.Attr{onnx.AttrInts("perm", 0, 3, 1, 2)}},
				{Name: "c1", Op: "Conv", Inputs: []string{"norm", "w", "b"}, Outputs: []string{"c1/pre"}, Attrs: []onnx.Attr{onnx.AttrInts("kernel_shape", 1, 1)}},
				{Name: "c1/relu6", Op: "Clip", Inputs: []string{"c1/pre", "zero", "six"}, Outputs: []string{"c1"}},
				{Name: "sum", Op: "Add", Inputs: []string{"c1", "c1"}, Outputs: []string{"sum"}},
			},
			Initializers: []onnx.Tensor{
				{Name: "half", Type: onnx.Float32, Float: []float32{0.5}},
				{Name: "offset", Type: onnx.Float32, Float: []float32{64}},
				{Name: "zero", Type: onnx.Float32, Float: []float32{0}},
				{Name: "six", Type: onnx.Float32, Float: []float32{6}},
				// max|w| is 1.27 in both rows: scale 0.01, q = w*100.
				{Name: "w", Type: onnx.Float32, Dims: []int64{2, 2, 1, 1}, Float: []float32{1.27, -0.5, 0.64, -1.27}},
				{Name: "b", Type: onnx.Float32, Dims: []int64{2}, Float: []float32{0.5, -1}},
			},
			Inputs:  []onnx.ValueInfo{{Name: "image", Type: onnx.Uint8, Dims: onnx.Dims(1, 1, 2, 2)}},
			Outputs: []onnx.ValueInfo{{Name: "sum", Type: onnx.Float32, Dims: onnx.Dims(1, 2, 1, 2)}},
		},
		Metadata: map[string]string{"labels": "a,b"},
	}
}

// tinyRanges: c1 in [0, 2.55] (scale 0.01, zero point 0), sum in [0, 5.1]
// (scale 0.02, zero point 0).
var tinyRanges = map[string]activationRange{"c1": {0, 2.55}, "sum": {0, 5.1}}

func TestRangeParams(t *testing.T) {
	for _, c := range []struct {
		r    activationRange
		want Params
	}{
		{activationRange{0, 2.55}, Params{0.01, 0}},
		{activationRange{-1, 1.55}, Params{0.01, 100}},
		{activationRange{1, 2.55}, Params{0.01, 0}}, // widened to include 0
		{activationRange{-2.55, -1}, Params{0.01, 255}},
		{activationRange{0, 0}, Params{1, 0}},
	} {
		got := c.r.Params()
		if d := got.Scale - c.want.Scale; d > 1e-7 || d < -1e-7 || got.ZeroPoint != c.want.ZeroPoint {
			t.Errorf("%v.Params() = %+v, want %+v", c.r, got, c.want)
		}
	}
}

func TestWeights(t *testing.T) {
	q, s := quantizeWeights([]float32{1.27, -0.5, 0.64, -1.27, 0, 0}, 3, 127)
	if want := []int8{127, -50, 64, -127, 0, 0}; !slices.Equal(q, want) {
		t.Errorf("Weights = %v, want %v", q, want)
	}
	if s[0] < 0.0099999 || s[0] > 0.0100001 || s[2] != 1 {
		t.Errorf("scales %v, want 0.01, 0.01, 1 (a zero channel)", s)
	}
	// Pair-safe: in [1,4,1,1] the pair (1.27, 1.27) sums to 2.54, so the
	// scale is 2.54/127 = 0.02 and both become 64 (63.5 rounded up), 128
	// together; the opposite-signed pair (1, -1.27) does not constrain it.
	q, s = pairSafeWeights([]float32{1.27, 1.27, 1, -1.27}, []int64{1, 4, 1, 1})
	if want := []int8{64, 64, 50, -64}; !slices.Equal(q, want) {
		t.Errorf("PairSafeWeights = %v (scale %v), want %v", q, s, want)
	}
	// For a 3x3 kernel the pairs follow NHWC im2col order (ky, kx, channel):
	// with 2 channels, OIHW weights w[c][ky][kx] pair channel 0 and 1 of
	// the same pixel.
	w := make([]float32, 18)
	w[0], w[9] = 1.27, 1.27 // channel 0 and 1 at (0,0): a pair
	if _, s = pairSafeWeights(w, []int64{1, 2, 3, 3}); s[0] < 0.0199999 || s[0] > 0.0200001 {
		t.Errorf("3x3 pair scale %v, want 0.02", s)
	}
	w[9], w[1] = 0, 1.27 // (0,0) and (0,1) of channel 0 are not neighbours in im2col
	if _, s = pairSafeWeights(w, []int64{1, 2, 3, 3}); s[0] < 0.0099999 || s[0] > 0.0100001 {
		t.Errorf("3x3 unpaired scale %v, want 0.01", s)
	}
}

func TestTransformGraph(t *testing.T) {
	q, sum, err := transformModel(tinyFloat(), tinyRanges)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Convs != 1 || sum.Adds != 1 || sum.InputParams != (Params{0.5, 128}) || sum.InputOffset != 0 {
		t.Errorf("summary %+v", sum)
	}
	ops := map[string]int{}
	for _, n := range q.Graph.Nodes {
		ops[n.Op]++
	}
	// DQ: input, weights, bias, c1, to_nchw, sum; Q: to_nchw, c1, sum.
	if ops["Cast"] != 0 || ops["Mul"] != 0 || ops["DequantizeLinear"] != 6 || ops["QuantizeLinear"] != 3 {
		t.Errorf("ops %v", ops)
	}
	if _, _, err := transformModel(tinyFloat(), map[string]activationRange{"c1": {0, 1}}); err == nil {
		t.Error("a missing range was accepted")
	}
}

// TestTransformExactIntegers runs the quantized tiny model in ONNX Runtime
// and checks the uint8 outputs against integer arithmetic by hand:
// c1_q = clamp(round((sum_i (x_i-128)*qw + qb) * 0.5*0.01 / 0.01)), with
// qw = w*100, qb = b/(0.5*0.01), and sum_q = round(2*c1_q*0.01/0.02) = c1_q.
func TestTransformExactIntegers(t *testing.T) {
	orttest.Init(t)
	q, _, err := transformModel(tinyFloat(), tinyRanges)
	if err != nil {
		t.Fatal(err)
	}
	q.Graph.Outputs = append(q.Graph.Outputs,
		onnx.ValueInfo{Name: "c1/uint8", Type: onnx.Uint8, Dims: onnx.Dims(1, 2, 1, 2)},
		onnx.ValueInfo{Name: "sum/uint8", Type: onnx.Uint8, Dims: onnx.Dims(1, 2, 1, 2)})
	path := filepath.Join(t.TempDir(), "tiny_int8.onnx")
	data, err := q.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := checkFusion(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Fused() || f.IntegerConvs != 1 {
		t.Errorf("ONNX Runtime did not fuse the convolution to an integer kernel: %s", f)
	}
	qw := [2][2]int{{127, -50}, {64, -127}}
	qb := [2]int{100, -200}
	// Even (x-128) keeps every accumulator even, so no result is a tie.
	for _, x := range [][4]uint8{{128, 128, 128, 128}, {200, 130, 100, 240}, {254, 0, 0, 254}, {0, 254, 254, 0}} {
		// NHWC [1,1,2,2]: pixel p's channel c is x[2p+c].
		var want [4]uint8 // NCHW [1,2,1,2]: channel o's pixel p at 2o+p
		for o := range 2 {
			for p := range 2 {
				acc := qb[o]
				for c := range 2 {
					acc += (int(x[2*p+c]) - 128) * qw[o][c]
				}
				want[2*o+p] = uint8(min(max(acc/2, 0), 255))
			}
		}
		c1, s := runTiny(t, path, x)
		if c1 != want || s != want {
			t.Errorf("input %v: c1 %v, sum %v, want %v for both", x, c1, s, want)
		}
	}
}

func runTiny(t *testing.T, path string, x [4]uint8) (c1, sum [4]uint8) {
	t.Helper()
	in, err := onnxruntime.NewTensor(onnxruntime.NewShape(1, 1, 2, 2), x[:])
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	s, err := onnxruntime.NewDynamicAdvancedSession(path, []string{"image"}, []string{"c1/uint8", "sum/uint8"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	outs := []onnxruntime.Value{nil, nil}
	if err := s.Run([]onnxruntime.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	defer outs[1].Destroy()
	copy(c1[:], outs[0].(*onnxruntime.Tensor[uint8]).GetData())
	copy(sum[:], outs[1].(*onnxruntime.Tensor[uint8]).GetData())
	return c1, sum
}

// TestInputOffset: with the real normalisation x/127.5-1 the zero point is
// 127 and the input is off by s*127-1 = -0.5/127.5; the first convolution's
// bias absorbs offset*sum(W).
func TestInputOffset(t *testing.T) {
	m := tinyFloat()
	m.Graph.Initializers[0].Float[0] = float32(1 / 127.5)
	m.Graph.Initializers[1].Float[0] = 1
	q, sum, err := transformModel(m, tinyRanges)
	if err != nil {
		t.Fatal(err)
	}
	if sum.InputParams.ZeroPoint != 127 || sum.InputOffset > -0.0039 || sum.InputOffset < -0.004 {
		t.Fatalf("input %+v offset %v, want zero point 127, offset -0.00392", sum.InputParams, sum.InputOffset)
	}
	for _, in := range q.Graph.Initializers {
		if in.Name == "c1/bias_int32" {
			// b0 = 0.5 + offset*(1.27-0.5); bias scale (1/127.5)*0.01.
			want := int32(roundHalfAway((0.5 + float64(sum.InputOffset)*0.77) / (0.01 / 127.5)))
			if in.Int32[0] != want {
				t.Errorf("bias %d, want %d", in.Int32[0], want)
			}
		}
	}
}

func roundHalfAway(v float64) float64 {
	if v < 0 {
		return -roundHalfAway(-v)
	}
	return float64(int64(v + 0.5))
}

// The fix for a mismatched --model never writes over the given file.
func TestExportTarget(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ model, params, want string }{
		{filepath.Join(dir, "mine.onnx"), filepath.Join(dir, "m", "rps_head.params"), filepath.Join(dir, "m", "rps_head.onnx")},
		{filepath.Join(dir, "m", "rps_head.onnx"), filepath.Join(dir, "m", "rps_head.params"), filepath.Join(dir, "m", "rps_head_rebuilt.onnx")},
		{filepath.Join(dir, "m", "..", "m", "rps_head.onnx"), filepath.Join(dir, "m", "rps_head.params"), filepath.Join(dir, "m", "..", "m", "rps_head_rebuilt.onnx")},
	} {
		if got := exportTarget(c.model, c.params); got != c.want {
			t.Errorf("exportTarget(%s, %s) = %s, want %s", c.model, c.params, got, c.want)
		}
	}
}
