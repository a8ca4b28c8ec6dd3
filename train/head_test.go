package train

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// TestHeadGradientMatchesNumerical compares LossAndGrad's analytic gradient
// with central differences, with per-example weights and a dropout mask.
func TestHeadGradientMatchesNumerical(t *testing.T) {
	h, err := NewHead(5, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b := Batch{Weight: []float32{1, 0.5, 2, 1}}
	var keep [][]float32
	for n := 0; n < 4; n++ {
		x := make([]float32, 5)
		m := make([]float32, 5)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			m[i] = 2 // kept, scaled by 1/(1-0.5)
			if i == n {
				m[i] = 0 // dropped
			}
		}
		b.X = append(b.X, x)
		b.Y = append(b.Y, n%3)
		keep = append(keep, m)
	}
	g := &Gradients{W: make([]float32, 15), B: make([]float32, 3)}
	h.LossAndGrad(b, keep, g)
	scratch := &Gradients{W: make([]float32, 15), B: make([]float32, 3)}
	check := func(name string, p []float32, analytic []float32) {
		for i := range p {
			const eps = 1e-2
			orig := p[i]
			p[i] = orig + eps
			lp := h.LossAndGrad(b, keep, scratch)
			p[i] = orig - eps
			lm := h.LossAndGrad(b, keep, scratch)
			p[i] = orig
			num := (lp - lm) / (2 * eps)
			if d := math.Abs(num - float64(analytic[i])); d > 1e-3*math.Max(1, math.Abs(num)) {
				t.Errorf("%s[%d]: analytic %.6f, numerical %.6f", name, i, analytic[i], num)
			}
		}
	}
	check("W", h.W, g.W)
	check("B", h.B, g.B)
}

// separable makes n points per class around three well-separated centres.
func separable(n, dim int, seed uint64) Batch {
	rng := rand.New(rand.NewPCG(seed, 9))
	var b Batch
	for c := 0; c < 3; c++ {
		for k := 0; k < n; k++ {
			x := make([]float32, dim)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 0.3)
			}
			x[c] += 3
			b.X = append(b.X, x)
			b.Y = append(b.Y, c)
		}
	}
	return b
}

func TestFitSeparableReaches100PercentAndLossFalls(t *testing.T) {
	trainSet, valSet := separable(40, 16, 1), separable(10, 16, 2)
	h, err := NewHead(16, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	l0, _ := h.Evaluate(trainSet)
	var batches int
	hist, err := Fit(h, trainSet, valSet, FitConfig{Epochs: 30, BatchSize: 64, LearningRate: 0.01, Dropout: 0.2, Patience: 5, Seed: 4,
		OnBatch: func(_, _, _ int) { batches++ }}, func() float64 { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	if batches != 2*len(hist) { // 120 examples in batches of 64
		t.Errorf("%d batches over %d epochs, want 2 per epoch", batches, len(hist))
	}
	last := hist[len(hist)-1]
	l1, acc := h.Evaluate(trainSet)
	_, vacc := h.Evaluate(valSet)
	if acc != 1 || vacc != 1 {
		t.Errorf("accuracy train %.3f val %.3f, want 1", acc, vacc)
	}
	if !(l1 < l0/4) {
		t.Errorf("loss %.4f -> %.4f, want it to fall by 4x", l0, l1)
	}
	if hist[0].Loss <= last.Loss {
		t.Errorf("epoch loss %.4f -> %.4f did not fall", hist[0].Loss, last.Loss)
	}
}

func TestFitSameSeedSameWeights(t *testing.T) {
	trainSet := separable(20, 8, 1)
	run := func() *Head {
		h, _ := NewHead(8, 3, 3)
		if _, err := Fit(h, trainSet, Batch{}, FitConfig{Epochs: 3, BatchSize: 16, LearningRate: 0.01, Dropout: 0.5, Seed: 11}, func() float64 { return 0 }); err != nil {
			t.Fatal(err)
		}
		return h
	}
	a, b := run(), run()
	for i := range a.W {
		if a.W[i] != b.W[i] {
			t.Fatalf("W[%d] differs between runs with one seed: %v vs %v", i, a.W[i], b.W[i])
		}
	}
}

func TestFitEarlyStoppingRestoresBest(t *testing.T) {
	// Validation labels are the opposite of training: val loss rises as
	// training proceeds, so the first epoch is best and is restored.
	trainSet := separable(30, 4, 1)
	valSet := separable(5, 4, 2)
	for i := range valSet.Y {
		valSet.Y[i] = (valSet.Y[i] + 1) % 3
	}
	h, _ := NewHead(4, 3, 3)
	var snap *Head
	hist, err := Fit(h, trainSet, valSet, FitConfig{Epochs: 50, BatchSize: 8, LearningRate: 0.05, Patience: 2, Seed: 1,
		OnEpoch: func(s EpochStats) {
			if s.Best {
				snap = h.Clone()
			}
		}}, func() float64 { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if len(hist) >= 50 || !last.StoppedEarly || !last.Restored {
		t.Fatalf("ran %d epochs, stopped early %v restored %v; want an early stop with restore", len(hist), last.StoppedEarly, last.Restored)
	}
	for i := range h.W {
		if h.W[i] != snap.W[i] {
			t.Fatal("weights after early stopping are not those of the best epoch")
		}
	}
}

func TestFitRejectsBadInput(t *testing.T) {
	h, _ := NewHead(4, 3, 1)
	cases := map[string]struct {
		b   Batch
		cfg FitConfig
	}{
		"empty":      {Batch{}, FitConfig{Epochs: 1, BatchSize: 1, LearningRate: 1}},
		"width":      {Batch{X: [][]float32{{1}}, Y: []int{0}}, FitConfig{Epochs: 1, BatchSize: 1, LearningRate: 1}},
		"class":      {Batch{X: [][]float32{{1, 2, 3, 4}}, Y: []int{5}}, FitConfig{Epochs: 1, BatchSize: 1, LearningRate: 1}},
		"dropout":    {Batch{X: [][]float32{{1, 2, 3, 4}}, Y: []int{0}}, FitConfig{Epochs: 1, BatchSize: 1, LearningRate: 1, Dropout: 1}},
		"batch size": {Batch{X: [][]float32{{1, 2, 3, 4}}, Y: []int{0}}, FitConfig{Epochs: 1, LearningRate: 1}},
	}
	for name, c := range cases {
		if _, err := Fit(h, c.b, Batch{}, c.cfg, func() float64 { return 0 }); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if _, err := NewHead(0, 3, 1); err == nil {
		t.Error("NewHead(0, 3): want an error")
	}
}

func TestEpochStatsJSONWritesMissingValidationAsNull(t *testing.T) {
	data, err := json.Marshal([]EpochStats{
		{Epoch: 1, Loss: 0.5, Accuracy: 0.75, ValLoss: math.NaN(), ValAccuracy: math.NaN(), Best: true},
		{Epoch: 2, Loss: 0.25, Accuracy: 1, ValLoss: 0.125, ValAccuracy: 0.5},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"epoch":1,"loss":0.5,"accuracy":0.75,"best":true,"seconds":0,"val_loss":null,"val_accuracy":null},` +
		`{"epoch":2,"loss":0.25,"accuracy":1,"seconds":0,"val_loss":0.125,"val_accuracy":0.5}]`
	if string(data) != want {
		t.Errorf("got  %s\nwant %s", data, want)
	}
}

// TestFitBalancedBatchShiftsThePrior: the head mode's class balancing
// (FeatureSet.Batch(true) -> Batch.Weight -> Fit) must change what is
// learnt. On overlapping classes, 9 rock rows for every paper row, an
// unweighted head calls an ambiguous input rock; balanced, the two classes
// weigh the same and the ambiguous input's probabilities move towards
// paper. Fails when Fit ignores Batch.Weight or Batch(true) sets none.
func TestFitBalancedBatchShiftsThePrior(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	var set FeatureSet
	add := func(class, n int, centre float64) {
		for range n {
			set.X = append(set.X, []float32{float32(centre + rng.NormFloat64()), 1})
			set.Y = append(set.Y, class)
			set.Examples = append(set.Examples, Example{Source: "real", Class: class})
		}
	}
	add(0, 270, -0.5) // rock
	add(1, 30, 0.5)   // paper: the classes overlap around 0
	add(2, 30, 6)     // scissors, far away, balanced neither way
	paperAtZero := func(balance bool) float32 {
		b := set.Batch(balance)
		if (b.Weight != nil) != balance {
			t.Fatalf("Batch(%v) weights %v", balance, b.Weight != nil)
		}
		h, err := NewHead(2, 3, 9)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Fit(h, b, Batch{}, FitConfig{Epochs: 60, BatchSize: 32, LearningRate: 0.05, Seed: 1}, func() float64 { return 0 }); err != nil {
			t.Fatal(err)
		}
		p := make([]float32, 3)
		h.Probs([]float32{0, 1}, p)
		return p[1]
	}
	plain, balanced := paperAtZero(false), paperAtZero(true)
	if !(plain < 0.25 && balanced > 0.4) {
		t.Errorf("P(paper) at the overlap: %.3f unweighted, %.3f balanced; want < 0.25 and > 0.4 (weights 9:1 towards paper)", plain, balanced)
	}
}

// TestFitDecayTowardsAnchor: with DecayTowards, weight decay pulls W to the
// anchor instead of 0, so a strong pull keeps a refitted head near the one
// it started from (teaching's --anchor), where plain decay shrinks it.
func TestFitDecayTowardsAnchor(t *testing.T) {
	trainSet := separable(20, 8, 1)
	fit := func(anchor []float32) *Head {
		h, _ := NewHead(8, 3, 3)
		for i := range h.W {
			h.W[i] = 2
		}
		cfg := FitConfig{Epochs: 20, BatchSize: 16, LearningRate: 0.05, WeightDecay: 5, DecayTowards: anchor, Seed: 11}
		if _, err := Fit(h, trainSet, Batch{}, cfg, func() float64 { return 0 }); err != nil {
			t.Fatal(err)
		}
		return h
	}
	anchor := make([]float32, 8*3)
	for i := range anchor {
		anchor[i] = 2
	}
	meanAbsGap := func(h *Head, to float32) float64 {
		var sum float64
		for _, w := range h.W {
			sum += math.Abs(float64(w - to))
		}
		return sum / float64(len(h.W))
	}
	if gap := meanAbsGap(fit(anchor), 2); gap > 0.2 {
		t.Errorf("anchored: W is %.3f from the anchor 2 on average, want under 0.2", gap)
	}
	if gap := meanAbsGap(fit(nil), 0); gap > 0.2 {
		t.Errorf("plain decay: W is %.3f from 0 on average, want under 0.2", gap)
	}
}
