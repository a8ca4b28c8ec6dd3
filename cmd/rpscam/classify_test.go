package main

import (
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/infer/imagefiles"
	"gocv.io/x/gocv"
)

func writeSolidImage(t *testing.T, path string, c color.RGBA) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0), 40, 60, gocv.MatTypeCV8UC3)
	defer m.Close()
	if !gocv.IMWrite(path, m) {
		t.Fatalf("writing %s", path)
	}
}

// classTree makes rock/ (2 red), paper/ (1 green), scissors/ (1 blue, 1 red:
// misclassified as rock) and a corrupt file in rock/.
func classTree(t *testing.T) string {
	dir := t.TempDir()
	red, green, blue := color.RGBA{R: 255}, color.RGBA{G: 255}, color.RGBA{B: 255}
	writeSolidImage(t, filepath.Join(dir, "rock", "r1.png"), red)
	writeSolidImage(t, filepath.Join(dir, "rock", "r2.jpg"), red)
	writeSolidImage(t, filepath.Join(dir, "paper", "p1.png"), green)
	writeSolidImage(t, filepath.Join(dir, "scissors", "s1.png"), blue)
	writeSolidImage(t, filepath.Join(dir, "scissors", "s2.png"), red)
	if err := os.WriteFile(filepath.Join(dir, "rock", "broken.jpg"), []byte("not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestClassifyClassFolders(t *testing.T) {
	model := tinyModelFile(t)
	dir := classTree(t)
	code, stdout, stderr := runCmd(t, "classify", "--model", model, "--device", "cpu", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		filepath.Join(dir, "paper", "p1.png") + ": paper 100.0%",
		"Actual: scissors  Predicted: rock\n",
		"Actual: scissors  Predicted: scissors\n",
		"Accuracy: 80.0% (4 of 5)\n",
		"Skipped: 1 unreadable image(s)\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "skipping "+filepath.Join(dir, "rock", "broken.jpg")) {
		t.Errorf("no warning for the corrupt image: %s", stderr)
	}
}

func TestClassifyJSON(t *testing.T) {
	model := tinyModelFile(t)
	dir := classTree(t)
	code, stdout, stderr := runCmd(t, "classify", "--model", model, "--device", "cpu", "--json", dir, filepath.Join(dir, "paper", "p1.png"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r imagefiles.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(r.Images) != 5 || len(r.Skipped) != 1 || r.Labelled != 5 || r.Correct != 4 || r.Accuracy != 0.8 {
		t.Fatalf("images %d skipped %d labelled %d correct %d accuracy %v", len(r.Images), len(r.Skipped), r.Labelled, r.Correct, r.Accuracy)
	}
	for _, im := range r.Images {
		if im.Probabilities[im.Predicted] != im.Confidence || len(im.Probabilities) != 3 {
			t.Errorf("%s: probabilities %v, predicted %s at %v", im.Path, im.Probabilities, im.Predicted, im.Confidence)
		}
	}
}

func TestClassifySingleFilesAndErrors(t *testing.T) {
	model := tinyModelFile(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "hand.png")
	writeSolidImage(t, p, color.RGBA{G: 200, R: 120})
	code, stdout, _ := runCmd(t, "classify", "--model", model, "--device", "cpu", "--threshold", "0.99", p)
	// logits 0.1*[120, 200, 0]: paper with about 0.9997, above 0.99.
	if code != 0 || !strings.Contains(stdout, "hand.png: paper 100.0%") || strings.Contains(stdout, "Accuracy") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	writeSolidImage(t, p, color.RGBA{G: 200, R: 190})
	// logits 0.1*[190, 200, 0]: paper at 1/(1+e^-1) = 73.1%, below 0.99.
	if _, stdout, _ := runCmd(t, "classify", "--model", model, "--device", "cpu", "--threshold", "0.99", p); !strings.Contains(stdout, "paper (uncertain) 73.1%") {
		t.Fatalf("want an uncertain paper at 73.1%%:\n%s", stdout)
	}
	if code, _, stderr := runCmd(t, "classify", "--model", model); code != 2 || !strings.Contains(stderr, "at least one image") {
		t.Fatalf("no arguments: exit %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, "classify", "--model", model, filepath.Join(dir, "missing.png")); code != 2 {
		t.Fatalf("missing file: exit %d, want 2", code)
	}
	bad := filepath.Join(dir, "only", "bad.jpg")
	os.MkdirAll(filepath.Dir(bad), 0o755)
	os.WriteFile(bad, []byte("x"), 0o644)
	if code, _, stderr := runCmd(t, "classify", "--model", model, "--device", "cpu", bad); code != 1 || !strings.Contains(stderr, "none of the 1 image(s)") {
		t.Fatalf("only unreadable images: exit %d %s", code, stderr)
	}
}
