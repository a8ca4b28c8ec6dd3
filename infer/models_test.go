package infer

import (
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/ort/orttest"
)

// Test models: tiny classifiers with known weights, written with
// internal/onnx, so every prediction can be asserted exactly.
//
// meanColourModel computes, for each image,
//
//	features      = per-channel mean of the input pixels (in the model's own
//	                channel order and layout, after any scale/offset the
//	                caller applied), shape [N,C]
//	logits        = features · Weights + Bias, shape [N,K]
//	probabilities = softmax(logits) (or the logits themselves, named "logits",
//	                when Softmax is false)
//
// The graph is Cast(float) -> ReduceMean(spatial axes, keepdims=0) -> Gemm ->
// Softmax(axis=1), opset 13. A solid-colour frame therefore yields features
// equal to its colour, whatever resizing happened, which makes the expected
// probabilities a hand computation (see wantProbs).
type meanColourModel struct {
	Elem     onnx.DataType // element type of the input: Uint8, Float32 (or Int32 for a bad model)
	NCHW     bool
	Dims     []onnx.Dim // overrides the input shape (for bad models)
	Size     int64      // H = W; default 4
	Batch    onnx.Dim   // default symbolic "N"
	Weights  []float32  // C x K, row-major; default testWeights
	Bias     []float32  // K; default zeros
	Softmax  bool
	Metadata map[string]string
}

// testWeights make the three colour channels pull towards three different
// classes: class 0 likes channel 0, class 1 channel 1, class 2 channel 2,
// with different gains so the softmax is far from uniform.
var testWeights = []float32{
	0.02, 0.00, -0.01,
	0.00, 0.05, 0.00,
	-0.01, 0.00, 0.03,
}

func (m meanColourModel) build() onnx.Model {
	size := m.Size
	if size == 0 {
		size = 4
	}
	batch := m.Batch
	if batch == (onnx.Dim{}) {
		batch = onnx.Dim{Param: "N"}
	}
	dims := m.Dims
	axes := []int64{1, 2}
	if dims == nil {
		if m.NCHW {
			dims = []onnx.Dim{batch, {Value: 3}, {Value: size}, {Value: size}}
		} else {
			dims = []onnx.Dim{batch, {Value: size}, {Value: size}, {Value: 3}}
		}
	}
	if m.NCHW {
		axes = []int64{2, 3}
	}
	if len(dims) == 3 {
		axes = []int64{1}
	}
	w := m.Weights
	if w == nil {
		w = testWeights
	}
	k := int64(len(w) / 3)
	b := m.Bias
	if b == nil {
		b = make([]float32, k)
	}
	out := "probabilities"
	nodes := []onnx.Node{
		{Name: "cast", Op: "Cast", Inputs: []string{"image"}, Outputs: []string{"x"}, Attrs: []onnx.Attr{onnx.AttrInt("to", int64(onnx.Float32))}},
		{Name: "mean", Op: "ReduceMean", Inputs: []string{"x"}, Outputs: []string{"features"}, Attrs: []onnx.Attr{onnx.AttrInts("axes", axes...), onnx.AttrInt("keepdims", 0)}},
		{Name: "head", Op: "Gemm", Inputs: []string{"features", "w", "b"}, Outputs: []string{"logits"}},
	}
	if m.Softmax {
		nodes = append(nodes, onnx.Node{Name: "softmax", Op: "Softmax", Inputs: []string{"logits"}, Outputs: []string{out}, Attrs: []onnx.Attr{onnx.AttrInt("axis", 1)}})
	} else {
		out = "logits"
	}
	return onnx.Model{
		ProducerName: "rpscam-infer-test",
		Metadata:     m.Metadata,
		Graph: onnx.Graph{
			Name:  "mean_colour",
			Nodes: nodes,
			Initializers: []onnx.Tensor{
				{Name: "w", Type: onnx.Float32, Dims: []int64{3, k}, Float: w},
				{Name: "b", Type: onnx.Float32, Dims: []int64{k}, Float: b},
			},
			Inputs: []onnx.ValueInfo{{Name: "image", Type: m.Elem, Dims: dims}},
			Outputs: []onnx.ValueInfo{
				{Name: out, Type: onnx.Float32, Dims: []onnx.Dim{batch, {Value: k}}},
				{Name: "features", Type: onnx.Float32, Dims: []onnx.Dim{batch, {Value: 3}}},
			},
		},
	}
}

// rpsModel is the shape of rpscam's real export: uint8 NHWC RGB, softmax
// inside, labels in metadata.
func rpsModel() meanColourModel {
	return meanColourModel{Elem: onnx.Uint8, Softmax: true, Metadata: map[string]string{KeyLabels: "rock,paper,scissors"}}
}

// writeModel writes m into dir as name and returns the path.
func writeModel(t testing.TB, dir, name string, m onnx.Model) string {
	t.Helper()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// requireORT initialises ONNX Runtime or skips: the library is an external
// dependency scripts/setup.sh installs.
func requireORT(t testing.TB) { orttest.Init(t) }

// wantProbs is the hand computation of meanColourModel: softmax of
// features·W + b in float64.
func wantProbs(features []float64, w []float32, softmaxed bool) []float64 {
	k := len(w) / 3
	logits := make([]float64, k)
	for j := 0; j < k; j++ {
		for i := 0; i < 3; i++ {
			logits[j] += features[i] * float64(w[i*k+j])
		}
	}
	if !softmaxed {
		return logits
	}
	m := math.Inf(-1)
	for _, l := range logits {
		m = math.Max(m, l)
	}
	var sum float64
	p := make([]float64, k)
	for j, l := range logits {
		p[j] = math.Exp(l - m)
		sum += p[j]
	}
	for j := range p {
		p[j] /= sum
	}
	return p
}

func assertClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Fatalf("%s: got %v, want %v (index %d off by %g)", what, got, want, i, math.Abs(float64(got[i])-want[i]))
		}
	}
}

// solidFrame is a w x h BGR frame of one colour, closed at the end of the test.
func solidFrame(t testing.TB, w, h int, b, g, r float64) gocv.Mat {
	t.Helper()
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(b, g, r, 0), h, w, gocv.MatTypeCV8UC3)
	t.Cleanup(func() { m.Close() })
	return m
}

// paint fills rect of frame with a BGR colour.
func paint(frame gocv.Mat, rect image.Rectangle, b, g, r float64) {
	region := frame.Region(rect)
	region.SetTo(gocv.NewScalar(b, g, r, 0))
	region.Close()
}
