package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/sharedtest"
)

// assembledModel returns the ONNX Runtime library and the model
// scripts/setup.sh assembles, skipping the test (named by what) under -short
// or when either is missing.
func assembledModel(t *testing.T, what string) (lib, modelPath string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping " + what)
	}
	lib, err := ort.FindLibrary("")
	if err != nil {
		t.Skip(err)
	}
	modelPath = filepath.Join("..", "..", "models", "rps_mobilenetv2.onnx")
	if _, err := os.Stat(modelPath); err != nil {
		t.Skipf("%s not assembled (run scripts/setup.sh): %v", modelPath, err)
	}
	return lib, modelPath
}

// TestAssembledModelOnCGITest is the end-to-end check: the model
// scripts/setup.sh assembles scores at least 99% on the official TFDS test
// split through rpscam eval (the live preprocessing).
func TestAssembledModelOnCGITest(t *testing.T) {
	lib, modelPath := assembledModel(t, "the 372-image end-to-end evaluation")
	data := filepath.Join(sharedtest.Dir(t, "data", "rps-cgi", "test"), "data", "rps-cgi", "test")
	jsonPath := filepath.Join(t.TempDir(), "cgi.json")
	var stdout, stderr bytes.Buffer
	if code := run(&cliEnv{stdout: &stdout, stderr: &stderr}, []string{"eval", "--data", data, "--model", modelPath, "--ort-lib", lib, "--json", jsonPath}); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep struct {
		Accuracy float64 `json:"accuracy"`
		N        int     `json:"n"`
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.N != 372 || rep.Accuracy < 0.99 {
		t.Fatalf("accuracy %.4f on %d images, want >= 0.99 on 372\n%s", rep.Accuracy, rep.N, stdout.String())
	}
	t.Logf("CGI test accuracy %.4f", rep.Accuracy)
}

// TestValidationSplitMatchesTheTrainingRecord: rpscam eval --validation
// scores the very images rpscam train validated on, through the live
// preprocessing, and agrees with the validation accuracy the committed
// training record states (the record's figure comes from float16-cached
// activations, so one or two borderline images may fall the other way).
func TestValidationSplitMatchesTheTrainingRecord(t *testing.T) {
	lib, modelPath := assembledModel(t, "the 937-image validation run")
	root := filepath.Join("..", "..")
	shared := sharedtest.Dir(t, "data", "rps-real", "sxsw", "train")
	var record struct {
		SplitSeed   uint64  `json:"split_seed"`
		ValFraction float64 `json:"val_fraction"`
		Validation  struct {
			Accuracy float64            `json:"accuracy"`
			BySource map[string]float64 `json:"accuracy_by_source"`
		} `json:"validation"`
		Sources []struct {
			Validation int `json:"validation_images"`
		} `json:"sources"`
	}
	raw, err := os.ReadFile(filepath.Join(root, "models", "training-record.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &record); err != nil {
		t.Fatal(err)
	}
	wantN := 0
	for _, s := range record.Sources {
		wantN += s.Validation
	}
	jsonPath := filepath.Join(t.TempDir(), "val.json")
	var stdout, stderr bytes.Buffer
	args := []string{"eval", "--validation", "--shared", shared, "--split-seed", strconv.FormatUint(record.SplitSeed, 10),
		"--val-fraction", strconv.FormatFloat(record.ValFraction, 'g', -1, 64), "--model", modelPath, "--ort-lib", lib, "--json", jsonPath}
	if code := run(&cliEnv{stdout: &stdout, stderr: &stderr}, args); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep struct {
		N        int                `json:"n"`
		Accuracy float64            `json:"accuracy"`
		BySource map[string]float64 `json:"accuracy_by_source"`
		Split    string             `json:"split"`
	}
	if raw, err = os.ReadFile(jsonPath); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.N != wantN || rep.Split != "validation" {
		t.Fatalf("scored %d images of split %q, the record validated on %d", rep.N, rep.Split, wantN)
	}
	if diff := math.Abs(rep.Accuracy-record.Validation.Accuracy) * float64(rep.N); diff > 2.5 {
		t.Errorf("validation accuracy %.4f, the record says %.4f: %.0f images apart", rep.Accuracy, record.Validation.Accuracy, diff)
	}
	for src, acc := range record.Validation.BySource {
		if _, ok := rep.BySource[src]; !ok {
			t.Errorf("no accuracy for source %s (record: %.4f)", src, acc)
		}
	}
	t.Logf("validation accuracy %.4f (record %.4f), by source %v", rep.Accuracy, record.Validation.Accuracy, rep.BySource)
}
