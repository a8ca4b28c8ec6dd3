package infer

import (
	"image"
	"math"
	"testing"

	"github.com/rpscam/rpscam/pipeline"
)

func TestNoHandRule(t *testing.T) {
	for _, tc := range []struct {
		label, display string
		noHand, hand   bool
	}{
		{"none", "no hand", true, false},
		{"None", "no hand", true, false},
		{" NONE ", "no hand", true, false},
		{"rock", "rock", false, true},
		{"paper", "paper", false, true},
		{"scissors", "scissors", false, true},
		{"nothing", "nothing", false, true},
		{"no hand", "no hand", false, true}, // a label already spelled for people is a class like any other
		{"", "", false, false},              // no prediction: nothing to show, and no hand seen
	} {
		if got := IsNoHand(tc.label); got != tc.noHand {
			t.Errorf("IsNoHand(%q) = %v, want %v", tc.label, got, tc.noHand)
		}
		if got := DisplayLabel(tc.label); got != tc.display {
			t.Errorf("DisplayLabel(%q) = %q, want %q", tc.label, got, tc.display)
		}
		if got := IsHand(tc.label); got != tc.hand {
			t.Errorf("IsHand(%q) = %v, want %v", tc.label, got, tc.hand)
		}
	}
}

// noHandModel is rpsModel with a fourth class, "none", whose logit is a
// constant 2 (its weights are zero): a black frame is "none" at
// e^2/(e^2+3) = 0.711, a bright frame one of the gestures.
func noHandModel() meanColourModel {
	m := rpsModel()
	m.Weights = []float32{
		0.02, 0.00, -0.01, 0,
		0.00, 0.05, 0.00, 0,
		-0.01, 0.00, 0.03, 0,
	}
	m.Bias = []float32{0, 0, 0, 2}
	m.Metadata = map[string]string{KeyLabels: "rock,paper,scissors,none"}
	return m
}

func TestFourClassModelPredictsNoHand(t *testing.T) {
	requireORT(t)
	c := loadCPU(t, writeModel(t, t.TempDir(), "rps4.onnx", noHandModel().build()))
	if got := c.Labels(); len(got) != 4 || got[3] != NoHandLabel {
		t.Fatalf("labels %v, want rock,paper,scissors,none", got)
	}
	e2 := math.Exp(2)
	black := solidFrame(t, 64, 48, 0, 0, 0)
	res, err := c.Classify(black, image.Rectangle{})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "black frame", res.Probs, []float64{1 / (e2 + 3), 1 / (e2 + 3), 1 / (e2 + 3), e2 / (e2 + 3)}, 1e-5)
	if res.Top != 3 || res.Label != "none" || DisplayLabel(res.Label) != "no hand" || IsHand(res.Label) {
		t.Fatalf("black frame: top %d %q, want 3 none (shown as no hand)", res.Top, res.Label)
	}
	// The threshold still applies: 0.711 is a confident "no hand" at 0.6
	// and a guess at 0.8.
	if d := pipeline.Decide(res.Probs, c.Labels(), 0.6); d.Top != 3 || d.Uncertain {
		t.Fatalf("threshold 0.6: %+v, want a certain none", d)
	}
	if d := pipeline.Decide(res.Probs, c.Labels(), 0.8); d.Top != 3 || !d.Uncertain {
		t.Fatalf("threshold 0.8: %+v, want an uncertain none", d)
	}

	// Logits 3.9, 1, -1.7, 2 (see TestClassifyUint8NHWCRGB): a hand, rock.
	red := solidFrame(t, 64, 48, 10, 20, 200)
	if res, err = c.Classify(red, image.Rectangle{}); err != nil {
		t.Fatal(err)
	}
	if res.Top != 0 || res.Label != "rock" || DisplayLabel(res.Label) != "rock" || !IsHand(res.Label) {
		t.Fatalf("red frame: top %d %q, want rock", res.Top, res.Label)
	}
}

// Smoothing knows nothing of classes: with four, "none" is smoothed like a
// gesture, and a frame the smoothing leaves undecided is uncertain.
func TestSmoothingWithNoHandClass(t *testing.T) {
	labels := []string{"rock", "paper", "scissors", "none"}
	rock := []float32{0.9, 0.05, 0.03, 0.02}
	none := []float32{0.02, 0.03, 0.05, 0.9}

	ema, err := pipeline.ParseSmoothing("ema:0.5")
	if err != nil {
		t.Fatal(err)
	}
	ema.Update(none)
	ema.Update(none)
	// One rock frame after two "none" ones: avg = 0.5*rock + 0.5*none.
	out := ema.Update(rock)
	want := []float64{0.46, 0.04, 0.04, 0.46}
	for i := range want {
		if math.Abs(float64(out[i])-want[i]) > 1e-6 {
			t.Fatalf("ema: %v, want %v", out, want)
		}
	}
	if d := pipeline.Decide(out, labels, 0.6); !d.Uncertain || d.Confidence > 0.47 {
		t.Fatalf("ema between rock and none at threshold 0.6: %+v, want uncertain", d)
	}
	ema.Update(rock)
	if d := pipeline.Decide(ema.Update(rock), labels, 0.6); d.Label != "rock" || d.Uncertain {
		t.Fatalf("ema after three rock frames: %+v, want a certain rock", d)
	}

	maj, err := pipeline.ParseSmoothing("majority:3")
	if err != nil {
		t.Fatal(err)
	}
	maj.Update(rock)
	maj.Update(none)
	out = maj.Update(none)
	if d := pipeline.Decide(out, labels, 0.6); d.Top != 3 || d.Label != NoHandLabel || d.Uncertain || math.Abs(float64(d.Confidence)-2.0/3) > 1e-6 {
		t.Fatalf("majority none, none over rock: %+v (shares %v), want a certain none at 2/3", d, out)
	}
	if d := pipeline.Decide(out, labels, 0.7); !d.Uncertain {
		t.Fatalf("majority at 2/3 with threshold 0.7: %+v, want uncertain", d)
	}
}
