package imagefiles

import (
	"strings"
	"testing"

	"github.com/rpscam/rpscam/capture"
)

// Add counts an image as labelled only when its folder is a class the
// model knows, and keeps the accuracy over those; the text shows both.
func TestReportAddAndText(t *testing.T) {
	labels := []string{"rock", "paper", "scissors", "none"}
	rep := &Report{Images: []Result{}, Skipped: []Skipped{}}
	probs := map[string]float32{"rock": 0.9, "paper": 0.05, "scissors": 0.03, "none": 0.02}
	rep.Add(&Result{Path: "a/rock/1.jpg", Predicted: "rock", Display: "rock", Confidence: 0.9, Probabilities: probs}, capture.LabeledImage{Path: "a/rock/1.jpg", Class: "rock"}, labels)
	rep.Add(&Result{Path: "a/paper/2.jpg", Predicted: "rock", Display: "rock", Confidence: 0.9, Probabilities: probs}, capture.LabeledImage{Path: "a/paper/2.jpg", Class: "paper"}, labels)
	rep.Add(&Result{Path: "2024/3.jpg", Predicted: "none", Display: "no hand", Uncertain: true, Confidence: 0.4, Probabilities: probs}, capture.LabeledImage{Path: "2024/3.jpg", Class: "2024"}, labels)
	rep.Skip(&Skip{Skipped{"bad.jpg", "unreadable"}, "unreadable"})
	if rep.Labelled != 2 || rep.Correct != 1 || rep.Accuracy != 0.5 || len(rep.Images) != 3 || len(rep.Skipped) != 1 {
		t.Fatalf("report %+v: want 2 labelled, 1 correct, accuracy 0.5, 3 images, 1 skipped", rep)
	}
	if got := rep.Images[2]; got.Actual != "" || got.Correct != nil {
		t.Errorf("a folder that is no class got actual %q correct %v", got.Actual, got.Correct)
	}
	var b strings.Builder
	rep.Images[1].WriteText(&b, labels)
	rep.Images[2].WriteText(&b, labels)
	rep.WriteSummary(&b)
	want := "a/paper/2.jpg: rock 90.0%  [rock 0.900, paper 0.050, scissors 0.030, no hand 0.020]\n" +
		"  Actual: paper  Predicted: rock\n" +
		"2024/3.jpg: no hand (uncertain) 40.0%  [rock 0.900, paper 0.050, scissors 0.030, no hand 0.020]\n" +
		"Accuracy: 50.0% (1 of 2)\nSkipped: 1 unreadable image(s)\n"
	if b.String() != want {
		t.Errorf("text\n%s\nwant\n%s", b.String(), want)
	}

	// An image that --roi does not fit in was readable: counted apart.
	rep.Skip(&Skip{Skipped{"small.jpg", errROIOutside}, "--roi lies outside its 100x100 pixels"})
	b.Reset()
	rep.WriteSummary(&b)
	if want := "Accuracy: 50.0% (1 of 2)\nSkipped: 2 image(s): 1 unreadable, 1 that --roi does not fit in\n"; b.String() != want {
		t.Errorf("summary %q, want %q", b.String(), want)
	}
}
