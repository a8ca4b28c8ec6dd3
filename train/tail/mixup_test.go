package tail

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The folded Beta(α, α) draws stay in [0.5, 1] and keep Beta(α, α)'s
// spread about 1/2, E[(λ-1/2)²] = 1/(4(2α+1)), which folding does not change.
func TestMixerLambdaFollowsBeta(t *testing.T) {
	for _, alpha := range []float64{0.2, 0.4, 1, 2} {
		m := mixer{alpha: alpha, rng: rand.New(rand.NewPCG(3, 4))}
		const n = 200000
		var sumSq float64
		for i := 0; i < n; i++ {
			l := m.lambda()
			if l < 0.5 || l > 1 {
				t.Fatalf("alpha %g: lambda %g outside [0.5, 1]", alpha, l)
			}
			sumSq += (l - 0.5) * (l - 0.5)
		}
		got, want := sumSq/n, 1/(4*(2*alpha+1))
		if math.Abs(got-want) > 0.02*want {
			t.Errorf("alpha %g: variance %.5f, Beta(α,α) has %.5f", alpha, got, want)
		}
	}
}

func TestMixBlendsInputsAndTargets(t *testing.T) {
	x, y := []float32{1, 2, 3}, []float32{3, 2, -1}
	tx, ty := []float32{0.9, 0.05, 0.05}, []float32{0.05, 0.05, 0.9}
	dst, dstT := make([]float32, 3), make([]float32, 3)
	mix(dst, x, y, dstT, tx, ty, 0.75)
	wantX, wantT := []float32{1.5, 2, 2}, []float32{0.6875, 0.05, 0.2625}
	for i := range dst {
		if math.Abs(float64(dst[i]-wantX[i])) > 1e-6 || math.Abs(float64(dstT[i]-wantT[i])) > 1e-6 {
			t.Fatalf("mix = %v, %v; want %v, %v", dst, dstT, wantX, wantT)
		}
	}
}

// With mixup the tail still learns a separable problem, and the recipe is
// really different: the parameters differ from a run without it.
func TestFitWithMixupLearns(t *testing.T) {
	f := newFitFixture(t)
	d, start, trainSet, val, sess, eval := f.d, f.start, f.trainSet, f.val, f.sess, f.eval
	fit := func(alpha float64) Params {
		p := start.Clone()
		if _, err := Fit(sess, eval, p, trainSet, val, FitConfig{Trainable: allParams, Epochs: 30, BatchSize: 16,
			LRHead: 0.03, LRBody: 0.01, Mixup: alpha, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mixed, plain := fit(0.4), fit(0)
	probs, err := Predict(eval, mixed, val.X, 16)
	if err != nil {
		t.Fatal(err)
	}
	if _, acc := Score(probs, val.Y, d.Classes); acc < 0.9 {
		t.Errorf("validation accuracy with mixup %.3f, want >= 0.9", acc)
	}
	same := true
	for i := range mixed[expandW] {
		if mixed[expandW][i] != plain[expandW][i] {
			same = false
			break
		}
	}
	if same {
		t.Error("Fit with Mixup 0.4 left the same parameters as without: mixing was not applied")
	}
	if _, err := Fit(sess, eval, start.Clone(), trainSet, val, FitConfig{Trainable: allParams, Epochs: 1, BatchSize: 16, LRHead: 0.03, Mixup: -1}); err == nil {
		t.Error("Fit accepted a negative mixup alpha")
	}
}
