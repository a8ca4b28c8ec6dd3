package evaluate

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

var labels4 = []string{"rock", "paper", "scissors", "none"}

// fourClassPreds: 4 hands (2 right, 1 labelled none, 1 wrong gesture) and
// 3 none images (labelled none; rock at 50%, uncertain; rock at 90%).
func fourClassPreds() []Prediction {
	return []Prediction{
		pred("r1", 0, 0.9, 0.05, 0.03, 0.02),
		pred("r2", 0, 0.1, 0.1, 0.1, 0.7),
		pred("p1", 1, 0.1, 0.8, 0.05, 0.05),
		pred("s1", 2, 0.1, 0.5, 0.3, 0.1),
		pred("n1", 3, 0.05, 0.05, 0.1, 0.8),
		pred("n2", 3, 0.5, 0.2, 0.2, 0.1),
		pred("n3", 3, 0.9, 0.05, 0.03, 0.02),
	}
}

func near(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil || math.Abs(*got-want) > 1e-12 {
		t.Errorf("%s = %v, want %v", what, deref(got), want)
	}
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

func TestTallyFourClasses(t *testing.T) {
	f, err := tally(labels4, fourClassPreds(), 0.6)
	if err != nil {
		t.Fatal(err)
	}
	if f.GestureImages != 4 || f.GestureCorrect != 2 || f.HandsLabelledNone != 1 || f.NoneImages != 3 || f.NoneLabelledNone != 1 || f.NoneOrUncertain != 2 {
		t.Fatalf("counts %+v", f)
	}
	near(t, "gesture accuracy", f.GestureAccuracy, 0.5)
	near(t, "hands labelled none", f.HandsLabelledNoneShare, 0.25)
	near(t, "none or uncertain", f.NoneOrUncertainShare, 2.0/3)
	near(t, "recall rock", f.Recall["rock"], 0.5)
	near(t, "recall paper", f.Recall["paper"], 1)
	near(t, "recall scissors", f.Recall["scissors"], 0)
	near(t, "recall none", f.Recall["none"], 1.0/3)
	// A lower threshold: rock at 50% is no longer uncertain.
	if f, _ := tally(labels4, fourClassPreds(), 0.5); f.NoneOrUncertain != 1 {
		t.Errorf("threshold 0.5: %d none or uncertain, want 1", f.NoneOrUncertain)
	}
	var buf bytes.Buffer
	f.WriteNoneText(&buf, labels4, 0.6)
	want := "gestures: 4 images, accuracy 50.0% (2/4), 1 (25.0%) labelled none\n" +
		"none: 3 images, 1 (33.3%) labelled none, 2 (66.7%) labelled none or uncertain (top probability below 0.60)\n"
	if buf.String() != want {
		t.Errorf("none text\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestScoreFourByFour(t *testing.T) {
	r, err := score(labels4, fourClassPreds(), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{1, 0, 0, 1}, {0, 1, 0, 0}, {0, 1, 0, 0}, {2, 0, 0, 1}}
	if got, _ := json.Marshal(r.Confusion); string(got) != mustJSON(t, want) {
		t.Fatalf("confusion %s, want %s", got, mustJSON(t, want))
	}
	if r.PerClass[3].Label != "none" || r.PerClass[3].Support != 3 || r.PerClass[3].Precision != 0.5 {
		t.Errorf("none stats %+v, want support 3 precision 1/2", r.PerClass[3])
	}
	path := filepath.Join(t.TempDir(), "c4.png")
	if err := r.WriteConfusionPNG(path, "four"); err != nil {
		t.Fatal(err)
	}
	img := gocv.IMRead(path, gocv.IMReadColor)
	defer img.Close()
	if img.Cols() != 110+4*120+20 || img.Rows() != 80+4*120+40 {
		t.Fatalf("png %dx%d, want 4x4 cells", img.Cols(), img.Rows())
	}
	// none row, rock column: 2 of 3 none images called rock, red-tinted.
	if v := img.GetVecbAt(80+3*120+5, 110+5); !(v[2] == 255 && v[0] < 255) {
		t.Errorf("none->rock cell BGR %v, want red tint", v)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTallyThreeClassModelScoresNoneByUncertainty(t *testing.T) {
	preds := []Prediction{
		pred("r", 0, 0.9, 0.05, 0.05),
		pred("n1", noneImage, 0.5, 0.3, 0.2), // uncertain
		pred("n2", noneImage, 0.9, 0.05, 0.05),
	}
	f, err := tally(labels, preds, 0.6)
	if err != nil {
		t.Fatal(err)
	}
	if f.GestureImages != 1 || f.GestureCorrect != 1 || f.NoneImages != 2 || f.NoneOrUncertain != 1 || f.NoneLabelledNone != 0 {
		t.Fatalf("figures %+v", f)
	}
	if _, ok := f.Recall["none"]; ok {
		t.Errorf("recall has none for a model without it: %v", f.Recall)
	}
	var buf bytes.Buffer
	f.WriteNoneText(&buf, labels, 0.6)
	if want := "none: 2 images; the model has no none class, so they are scored by uncertainty only: 1 (50.0%) uncertain (top probability below 0.60)\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
	if _, err := tally(labels4, []Prediction{pred("x", noneImage, 1, 0, 0, 0)}, 0.6); err == nil {
		t.Error("a NoneImage under a model with a none class: want an error (its Actual should be the none index)")
	}
}

func TestSourceTableWorstFirst(t *testing.T) {
	srcs := []SourcePredictions{
		{Name: "amy", Preds: []Prediction{
			pred("a1", 0, 1, 0, 0, 0), pred("a2", 1, 0, 1, 0, 0), pred("a3", 2, 0, 0, 1, 0), pred("a4", 3, 0, 0, 0, 1),
		}},
		{Name: "dan", Preds: []Prediction{pred("d1", 3, 0, 0, 0, 1)}}, // no hands: last
		{Name: "cat", Preds: []Prediction{pred("c1", 0, 1, 0, 0, 0), pred("c2", 1, 1, 0, 0, 0)}},
		{Name: "bob", Preds: fourClassPreds()},
	}
	tb, err := newSourceTable(labels4, srcs, 0.6, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, f := range tb.Sources {
		order = append(order, f.Source)
	}
	if strings.Join(order, " ") != "bob cat amy dan" {
		t.Fatalf("order %v, want bob cat (tied at 50%%, by name) amy dan (no hands)", order)
	}
	s := tb.Summary
	if s.Sources != 4 || s.WithGestures != 3 || strings.Join(s.UnderTarget, ",") != "bob,cat" {
		t.Errorf("summary %+v", s)
	}
	near(t, "mean gesture accuracy", s.Mean.GestureAccuracy, 2.0/3)
	near(t, "mean none or uncertain", s.Mean.NoneOrUncertainShare, (2.0/3+1+1)/3)
	if p := s.Pooled; p.GestureImages != 9 || p.GestureCorrect != 6 || p.NoneImages != 5 || p.NoneOrUncertain != 4 {
		t.Errorf("pooled %+v", p)
	}
	var buf bytes.Buffer
	tb.WriteText(&buf)
	for _, line := range []string{
		"source gestures accuracy     rock    paper scissors     none hands->none  none imgs none|uncertain\n",
		"bob           4    50.0%    50.0%   100.0%     0.0%    33.3%       25.0%          3          66.7%\n",
		"cat           2    50.0%   100.0%     0.0%        -        -        0.0%          0              -\n",
		"amy           3   100.0%   100.0%   100.0%   100.0%   100.0%        0.0%          1         100.0%\n",
		"dan           0        -        -        -        -   100.0%           -          1         100.0%\n",
		"mean               66.7%    83.3%    66.7%    50.0%    77.8%        8.3%                     88.9%\n",
		"pooled        9    66.7%    75.0%    66.7%    50.0%    60.0%       11.1%          5          80.0%\n",
		"gesture accuracy: mean over the 3 of 4 sources with gesture images 66.7%, pooled 66.7% (6/9); 2 of 3 sources under 90%: bob, cat\n",
		"none images: 5 pooled, 4 (80.0%) labelled none or uncertain\n",
	} {
		if !strings.Contains(buf.String(), line) {
			t.Errorf("table lacks\n%q\n%s", line, buf.String())
		}
	}
}
