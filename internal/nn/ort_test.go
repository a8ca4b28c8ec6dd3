package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/ort/orttest"
)

// These tests run one-operator ONNX graphs in ONNX Runtime on small random
// tensors and compare with package nn: the ONNX graph rpscam writes is only
// as right as the correspondence checked here (NHWC/OHWI vs NCHW/OIHW, TF
// SAME vs explicit pads, group convolution for depthwise, Clip for ReLU6).

func initORT(t *testing.T) { orttest.Init(t) }

func random(r *rand.Rand, shape ...int) *nn.Tensor {
	t := nn.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

func toNCHW(t *nn.Tensor) ([]float32, []int64) {
	n, h, w, c := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	out := make([]float32, len(t.Data))
	for b := 0; b < n; b++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				for ch := 0; ch < c; ch++ {
					out[((b*c+ch)*h+y)*w+x] = t.Data[((b*h+y)*w+x)*c+ch]
				}
			}
		}
	}
	return out, []int64{int64(n), int64(c), int64(h), int64(w)}
}

// runGraph runs graph g with float inputs (name -> data, dims) and returns output "y".
func runGraph(t *testing.T, g onnx.Graph, inputs map[string][]float32, dims map[string][]int64) ([]float32, []int64) {
	t.Helper()
	var names []string
	var vals []onnxruntime.Value
	for _, vi := range g.Inputs {
		names = append(names, vi.Name)
		in, err := onnxruntime.NewTensor(onnxruntime.NewShape(dims[vi.Name]...), inputs[vi.Name])
		if err != nil {
			t.Fatal(err)
		}
		defer in.Destroy()
		vals = append(vals, in)
	}
	m := onnx.Model{Graph: g}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(data, names, []string{"y"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	outs := []onnxruntime.Value{nil}
	if err := s.Run(vals, outs); err != nil {
		t.Fatal(err)
	}
	defer outs[0].Destroy()
	y := outs[0].(*onnxruntime.Tensor[float32])
	return append([]float32(nil), y.GetData()...), y.GetShape()
}

func floatInput(name string, rank int) onnx.ValueInfo {
	d := make([]onnx.Dim, rank)
	for i := range d {
		d[i] = onnx.Dim{Param: string(rune('a' + i))}
	}
	return onnx.ValueInfo{Name: name, Type: onnx.Float32, Dims: d}
}

func compare(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var diff, scale float64
	for i := range got {
		diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	if diff > 1e-5*math.Max(scale, 1) {
		t.Fatalf("%s: ORT and nn differ by %g (max |value| %g)", what, diff, scale)
	}
}

func TestConvMatchesORT(t *testing.T) {
	initORT(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name             string
		size, k, s       int
		in, out          int
		relu6, depthwise bool
	}{
		{"3x3 stride 1", 9, 3, 1, 5, 7, false, false},
		{"3x3 stride 2 even (pads 0,1)", 10, 3, 2, 4, 6, false, false},
		{"3x3 stride 2 odd (pads 1,1)", 9, 3, 2, 4, 6, true, false},
		{"1x1 relu6", 6, 1, 1, 16, 8, true, false},
		{"depthwise stride 1", 8, 3, 1, 6, 6, true, true},
		{"depthwise stride 2 even", 8, 3, 2, 6, 6, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := random(r, 2, c.size, c.size+1, c.in) // non-square catches h/w swaps
			var y *nn.Tensor
			var wONNX []float32
			var wDims []int64
			group := int64(1)
			bias := random(r, c.out).Data
			if c.depthwise {
				w := random(r, 1, c.k, c.k, c.in)
				d := nn.DepthwiseConv2D{Weights: w.Data, Bias: bias, Channels: c.in, Multiplier: 1, KernelH: c.k, KernelW: c.k, StrideH: c.s, StrideW: c.s, Padding: nn.Same, ReLU6: c.relu6}
				var err error
				if y, err = d.Forward(x); err != nil {
					t.Fatal(err)
				}
				wONNX = make([]float32, len(w.Data))
				for ky := 0; ky < c.k; ky++ {
					for kx := 0; kx < c.k; kx++ {
						for ch := 0; ch < c.in; ch++ {
							wONNX[(ch*c.k+ky)*c.k+kx] = w.Data[(ky*c.k+kx)*c.in+ch]
						}
					}
				}
				wDims, group = []int64{int64(c.in), 1, int64(c.k), int64(c.k)}, int64(c.in)
			} else {
				w := random(r, c.out, c.k, c.k, c.in)
				cv := nn.Conv2D{Weights: w.Data, Bias: bias, Out: c.out, In: c.in, KernelH: c.k, KernelW: c.k, StrideH: c.s, StrideW: c.s, Padding: nn.Same, ReLU6: c.relu6}
				var err error
				if y, err = cv.Forward(x); err != nil {
					t.Fatal(err)
				}
				// OHWI -> OIHW is the NHWC->NCHW permutation of each filter.
				wONNX, _ = toNCHW(w)
				wDims = []int64{int64(c.out), int64(c.in), int64(c.k), int64(c.k)}
			}
			_, top, bottom := nn.Same.Pads(c.size, c.k, c.s)
			_, left, right := nn.Same.Pads(c.size+1, c.k, c.s)
			convOut := "y"
			if c.relu6 {
				convOut = "pre"
			}
			g := onnx.Graph{
				Nodes: []onnx.Node{{Name: "conv", Op: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{convOut}, Attrs: []onnx.Attr{
					onnx.AttrInts("kernel_shape", int64(c.k), int64(c.k)), onnx.AttrInts("strides", int64(c.s), int64(c.s)),
					onnx.AttrInts("pads", int64(top), int64(left), int64(bottom), int64(right)), onnx.AttrInt("group", group)}}},
				Initializers: []onnx.Tensor{
					{Name: "w", Type: onnx.Float32, Dims: wDims, Float: wONNX},
					{Name: "b", Type: onnx.Float32, Dims: []int64{int64(c.out)}, Float: bias},
					{Name: "lo", Type: onnx.Float32, Float: []float32{0}},
					{Name: "hi", Type: onnx.Float32, Float: []float32{6}},
				},
				Inputs:  []onnx.ValueInfo{floatInput("x", 4)},
				Outputs: []onnx.ValueInfo{floatInput("y", 4)},
			}
			if c.relu6 {
				g.Nodes = append(g.Nodes, onnx.Node{Name: "clip", Op: "Clip", Inputs: []string{"pre", "lo", "hi"}, Outputs: []string{"y"}})
			}
			xd, xdims := toNCHW(x)
			got, shape := runGraph(t, g, map[string][]float32{"x": xd}, map[string][]int64{"x": xdims})
			want, wantShape := toNCHW(y)
			if len(shape) != 4 || shape[2] != wantShape[2] || shape[3] != wantShape[3] {
				t.Fatalf("ORT output shape %v, nn %v", shape, wantShape)
			}
			compare(t, c.name, got, want)
		})
	}
}

func TestElementwiseAndHeadMatchORT(t *testing.T) {
	initORT(t)
	r := rand.New(rand.NewPCG(5, 6))
	a, b := random(r, 2, 3, 4, 5), random(r, 2, 3, 4, 5)
	for i := range a.Data {
		a.Data[i] *= 5 // so ReLU6 clamps at both ends
	}
	dims := map[string][]int64{"a": {2, 3, 4, 5}, "b": {2, 3, 4, 5}}
	sum, _ := nn.Add(a, b)
	got, _ := runGraph(t, onnx.Graph{
		Nodes:   []onnx.Node{{Name: "add", Op: "Add", Inputs: []string{"a", "b"}, Outputs: []string{"y"}}},
		Inputs:  []onnx.ValueInfo{floatInput("a", 4), floatInput("b", 4)},
		Outputs: []onnx.ValueInfo{floatInput("y", 4)},
	}, map[string][]float32{"a": a.Data, "b": b.Data}, dims)
	compare(t, "add", got, sum.Data)

	got, _ = runGraph(t, onnx.Graph{
		Nodes:        []onnx.Node{{Name: "clip", Op: "Clip", Inputs: []string{"a", "lo", "hi"}, Outputs: []string{"y"}}},
		Initializers: []onnx.Tensor{{Name: "lo", Type: onnx.Float32, Float: []float32{0}}, {Name: "hi", Type: onnx.Float32, Float: []float32{6}}},
		Inputs:       []onnx.ValueInfo{floatInput("a", 4)},
		Outputs:      []onnx.ValueInfo{floatInput("y", 4)},
	}, map[string][]float32{"a": a.Data}, dims)
	compare(t, "clip", got, nn.ReLU6(a.Clone()).Data)

	pooled, _ := nn.GlobalAvgPool(a)
	an, adims := toNCHW(a)
	got, shape := runGraph(t, onnx.Graph{
		Nodes: []onnx.Node{
			{Name: "pool", Op: "GlobalAveragePool", Inputs: []string{"a"}, Outputs: []string{"p"}},
			{Name: "flat", Op: "Flatten", Inputs: []string{"p"}, Outputs: []string{"y"}, Attrs: []onnx.Attr{onnx.AttrInt("axis", 1)}},
		},
		Inputs:  []onnx.ValueInfo{floatInput("a", 4)},
		Outputs: []onnx.ValueInfo{floatInput("y", 2)},
	}, map[string][]float32{"a": an}, map[string][]int64{"a": adims})
	if shape[0] != 2 || shape[1] != 5 {
		t.Fatalf("pool shape %v", shape)
	}
	compare(t, "global average pool", got, pooled.Data)

	feat := random(r, 3, 16)
	w, bias := random(r, 4, 16), random(r, 4)
	logits, _ := nn.Dense(feat, w.Data, bias.Data, 4)
	probs, _ := nn.Softmax(logits)
	got, _ = runGraph(t, onnx.Graph{
		Nodes: []onnx.Node{
			{Name: "gemm", Op: "Gemm", Inputs: []string{"f", "w", "b"}, Outputs: []string{"l"}, Attrs: []onnx.Attr{onnx.AttrInt("transB", 1)}},
			{Name: "softmax", Op: "Softmax", Inputs: []string{"l"}, Outputs: []string{"y"}, Attrs: []onnx.Attr{onnx.AttrInt("axis", 1)}},
		},
		Initializers: []onnx.Tensor{{Name: "w", Type: onnx.Float32, Dims: []int64{4, 16}, Float: w.Data}, {Name: "b", Type: onnx.Float32, Dims: []int64{4}, Float: bias.Data}},
		Inputs:       []onnx.ValueInfo{floatInput("f", 2)},
		Outputs:      []onnx.ValueInfo{floatInput("y", 2)},
	}, map[string][]float32{"f": feat.Data}, map[string][]int64{"f": {3, 16}})
	compare(t, "gemm+softmax", got, probs.Data)
}
