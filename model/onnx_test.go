package model

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/nn"
)

func randomImages(seed uint64, n int) []uint8 {
	r := rand.New(rand.NewPCG(seed, 1))
	px := make([]uint8, n*InputSize*InputSize*InputColours)
	for i := range px {
		px[i] = uint8(r.IntN(256))
	}
	return px
}

// TestBackboneONNXMatchesReference runs the converted graph in ONNX Runtime
// and the plain-Go reference on two random images, for both files. Both
// compute in float32 with different summation orders, so they agree to
// rounding: the tolerance is 1e-4 of the largest feature (features are in
// [0, 6]).
func TestBackboneONNXMatchesReference(t *testing.T) {
	initORT(t)
	for _, w := range KnownWeights() {
		t.Run(w.Name, func(t *testing.T) {
			b := loadBackbone(t, w)
			m, err := BuildONNX(b, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			data, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s := newSession(t, data, []string{FeaturesName}, 0)
			px := randomImages(7, 2)
			got, shapes := s.run(t, px, 2)
			if shapes[0][0] != 2 || shapes[0][1] != FeatureSize {
				t.Fatalf("features shape %v, want [2 %d]", shapes[0], FeatureSize)
			}
			x, err := normalize(px, 2, InputSize, InputSize)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := b.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			diff, scale := maxAbsDiff(got[0], ref.Data)
			t.Logf("%s: max |ORT - reference| = %.3g, max |feature| = %.3g", w.Name, diff, scale)
			if scale < 0.1 {
				t.Fatalf("features are all near zero (max %g): the network is dead", scale)
			}
			if diff > 1e-4*scale {
				t.Fatalf("ORT features differ from the reference by %g (max feature %g)", diff, scale)
			}
		})
	}
}

func TestLoadBackboneStructure(t *testing.T) {
	for _, w := range KnownWeights() {
		t.Run(w.Name, func(t *testing.T) {
			b := loadBackbone(t, w)
			if b.Source.Weights.Name != w.Name || b.Source.SHA256 != w.SHA256 {
				t.Fatalf("source %+v, want %s", b.Source, w.Name)
			}
			counts := map[LayerKind]int{}
			for _, l := range b.Layers {
				counts[l.Kind]++
			}
			// 36 CONV_2D in the file = 35 here + the ImageNet classifier.
			if counts[Conv] != 35 || counts[Depthwise] != 17 || counts[Add] != 10 {
				t.Fatalf("layer counts %v, want conv 35, depthwise 17, add 10", counts)
			}
			if got := b.ParamCount(); got != 2206816 {
				t.Fatalf("ParamCount %d, want 2206816", got)
			}
			if b.ImageNet == nil || b.ImageNet.OutChannels != 1001 || len(b.ImageNet.Weights) != 1001*FeatureSize {
				t.Fatalf("ImageNet head %+v", b.ImageNet)
			}
			want := map[string]struct {
				kind                  LayerKind
				stride, in, out, size int
			}{
				"Conv1":                   {Conv, 2, 3, 32, 112},
				"expanded_conv_depthwise": {Depthwise, 1, 32, 32, 112},
				"expanded_conv_project":   {Conv, 1, 32, 16, 112},
				"block_1_depthwise":       {Depthwise, 2, 96, 96, 56},
				"block_16_project":        {Conv, 1, 960, 320, 7},
				"Conv_1":                  {Conv, 1, 320, 1280, 7},
				"block_2_add":             {Add, 0, 24, 24, 56},
				"block_15_add":            {Add, 0, 160, 160, 7},
			}
			for name, w := range want {
				i := b.LayerIndex(name)
				if i < 0 {
					t.Fatalf("no layer %s", name)
				}
				l := b.Layers[i]
				if l.Kind != w.kind || l.Stride != w.stride || l.InChannels != w.in || l.OutChannels != w.out || l.OutSize != w.size {
					t.Errorf("%s = %v stride %d %d->%d size %d, want %+v", name, l.Kind, l.Stride, l.InChannels, l.OutChannels, l.OutSize, w)
				}
			}
			// Residual wiring: block_2_add sums block_2_project and block_1_project.
			add := b.Layers[b.LayerIndex("block_2_add")]
			p1, p2 := b.LayerIndex("block_1_project"), b.LayerIndex("block_2_project")
			if !(add.Inputs[0] == p1 && add.Inputs[1] == p2) && !(add.Inputs[0] == p2 && add.Inputs[1] == p1) {
				t.Errorf("block_2_add inputs %v", add.Inputs)
			}
			if l := b.Layers[b.LayerIndex("block_16_project")]; l.ReLU6 {
				t.Error("projection has ReLU6")
			}
			if l := b.Layers[b.LayerIndex("block_16_expand")]; !l.ReLU6 {
				t.Error("expansion lacks ReLU6")
			}
		})
	}
}

func TestLoadBackboneRejectsUnknownFile(t *testing.T) {
	dir := sharedDir(t)
	data, err := os.ReadFile(DefaultTFLitePath(dir, WeightsSlim))
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, 0) // same model, different checksum
	p := filepath.Join(t.TempDir(), "other.tflite")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBackbone(p); !errors.Is(err, ErrUnknownFile) {
		t.Fatalf("want ErrUnknownFile, got %v", err)
	}
	b, err := LoadBackbone(p, allowUnknownFile())
	if err != nil || len(b.Layers) != 62 || b.Source.Weights.Name != "" {
		t.Fatalf("AllowUnknownFile: %v", err)
	}
	if _, err := LoadBackbone(filepath.Join(dir, "models", "mobilenet_v2", "imagenet_labels.txt"), allowUnknownFile()); err == nil {
		t.Fatal("labels text accepted as a TFLite model")
	}
}

// TestBuildONNXKnownHead checks the head arithmetic against Go computed from
// the graph's own features output, the metadata contract, and that
// fine-tuned layers replace the backbone's: with Conv_1's weights zeroed and
// its biases set, every feature is relu6(bias).
func TestBuildONNXKnownHead(t *testing.T) {
	initORT(t)
	b := loadBackbone(t, WeightsTF2)
	r := rand.New(rand.NewPCG(3, 4))
	head := &Params{Labels: []string{"rock", "paper", "scissors"}, HeadW: make([]float32, 3*FeatureSize), HeadB: []float32{0.5, -0.25, 0.1},
		Meta: map[string]string{"trained": "2024-01-01", "labels": "ignored"}}
	for i := range head.HeadW {
		head.HeadW[i] = float32(r.NormFloat64() * 0.05)
	}
	m, err := BuildONNX(b, head, map[string]string{"val_accuracy": "0.99"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(t, data, []string{probabilitiesName, FeaturesName}, 0)
	out, shapes := s.run(t, randomImages(11, 2), 2)
	if shapes[0][0] != 2 || shapes[0][1] != 3 || shapes[1][1] != FeatureSize {
		t.Fatalf("output shapes %v", shapes)
	}
	feat, err := nn.FromData(out[1], 2, FeatureSize)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := nn.Dense(feat, head.HeadW, head.HeadB, 3)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := nn.Softmax(logits)
	if diff, _ := maxAbsDiff(out[0], want.Data); diff > 1e-5 {
		t.Fatalf("probabilities %v, softmax(W·features+b) = %v", out[0], want.Data)
	}
	md := m.Metadata
	for k, v := range map[string]string{metaLabels: "rock,paper,scissors", metaInputLayout: "NHWC", metaInputColor: "RGB",
		metaOutputKind: "probabilities", metaProducer: "rpscam", "trained": "2024-01-01", "val_accuracy": "0.99",
		metaSourceWeights: WeightsTF2.File + " sha256:" + WeightsTF2.SHA256} {
		if md[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, md[k], v)
		}
	}

	conv1 := b.Layers[b.LayerIndex("Conv_1")]
	tuned := LayerParams{Weights: make([]float32, len(conv1.Weights)), Bias: make([]float32, len(conv1.Bias))}
	for i := range tuned.Bias {
		tuned.Bias[i] = float32(i%9) - 1 // -1..7: relu6 gives 0..6
	}
	head.Layers = map[string]LayerParams{"Conv_1": tuned}
	m, err = BuildONNX(b, head, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = m.Marshal()
	out, _ = newSession(t, data, []string{FeaturesName}, 0).run(t, randomImages(12, 1), 1)
	for i, f := range out[0] {
		if want := min(max(tuned.Bias[i], 0), 6); f != want {
			t.Fatalf("feature %d = %g with fine-tuned Conv_1, want %g", i, f, want)
		}
	}
	head.Layers = map[string]LayerParams{"block_99_project": tuned}
	if _, err := BuildONNX(b, head, nil); err == nil || !strings.Contains(err.Error(), "block_99_project") {
		t.Fatalf("unknown fine-tuned layer: %v", err)
	}
	head.Layers = map[string]LayerParams{"Conv_1": {Weights: tuned.Weights[:10], Bias: tuned.Bias}}
	if _, err := BuildONNX(b, head, nil); err == nil {
		t.Fatal("wrong-sized fine-tuned layer accepted")
	}
}

// TestMetadataKeysMatchInfer keeps the exporter and the loader on one contract.
func TestMetadataKeysMatchInfer(t *testing.T) {
	for mine, theirs := range map[string]string{
		metaLabels: infer.KeyLabels, metaInputLayout: infer.KeyInputLayout, metaInputColor: infer.KeyInputColor,
		metaOutputKind: infer.KeyOutputKind, InputName: infer.InputName, FeaturesName: infer.FeaturesName,
		probabilitiesName: infer.ProbabilitiesName,
	} {
		if mine != theirs {
			t.Errorf("model writes %q where infer reads %q", mine, theirs)
		}
	}
}
