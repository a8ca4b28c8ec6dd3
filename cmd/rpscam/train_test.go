package main

import (
	"bytes"
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/model"
)

// TestTrainRejectsUnknownModes: bad flags are usage errors reported before
// anything is loaded, built or written.
func TestTrainRejectsUnknownModes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{"train", "--mode", "full"},
		{"train", "--mode", "finetune", "--tune", "everything"},
		{"train", "--mode", "finetune", "--ft-epochs", "0"},
		{"train", "--views", "0"},
		{"train", "--oversample", "sxsw"},
		{"train", "--oversample", "sxsw=0"},
		{"train", "--oversample", "=2"},
		{"train", "--mode", "head", "--oversample", "sxsw=2"},
		{"train", "--ft-mixup", "-0.2"},
		{"train", "--mode", "head", "--ft-mixup", "0.2"},
		{"train", "--ft-schedule", "linear"},
		{"train", "--mode", "head", "--ft-schedule", "cosine"},
		{"train", "--ft-ema", "1"},
		{"train", "--mode", "head", "--ft-ema", "0.99"},
		{"train", "--val-fraction", "0"},
		{"train", "--val-fraction", "0", "--epochs", "2"},
		{"train", "--mode", "head", "--val-fraction", "0"},
		{"train", "--train-share", "sxsw"},
		{"train", "--train-share", "sxsw=0"},
		{"train", "--train-share", "sxsw=1.5"},
		{"train", "--train-share", "=0.5"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(&cliEnv{stdout: &stdout, stderr: &stderr}, args)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want %d (usage); stderr: %s", args, code, exitUsage, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: printed %q before failing", args, stdout.String())
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("rejected runs left %d files behind (first %s)", len(left), left[0].Name())
	}
}

// TestTrainWithoutValidation runs the whole fine-tuning command on nine
// generated images with --val-fraction 0 (the refit on every group): it
// must train the given epochs and write a record and parameters that say
// there was no validation, instead of NaN figures (which JSON cannot hold).
// It also turns on options that are off by default (cosine schedule, class
// balancing), which the record's Reproduce line must carry.
func TestTrainWithoutValidation(t *testing.T) {
	shared, lib, tmp, data := tinyTrainingRun(t)
	recPath, paramsPath := filepath.Join(tmp, "record.json"), filepath.Join(tmp, "p.params")
	var stdout, stderr bytes.Buffer
	args := []string{"train", "--shared", shared, "--only-sources", "--source", "gen=" + data, "--train-share", "gen=1", "--tune", "conv1", "--views", "1",
		"--val-fraction", "0", "--epochs", "2", "--ft-epochs", "1", "--ft-schedule", "cosine", "--balance-classes", "--tests=false", "--trunk", filepath.Join(tmp, "trunk.onnx"),
		"--cache", filepath.Join(tmp, "cache"), "--params-out", paramsPath, "--record", recPath, "--out", "", "--curve", filepath.Join(tmp, "curve.png"), "--ort-lib", lib}
	if code := run(&cliEnv{stdout: &stdout, stderr: &stderr}, args); code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	for _, want := range []string{"validation: none", "head warm-up: 2 epochs", "Epoch 1/1 - "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	raw, err := os.ReadFile(recPath)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Reproduce  string           `json:"reproduce"`
		Validation *json.RawMessage `json:"validation"`
		History    []map[string]any `json:"history"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	for _, unwanted := range []string{"--record", "--cache", "--ort-lib", "--trunk", "--tests"} {
		if strings.Contains(rec.Reproduce, unwanted) {
			t.Errorf("reproduce line %q names %s, which does not shape the parameters", rec.Reproduce, unwanted)
		}
	}
	if len(rec.History) != 1 {
		t.Fatalf("record has %d epochs, want the 1 given", len(rec.History))
	}
	if v, ok := rec.History[0]["val_loss"]; rec.Validation != nil || !ok || v != nil {
		t.Errorf("record: validation %v, history %s: want null figures", rec.Validation, rec.History)
	}
	if !strings.Contains(rec.Reproduce, " --val-fraction 0 ") || !strings.Contains(rec.Reproduce, " --epochs 2 ") || !strings.Contains(rec.Reproduce, "--ft-epochs 1") {
		t.Errorf("reproduce line %q lacks the refit flags", rec.Reproduce)
	}
	// Options off by default must be repeated when on, and so must the
	// data and the weights.
	for _, want := range []string{" --ft-schedule cosine", " --balance-classes", " --weights tf2 ", " --only-sources", " --source gen=", " --views 1 ", " --train-share gen=1"} {
		if !strings.Contains(rec.Reproduce, want) {
			t.Errorf("reproduce line %q lacks %q", rec.Reproduce, want)
		}
	}
	p, err := model.ReadParams(paramsPath)
	if err != nil {
		t.Fatal(err)
	}
	if p.Meta["validation_accuracy"] != "" || !strings.Contains(p.Meta["validation"], "none") {
		t.Errorf("parameter metadata %v: want no validation figures and a note saying so", p.Meta)
	}
}

// TestTrainHeadModeRecord runs the tutorial recipe (--mode head) end to end
// on nine generated images, as a refit with class balancing: the record
// must repeat both options and hold no validation figures.
func TestTrainHeadModeRecord(t *testing.T) {
	shared, lib, tmp, data := tinyTrainingRun(t)
	recPath := filepath.Join(tmp, "record.json")
	var stdout, stderr bytes.Buffer
	args := []string{"train", "--mode", "head", "--shared", shared, "--only-sources", "--source", "gen=" + data, "--views", "1",
		"--val-fraction", "0", "--epochs", "3", "--balance-classes", "--backbone", filepath.Join(tmp, "backbone.onnx"),
		"--cache", filepath.Join(tmp, "cache"), "--params-out", filepath.Join(tmp, "p.params"), "--record", recPath, "--out", "", "--curve", "", "--ort-lib", lib}
	if code := run(&cliEnv{stdout: &stdout, stderr: &stderr}, args); code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	raw, err := os.ReadFile(recPath)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Mode       string           `json:"mode"`
		Reproduce  string           `json:"reproduce"`
		Validation *json.RawMessage `json:"validation"`
		History    []map[string]any `json:"history"`
		Fit        struct {
			Balance bool `json:"balance_classes"`
		} `json:"fit"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Mode != "head" || len(rec.History) != 3 || rec.Validation != nil || !rec.Fit.Balance {
		t.Errorf("record: mode %q, %d epochs, validation %v, balance_classes %v: want head, 3, null, true", rec.Mode, len(rec.History), rec.Validation, rec.Fit.Balance)
	}
	for _, want := range []string{"--mode head", " --weights tf2", " --balance-classes", " --val-fraction 0", " --epochs 3"} {
		if !strings.Contains(rec.Reproduce, want) {
			t.Errorf("reproduce line %q lacks %q", rec.Reproduce, want)
		}
	}
}

// tinyTrainingRun prepares an end-to-end training test, skipping it under
// -short or without the shared weights or ONNX Runtime: it returns the
// shared folder, the library, a temporary folder and in it a tiny
// separable source (three solid-colour images per class: rock red, paper
// green, scissors blue).
func tinyTrainingRun(t *testing.T) (shared, lib, tmp, data string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a (small) end-to-end training run")
	}
	shared = sharedWithWeights(t)
	lib, err := ort.FindLibrary("")
	if err != nil {
		t.Skip(err)
	}
	tmp = t.TempDir()
	data = filepath.Join(tmp, "gen")
	for class, c := range map[string]color.RGBA{"rock": {R: 255}, "paper": {G: 255}, "scissors": {B: 255}} {
		for _, name := range []string{"a.png", "b.png", "c.png"} {
			solid(t, filepath.Join(data, class, name), c)
		}
	}
	return shared, lib, tmp, data
}
