package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/sharedtest"
	"github.com/rpscam/rpscam/model"
)

// sharedWithWeights is the shared folder, skipping the test when the TF2
// MobileNet-v2 weights are not in it.
func sharedWithWeights(t *testing.T) string {
	t.Helper()
	return sharedtest.Dir(t, model.DefaultTFLitePath("", model.WeightsTF2))
}

func TestConvertAndExportCommands(t *testing.T) {
	shared := sharedWithWeights(t)
	tmp := t.TempDir()
	var out, errs bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errs}

	backbone := filepath.Join(tmp, "sub", "backbone.onnx")
	if code := run(env, []string{"convert", "--shared", shared, "--out", backbone}); code != exitOK {
		t.Fatalf("convert exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "2206816 parameters") || !strings.Contains(out.String(), "(tf2,") {
		t.Fatalf("convert output %q", out.String())
	}
	if st, err := os.Stat(backbone); err != nil || st.Size() < 8_000_000 {
		t.Fatalf("backbone file: %v", err)
	}

	p := &model.Params{Labels: []string{"rock", "paper", "scissors"}, HeadW: make([]float32, 3*model.FeatureSize), HeadB: []float32{1, 2, 3},
		Meta: map[string]string{model.MetaBackboneWeights: "slim"}}
	paramsPath := filepath.Join(tmp, "head.params")
	if err := model.WriteParams(paramsPath, p); err != nil {
		t.Fatal(err)
	}
	onnxPath := filepath.Join(tmp, "rps.onnx")
	out.Reset()
	if code := run(env, []string{"export", "--shared", shared, "--params", paramsPath, "--out", onnxPath, "--meta", "note=x"}); code != exitOK {
		t.Fatalf("export exit %d: %s", code, errs.String())
	}
	// The params say slim, so export must have used the slim file.
	if !strings.Contains(out.String(), model.WeightsSlim.File) || !strings.Contains(out.String(), "rock,paper,scissors") {
		t.Fatalf("export output %q", out.String())
	}
	// Two runs average element by element, and the average is written.
	q := &model.Params{Labels: p.Labels, HeadW: make([]float32, 3*model.FeatureSize), HeadB: []float32{3, 4, 5},
		Meta: map[string]string{model.MetaBackboneWeights: "slim", "validation_accuracy": "0.9"}}
	otherPath, avgPath := filepath.Join(tmp, "other.params"), filepath.Join(tmp, "avg.params")
	if err := model.WriteParams(otherPath, q); err != nil {
		t.Fatal(err)
	}
	if code := run(env, []string{"export", "--shared", shared, "--params", paramsPath, "--params", otherPath, "--params-out", avgPath, "--out", onnxPath}); code != exitOK {
		t.Fatalf("export of an average: exit %d: %s", code, errs.String())
	}
	avg, err := model.ReadParams(avgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(avg.HeadB, []float32{2, 3, 4}) || !strings.Contains(avg.Meta["averaged_from"], "head.params:") || avg.Meta["validation_accuracy"] != "" {
		t.Errorf("averaged params: biases %v, meta %v; want [2 3 4], averaged_from naming both files and no validation figure", avg.HeadB, avg.Meta)
	}
	q.Meta[model.MetaBackboneWeights] = "tf2"
	if err := model.WriteParams(otherPath, q); err != nil {
		t.Fatal(err)
	}
	errs.Reset()
	if code := run(env, []string{"export", "--shared", shared, "--params", paramsPath, "--params", otherPath, "--out", onnxPath}); code == exitOK ||
		!strings.Contains(errs.String(), "same backbone") {
		t.Fatalf("averaging runs of two backbones: exit %d, %q", code, errs.String())
	}
	errs.Reset()
	if code := run(env, []string{"export", "--shared", shared, "--params", paramsPath, "--weights", "tf2", "--out", onnxPath}); code != exitUsage ||
		!strings.Contains(errs.String(), "trained on slim") {
		t.Fatalf("mismatched weights: exit %d, %q", code, errs.String())
	}
	errs.Reset()
	if code := run(env, []string{"export", "--params", filepath.Join(tmp, "missing.params"), "--out", onnxPath}); code != exitUsage ||
		!strings.Contains(errs.String(), "rpscam train") {
		t.Fatalf("missing params: exit %d, %q", code, errs.String())
	}
	errs.Reset()
	if code := run(env, []string{"convert", "--shared", filepath.Join(tmp, "nowhere")}); code != exitUsage || !strings.Contains(errs.String(), "RPSCAM_SHARED") {
		t.Fatalf("missing shared: exit %d, %q", code, errs.String())
	}
	if code := run(env, []string{"convert", "--weights", "bogus", "--shared", shared}); code != exitUsage {
		t.Fatalf("bad --weights: exit %d", code)
	}
}
