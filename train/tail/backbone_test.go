package tail

import (
	"path/filepath"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/sharedtest"
	"github.com/rpscam/rpscam/model"
)

// TestPretrainedTailContinuesTheTrunk: the trunk ONNX (cut at block_15_add,
// block_14_add, block_13_project or block_12_add for 0, 1 or 2 residual
// blocks, or those two and the stride-2 block_13; block_11_add or
// block_10_project with block_12, or block_11 and block_12, before it)
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
	for blocks, wantEnd := range []string{"block_15_add", "block_14_add", "block_13_project", "block_12_add", "block_11_add", "block_10_project"} {
		end, err := TrunkEnd(b, blocks)
		if err != nil || end != wantEnd {
			t.Fatalf("TrunkEnd(%d) = %q, %v; want %s", blocks, end, err, wantEnd)
		}
		acts := run([]model.BuildOption{model.Trunk(end)}, model.ActivationName)
		p, d, err := FromBackbone(b, nil, 3, blocks)
		if err != nil {
			t.Fatal(err)
		}
		want := mobileNetV2
		want.Residual = min(blocks, 2)
		if blocks >= 3 {
			want.DownIn, want.DownExpand, want.PreResidual = 96, 576, blocks-3
		}
		if d != want {
			t.Fatalf("DimsOf(backbone, %d blocks) = %+v, want %+v", blocks, d, want)
		}
		if len(acts) != n*d.InputLen() {
			t.Fatalf("trunk to %s gives %d values, the tail takes %d x %d", end, len(acts), n, d.InputLen())
		}
		s, err := NewSession(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Run(Batch{N: n, X: acts}, p)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		var maxDiff, maxVal float64
		for i := range features {
			maxDiff = max(maxDiff, abs(float64(features[i]-res.Pooled[i])))
			maxVal = max(maxVal, abs(float64(features[i])))
		}
		if maxVal < 0.1 || maxDiff > 1e-4*maxVal {
			t.Fatalf("trunk to %s + tail features differ from the backbone's by %g (max feature %g)", end, maxDiff, maxVal)
		}
		// The tail's layouts convert back to the backbone's exactly.
		_, _, tuned, err := ToModel(p, d, layersFor(blocks)...)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range layersFor(blocks) {
			l := b.Layers[b.LayerIndex(name)]
			if got := tuned[name]; !equal(got.Weights, l.Weights) || !equal(got.Bias, l.Bias) {
				t.Errorf("%d blocks: %s does not round-trip through the tail layout", blocks, name)
			}
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
