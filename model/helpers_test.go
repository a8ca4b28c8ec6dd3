package model

import (
	"math"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/ort/orttest"
	"github.com/rpscam/rpscam/internal/sharedtest"
)

// sharedDir returns the shared folder, skipping the test when the TF2
// weights are not in it.
func sharedDir(t testing.TB) string {
	t.Helper()
	return sharedtest.Dir(t, "models", "mobilenet_v2", WeightsTF2.File)
}

// loadBackbones caches the two dequantized files across tests.
var backboneCache = map[string]*Backbone{}

func loadBackbone(t testing.TB, w Weights) *Backbone {
	t.Helper()
	dir := sharedDir(t)
	if b := backboneCache[w.Name]; b != nil {
		return b
	}
	b, err := LoadBackbone(DefaultTFLitePath(dir, w))
	if err != nil {
		t.Fatal(err)
	}
	backboneCache[w.Name] = b
	return b
}

// initORT initialises ONNX Runtime, skipping when the library is absent.
func initORT(t testing.TB) { orttest.Init(t) }

// session is an ONNX Runtime session over a marshalled model.
type session struct {
	s       *onnxruntime.DynamicAdvancedSession
	outputs []string
}

func newSession(t testing.TB, data []byte, outputs []string, threads int) *session {
	t.Helper()
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			t.Fatal(err)
		}
		if err := opts.SetInterOpNumThreads(1); err != nil {
			t.Fatal(err)
		}
	}
	s, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(data, []string{InputName}, outputs, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Destroy() })
	return &session{s: s, outputs: outputs}
}

// run feeds uint8 NHWC images and returns each output's data and shape.
func (s *session) run(t testing.TB, pixels []uint8, n int) ([][]float32, [][]int64) {
	t.Helper()
	in, err := onnxruntime.NewTensor(onnxruntime.NewShape(int64(n), InputSize, InputSize, InputColours), pixels)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := make([]onnxruntime.Value, len(s.outputs))
	if err := s.s.Run([]onnxruntime.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	data := make([][]float32, len(outs))
	shapes := make([][]int64, len(outs))
	for i, o := range outs {
		ft, ok := o.(*onnxruntime.Tensor[float32])
		if !ok {
			t.Fatalf("output %s is %T, want float32 tensor", s.outputs[i], o)
		}
		data[i] = append([]float32(nil), ft.GetData()...)
		shapes[i] = ft.GetShape()
		o.Destroy()
	}
	return data, shapes
}

// maxAbsDiff returns the largest |a-b| and the largest |b|.
func maxAbsDiff(a, b []float32) (diff, scale float64) {
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = math.Max(scale, math.Abs(float64(b[i])))
	}
	return diff, scale
}
