package infer

import (
	"errors"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/onnx"
)

// solidImages makes n 4x4 NHWC images, image i filled with colours[i].
func solidImages(colours [][3]uint8) []uint8 {
	out := make([]uint8, 0, len(colours)*48)
	for _, c := range colours {
		for p := 0; p < 16; p++ {
			out = append(out, c[0], c[1], c[2])
		}
	}
	return out
}

func TestBatchRunnerFeaturesAndProbabilities(t *testing.T) {
	requireORT(t)
	path := writeModel(t, t.TempDir(), "rps.onnx", rpsModel().build())
	feat, err := LoadBatchRunner(path, "features", 4, WithDevice(DeviceCPU))
	if err != nil {
		t.Fatal(err)
	}
	defer feat.Close()
	if feat.OutputDim() != 3 || feat.Provider() != "CPU" {
		t.Fatalf("OutputDim %d provider %q", feat.OutputDim(), feat.Provider())
	}
	colours := [][3]uint8{{1, 2, 3}, {200, 100, 0}, {9, 9, 9}, {0, 0, 255}}
	got, err := feat.Run(solidImages(colours), 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range colours {
		assertClose(t, "features", got[i*3:i*3+3], []float64{float64(c[0]), float64(c[1]), float64(c[2])}, 0)
	}
	// A short batch returns only its own rows.
	got, err = feat.Run(solidImages(colours[1:3]), 2)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "short batch", got, []float64{200, 100, 0, 9, 9, 9}, 0)

	probs, err := LoadBatchRunner(path, "", 2, WithDevice(DeviceCPU))
	if err != nil {
		t.Fatal(err)
	}
	defer probs.Close()
	if probs.Contract().OutputName != "probabilities" {
		t.Fatalf("default output %q", probs.Contract().OutputName)
	}
	got, err = probs.Run(solidImages(colours[:2]), 2)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "probabilities 0", got[:3], wantProbs([]float64{1, 2, 3}, testWeights, true), 1e-5)
	assertClose(t, "probabilities 1", got[3:], wantProbs([]float64{200, 100, 0}, testWeights, true), 1e-5)

	for _, tc := range []struct {
		images []uint8
		n      int
		want   string
	}{
		{solidImages(colours[:3]), 3, "want 1..2"},
		{solidImages(colours[:1]), 2, "want 96"},
		{nil, 0, "want 1..2"},
	} {
		if _, err := probs.Run(tc.images, tc.n); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("Run(%d bytes, %d): %v, want %q", len(tc.images), tc.n, err, tc.want)
		}
	}
}

// A float32 NCHW model gets the uint8 NHWC images converted per its contract.
func TestBatchRunnerFloatModel(t *testing.T) {
	requireORT(t)
	m := meanColourModel{Elem: onnx.Float32, NCHW: true, Softmax: true, Metadata: map[string]string{KeyInputScale: "2", KeyInputOffset: "1,0,-1"}}
	r, err := LoadBatchRunner(writeModel(t, t.TempDir(), "f.onnx", m.build()), "features", 3, WithDevice(DeviceCPU))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Run(solidImages([][3]uint8{{1, 2, 3}, {10, 20, 30}}), 2)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "features", got, []float64{3, 4, 5, 21, 40, 59}, 1e-5)
	r.Close()
	if _, err := r.Run(solidImages([][3]uint8{{1, 2, 3}}), 1); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

func TestLoadBatchRunnerRejects(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	fixed := rpsModel()
	fixed.Batch = onnx.Dim{Value: 1}
	path := writeModel(t, dir, "fixed.onnx", fixed.build())
	_, err := LoadBatchRunner(path, "", 8, WithDevice(DeviceCPU))
	var me *ModelError
	if !errors.As(err, &me) || !strings.Contains(me.Problem, "fixed batch size 1") {
		t.Fatalf("fixed batch: %v", err)
	}
	if _, err := LoadBatchRunner(path, "", 0); err == nil || !strings.Contains(err.Error(), "batch size 0") {
		t.Fatalf("batch 0: %v", err)
	}
	r, err := LoadBatchRunner(path, "", 1, WithDevice(DeviceCPU))
	if err != nil {
		t.Fatalf("batch 1 on a fixed batch-1 model: %v", err)
	}
	r.Close()
}
