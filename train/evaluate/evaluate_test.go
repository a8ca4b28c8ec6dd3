package evaluate

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

var labels = []string{"rock", "paper", "scissors"}

func pred(path string, actual int, probs ...float32) Prediction {
	return Prediction{Path: path, Actual: actual, Probs: probs}
}

func TestScoreExactFigures(t *testing.T) {
	preds := []Prediction{
		pred("r1", 0, 0.9, 0.05, 0.05),
		pred("r2", 0, 0.2, 0.7, 0.1), // rock -> paper, 70%
		pred("p1", 1, 0.1, 0.8, 0.1),
		pred("p2", 1, 0.1, 0.6, 0.3),
		pred("s1", 2, 0.1, 0.1, 0.8),
		pred("s2", 2, 0.05, 0.9, 0.05), // scissors -> paper, 90%
	}
	r, err := score(labels, preds, 5)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 6 || r.Correct != 4 || r.Accuracy != 4.0/6 {
		t.Fatalf("n %d correct %d accuracy %v", r.N, r.Correct, r.Accuracy)
	}
	want := [][]int{{1, 1, 0}, {0, 2, 0}, {0, 1, 1}}
	for i := range want {
		for j := range want[i] {
			if r.Confusion[i][j] != want[i][j] {
				t.Fatalf("confusion %v, want %v", r.Confusion, want)
			}
		}
	}
	// paper: precision 2/4, recall 2/2, F1 2*0.5*1/1.5
	p := r.PerClass[1]
	if p.Precision != 0.5 || p.Recall != 1 || p.F1 != 2*0.5/1.5 || p.Support != 2 {
		t.Errorf("paper stats %+v", p)
	}
	if r.PerClass[0].Precision != 1 || r.PerClass[0].Recall != 0.5 {
		t.Errorf("rock stats %+v", r.PerClass[0])
	}
	if len(r.Worst) != 2 || r.Worst[0].Path != "s2" || r.Worst[1].Path != "r2" {
		t.Errorf("worst %+v, want s2 then r2", r.Worst)
	}
	var buf bytes.Buffer
	r.WriteText(&buf)
	if !strings.Contains(buf.String(), "accuracy 66.67% (4/6)") || !strings.Contains(buf.String(), "scissors -> paper     90.0%  s2") {
		t.Errorf("text report:\n%s", buf.String())
	}
	// log loss: mean of -ln p(actual) = -(ln .9 + ln .2 + ln .8 + ln .6 + ln .8 + ln .05)/6
	wantLoss := -(math.Log(0.9) + math.Log(0.2) + math.Log(0.8) + math.Log(0.6) + math.Log(0.8) + math.Log(0.05)) / 6
	if math.Abs(r.LogLoss-wantLoss) > 1e-6 {
		t.Errorf("log loss %.6f, want %.6f", r.LogLoss, wantLoss)
	}
	if r.BySource != nil {
		t.Errorf("accuracy by source %v for predictions without sources", r.BySource)
	}
	lines := sampleLines(labels, preds, 2)
	if lines != "Actual: rock     Predicted: rock     (90.0%)\nActual: rock     Predicted: paper    (70.0%)  <- wrong\n" {
		t.Errorf("sample lines %q", lines)
	}
}

func TestScoreAccuracyBySource(t *testing.T) {
	preds := []Prediction{
		{Path: "a", Source: "cgi", Actual: 0, Probs: []float32{0.9, 0.05, 0.05}},
		{Path: "b", Source: "cgi", Actual: 1, Probs: []float32{0.9, 0.05, 0.05}},
		{Path: "c", Source: "sxsw", Actual: 2, Probs: []float32{0.1, 0.1, 0.8}},
	}
	r, err := score(labels, preds, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.BySource) != 2 || r.BySource["cgi"] != 0.5 || r.BySource["sxsw"] != 1 {
		t.Errorf("accuracy by source %v, want cgi 0.5 and sxsw 1", r.BySource)
	}
	var buf bytes.Buffer
	r.WriteText(&buf)
	if !strings.Contains(buf.String(), "  cgi          50.00%\n  sxsw         100.00%\n") {
		t.Errorf("text report lacks the by-source lines in order:\n%s", buf.String())
	}
}

// A negative cap lists no mistakes instead of slicing out of range.
func TestScoreNegativeWorstListsNone(t *testing.T) {
	r, err := score(labels, []Prediction{pred("r", 0, 0.1, 0.9, 0)}, -1)
	if err != nil || len(r.Worst) != 0 {
		t.Fatalf("worst %+v, %v; want none listed", r.Worst, err)
	}
}

func TestScoreRejectsMismatchedProbabilities(t *testing.T) {
	if _, err := score(labels, []Prediction{pred("x", 0, 1, 0)}, 1); err == nil {
		t.Fatal("want an error for 2 probabilities and 3 labels")
	}
}

func TestConfusionPNG(t *testing.T) {
	r, _ := score(labels, []Prediction{pred("a", 0, 1, 0, 0), pred("b", 2, 0, 1, 0)}, 1)
	path := filepath.Join(t.TempDir(), "c.png")
	if err := r.WriteConfusionPNG(path, "test"); err != nil {
		t.Fatal(err)
	}
	img := gocv.IMRead(path, gocv.IMReadColor)
	defer img.Close()
	if img.Cols() != 110+3*120+20 || img.Rows() != 80+3*120+40 {
		t.Fatalf("png %dx%d", img.Cols(), img.Rows())
	}
	// The wrong cell (scissors row, paper column) is red-tinted: R > B.
	v := img.GetVecbAt(80+2*120+5, 110+1*120+5)
	if !(v[2] == 255 && v[0] < 255) {
		t.Errorf("error cell colour BGR %v, want red tint", v)
	}
	// rock->rock cell at 100%: dark blue.
	v = img.GetVecbAt(80+5, 110+5)
	if v[0] != 255 || v[2] != 55 {
		t.Errorf("diagonal cell colour BGR %v, want (255, 55, 55)", v)
	}
}

// OpenCV aborts the process on an extension it has no writer for, so the
// file name is checked first, and the formats accepted really are written.
func TestConfusionImageExtensions(t *testing.T) {
	r, _ := score(labels, []Prediction{pred("a", 0, 1, 0, 0)}, 1)
	dir := t.TempDir()
	for _, name := range []string{"c.png", "c.PNG", "c.jpg", "c.jpeg", "c.bmp"} {
		path := filepath.Join(dir, name)
		if err := r.WriteConfusionPNG(path, "test"); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		img := gocv.IMRead(path, gocv.IMReadColor)
		if img.Empty() {
			t.Errorf("%s: written but unreadable", name)
		}
		img.Close()
	}
	for _, name := range []string{"cm.txt", "cm", "cm.json"} {
		path := filepath.Join(dir, name)
		err := r.WriteConfusionPNG(path, "test")
		var de *DataError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "use .png, e.g. --confusion "+filepath.Join(dir, "cm.png")) {
			t.Errorf("%s: %v, want a DataError saying use .png", name, err)
		}
	}
}
