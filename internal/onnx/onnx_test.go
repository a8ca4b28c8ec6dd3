package onnx_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/ort/orttest"
)

// TestRoundTripThroughONNXRuntime writes a tiny dense+softmax model with known
// weights and checks ONNX Runtime computes exactly what the weights say, and
// that the metadata comes back.
func TestRoundTripThroughONNXRuntime(t *testing.T) {
	orttest.Init(t)
	m := onnx.Model{
		ProducerName: "rpscam-test",
		Metadata:     map[string]string{"labels": "a,b"},
		Graph: onnx.Graph{
			Name: "tiny",
			Nodes: []onnx.Node{
				{Name: "cast", Op: "Cast", Inputs: []string{"x"}, Outputs: []string{"xf"}, Attrs: []onnx.Attr{onnx.AttrInt("to", int64(onnx.Float32))}},
				{Name: "gemm", Op: "Gemm", Inputs: []string{"xf", "w", "b"}, Outputs: []string{"logits"}},
				{Name: "softmax", Op: "Softmax", Inputs: []string{"logits"}, Outputs: []string{"probs"}, Attrs: []onnx.Attr{onnx.AttrInt("axis", 1)}},
			},
			Initializers: []onnx.Tensor{
				{Name: "w", Type: onnx.Float32, Dims: []int64{2, 2}, Float: []float32{1, 0, 0, 1}},
				{Name: "b", Type: onnx.Float32, Dims: []int64{2}, Float: []float32{0, 1}},
			},
			Inputs:  []onnx.ValueInfo{{Name: "x", Type: onnx.Uint8, Dims: []onnx.Dim{{Param: "N"}, {Value: 2}}}},
			Outputs: []onnx.ValueInfo{{Name: "probs", Type: onnx.Float32, Dims: []onnx.Dim{{Param: "N"}, {Value: 2}}}},
		},
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := onnxruntime.NewTensor(onnxruntime.NewShape(1, 2), []uint8{3, 1})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	out, err := onnxruntime.NewEmptyTensor[float32](onnxruntime.NewShape(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Destroy()
	s, err := onnxruntime.NewAdvancedSession(path, []string{"x"}, []string{"probs"}, []onnxruntime.Value{in}, []onnxruntime.Value{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	// logits = [3, 2] -> softmax
	want0 := float32(math.Exp(1) / (math.Exp(1) + 1))
	got := out.GetData()
	if math.Abs(float64(got[0]-want0)) > 1e-6 || math.Abs(float64(got[0]+got[1]-1)) > 1e-6 {
		t.Fatalf("probs %v, want [%v %v]", got, want0, 1-want0)
	}
	md, err := s.GetModelMetadata()
	if err != nil {
		t.Fatal(err)
	}
	defer md.Destroy()
	if v, ok, _ := md.LookupCustomMetadataMap("labels"); !ok || v != "a,b" {
		t.Fatalf("metadata labels = %q, %v", v, ok)
	}
}

func TestMarshalRejectsWrongDataLength(t *testing.T) {
	m := onnx.Model{Graph: onnx.Graph{Initializers: []onnx.Tensor{{Name: "w", Type: onnx.Float32, Dims: []int64{2, 2}, Float: []float32{1}}}}}
	if _, err := m.Marshal(); err == nil {
		t.Fatal("want error for 1 value in a 2x2 tensor")
	}
}
