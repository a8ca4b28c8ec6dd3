package main

import (
	"encoding/json"
	"image/color"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer/imagefiles"
	"github.com/rpscam/rpscam/internal/tinymodel"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/session"
)

// tinyNoHandModelFile writes the 4-class mean-colour model (red rock, green
// paper, blue scissors, black or dark "none"), skipping without ONNX Runtime.
func tinyNoHandModelFile(t *testing.T) string {
	t.Helper()
	dir := filepath.Dir(tinyModelFile(t)) // skips when ONNX Runtime is missing
	p := filepath.Join(dir, "tiny4.onnx")
	if err := tinymodel.Write(p, tinymodel.MeanColourNoHand(8)); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClassifyShowsNoHand(t *testing.T) {
	model := tinyNoHandModelFile(t)
	dir := t.TempDir()
	writeSolidImage(t, filepath.Join(dir, "none", "empty.png"), color.RGBA{})
	writeSolidImage(t, filepath.Join(dir, "rock", "fist.png"), color.RGBA{R: 255})
	code, stdout, stderr := runCmd(t, "classify", "--model", model, "--device", "cpu", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		// e^10/(e^10+3) = 0.99986 and 1/(e^10+3) = 0.00005 each.
		filepath.Join(dir, "none", "empty.png") + ": no hand 100.0%  [rock 0.000, paper 0.000, scissors 0.000, no hand 1.000]\n",
		"Actual: no hand  Predicted: no hand\n",
		filepath.Join(dir, "rock", "fist.png") + ": rock 100.0%  [rock 1.000, paper 0.000, scissors 0.000, no hand 0.000]\n",
		"Actual: rock  Predicted: rock\n",
		"Accuracy: 100.0% (2 of 2)\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(strings.ReplaceAll(stdout, filepath.Join(dir, "none"), "DIR"), "none") {
		t.Errorf("the no-hand class is printed by its model label:\n%s", stdout)
	}

	// --json keeps the model's label and adds what to show.
	code, stdout, stderr = runCmd(t, "classify", "--model", model, "--device", "cpu", "--json", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r imagefiles.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	got := map[string]imagefiles.Result{}
	for _, im := range r.Images {
		got[filepath.Base(im.Path)] = im
	}
	if e := got["empty.png"]; e.Predicted != "none" || e.Actual != "none" || e.Display != "no hand" || e.Hand || len(e.Probabilities) != 4 || e.Probabilities["none"] != e.Confidence {
		t.Errorf("empty.png: %+v, want predicted none, display no hand, hand false", e)
	}
	if f := got["fist.png"]; f.Predicted != "rock" || f.Display != "rock" || !f.Hand {
		t.Errorf("fist.png: %+v, want rock, a hand", f)
	}
	if r.Labelled != 2 || r.Correct != 2 {
		t.Errorf("labelled %d correct %d, want 2 and 2", r.Labelled, r.Correct)
	}
}

// The 3-class model prints exactly what it printed before the no-hand class
// existed, and its JSON says every prediction is a hand.
func TestClassifyThreeClassModelUnchanged(t *testing.T) {
	model := tinyModelFile(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "red.png")
	writeSolidImage(t, p, color.RGBA{R: 255})
	code, stdout, stderr := runCmd(t, "classify", "--model", model, "--device", "cpu", p)
	if want := p + ": rock 100.0%  [rock 1.000, paper 0.000, scissors 0.000]\n"; code != 0 || stdout != want {
		t.Fatalf("exit %d, output %q, want %q; stderr %s", code, stdout, want, stderr)
	}
	_, stdout, _ = runCmd(t, "classify", "--model", model, "--device", "cpu", "--json", p)
	var r imagefiles.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || len(r.Images) != 1 {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if im := r.Images[0]; im.Predicted != "rock" || im.Display != "rock" || !im.Hand {
		t.Errorf("%+v, want rock shown as rock, a hand", im)
	}
}

func TestRecordSummaryCountsNoHand(t *testing.T) {
	model := tinyNoHandModelFile(t)
	// Red, black, black: rock 4, no hand 8 over 12 frames (no smoothing on
	// a file by default).
	clip := writeClip(t, []gocv.Scalar{gocv.NewScalar(0, 0, 255, 0), gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(0, 0, 0, 0)}, 12, 320, 240)
	out := filepath.Join(t.TempDir(), "nohand.avi")
	code, stdout, stderr := runCmd(t, "record", "--model", model, "--device", "cpu", "--input", clip, "--output", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if want := "predictions: rock 4, paper 0, scissors 0, no hand 8, uncertain 0\n"; !strings.Contains(stdout, want) {
		t.Errorf("summary lacks %q:\n%s", want, stdout)
	}
}

// The progress line of live and record names the no-hand class as people
// read it.
func TestProgressLineShowsNoHand(t *testing.T) {
	for label, want := range map[string]string{"none": "recording 5 frames, 30.0 fps, no hand 97%\n", "rock": "recording 5 frames, 30.0 fps, rock 97%\n"} {
		var b strings.Builder
		p := session.NewProgress(&b, "recording")
		if err := p.Consume(&pipeline.Annotated{Index: 4, FPS: 30, Decision: pipeline.Decision{Top: 0, Label: label, Confidence: 0.97}}); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%s: progress line %q, want %q", label, b.String(), want)
		}
	}
}
