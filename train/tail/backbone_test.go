package tail

import (
	"path/filepath"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/sharedtest"
	"github.com/rpscam/rpscam/model"
)

// TestPretrainedTailContinuesTheTrunk: the trunk ONNX (cut at block_15_add)
// followed by the tail graph with the backbone's own weights gives the same
// pooled features as the whole backbone. This pins the cut point, the NHWC
// hand-over and FromBackbone's layout conversion on the real weights.
func TestPretrainedTailContinuesTheTrunk(t *testing.T) {
	initORT(t)
	rel := model.DefaultTFLitePath("", model.WeightsTF2)
	b, err := model.LoadBackbone(filepath.Join(sharedtest.Dir(t, rel), rel))
	if err != nil {
		t.Fatal(err)
	}
	const n = 2
	px := make([]uint8, n*model.InputSize*model.InputSize*model.InputColours)
	for i := range px {
		px[i] = uint8((i*7919 + i/673) % 251)
	}
	run := func(opts []model.BuildOption, output string) []float32 {
		m, err := model.BuildONNX(b, nil, nil, opts...)
		if err != nil {
			t.Fatal(err)
		}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		s, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(data, []string{model.InputName}, []string{output}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Destroy()
		in, err := onnxruntime.NewTensor(onnxruntime.NewShape(n, model.InputSize, model.InputSize, model.InputColours), px)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Destroy()
		outs := []onnxruntime.Value{nil}
		if err := s.Run([]onnxruntime.Value{in}, outs); err != nil {
			t.Fatal(err)
		}
		defer outs[0].Destroy()
		return append([]float32(nil), outs[0].(*onnxruntime.Tensor[float32]).GetData()...)
	}
	features := run(nil, model.FeaturesName)
	acts := run([]model.BuildOption{model.Trunk("block_15_add")}, model.ActivationName)

	p, d, err := FromBackbone(b, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d != MobileNetV2 {
		t.Fatalf("DimsOf(backbone) = %+v, want %+v", d, MobileNetV2)
	}
	s, err := NewSession(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Run(Batch{N: n, X: acts}, p)
	if err != nil {
		t.Fatal(err)
	}
	var maxDiff, maxVal float64
	for i := range features {
		maxDiff = max(maxDiff, abs(float64(features[i]-res.Pooled[i])))
		maxVal = max(maxVal, abs(float64(features[i])))
	}
	if maxVal < 0.1 || maxDiff > 1e-4*maxVal {
		t.Fatalf("trunk + tail features differ from the backbone's by %g (max feature %g)", maxDiff, maxVal)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
