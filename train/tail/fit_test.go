package tail

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rpscam/rpscam/internal/nn"
)

// separable makes examples whose class is the input channel with the
// largest mean: a problem the tiny tail can learn, so Fit must.
func separable(r *rand.Rand, d Dims, n int) Data {
	var rows Float32Rows
	var out Data
	per := d.Size * d.Size
	for i := 0; i < n; i++ {
		y := i % d.Classes
		x := make([]float32, per*d.In)
		for p := 0; p < per; p++ {
			for c := 0; c < d.In; c++ {
				v := r.NormFloat64() * 0.5
				if c == y%d.In {
					v += 1.5
				}
				x[p*d.In+c] = float32(v)
			}
		}
		rows, out.Y = append(rows, x), append(out.Y, y)
	}
	out.X = rows
	return out
}

// fitFixture is a tiny tail with small random parameters, a separable
// training and validation set, and a training and an inference session
// (closed when the test ends).
type fitFixture struct {
	d             Dims
	start         Params
	trainSet, val Data
	sess, eval    *Session
}

func newFitFixture(t *testing.T) *fitFixture {
	t.Helper()
	initORT(t)
	f := &fitFixture{d: tiny, start: Params{}}
	r := rand.New(rand.NewPCG(7, 8))
	for name, v := range randomParams(r, f.d) {
		w := make([]float32, len(v))
		for i := range v {
			w[i] = float32(v[i] * 0.3)
		}
		f.start[name] = w
	}
	f.trainSet, f.val = separable(r, f.d, 90), separable(r, f.d, 30)
	var err error
	if f.sess, err = NewSession(f.d, allParams); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.sess.Close() })
	if f.eval, err = NewSession(f.d, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.eval.Close() })
	return f
}

func TestFitLearnsAndKeepsTheBestEpoch(t *testing.T) {
	f := newFitFixture(t)
	d, p, trainSet, val, sess, eval := f.d, f.start.Clone(), f.trainSet, f.val, f.sess, f.eval
	before, err := Predict(eval, p, val.X, 16)
	if err != nil {
		t.Fatal(err)
	}
	loss0, _ := Score(before, val.Y, d.Classes)
	batches := 0
	hist, err := Fit(sess, eval, p, trainSet, val, FitConfig{Trainable: allParams, Epochs: 40, BatchSize: 16,
		LRHead: 0.03, LRBody: 0.01, Dropout: 0.1, Patience: 5, Seed: 1,
		OnBatch: func(epoch, batch, n int) { batches++ }})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(hist) * 6; batches != want {
		t.Errorf("OnBatch called %d times over %d epochs, want %d (6 batches of 16 per epoch)", batches, len(hist), want)
	}
	after, err := Predict(eval, p, val.X, 7)
	if err != nil {
		t.Fatal(err)
	}
	loss1, acc1 := Score(after, val.Y, d.Classes)
	if loss1 >= loss0 || acc1 < 0.9 {
		t.Errorf("validation loss %.4f -> %.4f, accuracy %.3f: want a lower loss and >= 0.9", loss0, loss1, acc1)
	}
	// The parameters left in p are the best epoch's: their validation loss
	// is the lowest in the history.
	bestLoss := hist[0].ValLoss
	for _, s := range hist {
		bestLoss = min(bestLoss, s.ValLoss)
	}
	if diff := loss1 - bestLoss; diff > 1e-5 || diff < -1e-5 {
		t.Errorf("final validation loss %.6f, best epoch's %.6f: Fit did not keep the best epoch", loss1, bestLoss)
	}
}

func TestFitRejectsBadRecipes(t *testing.T) {
	initORT(t)
	sess, err := NewSession(tiny, headParams)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	data := separable(rand.New(rand.NewPCG(1, 1)), tiny, 6)
	p := Params{}
	for name, v := range randomParams(rand.New(rand.NewPCG(1, 2)), tiny) {
		p[name] = make([]float32, len(v))
	}
	for _, cfg := range []FitConfig{
		{Trainable: headParams, Epochs: 1, BatchSize: 0, LRHead: 1e-3},
		{Trainable: headParams, Epochs: 1, BatchSize: 2, LRHead: 1e-3, Dropout: 1},
		{Trainable: allParams, Epochs: 1, BatchSize: 2, LRHead: 1e-3},
	} {
		if _, err := Fit(sess, sess, p, data, Data{}, cfg); err == nil {
			t.Errorf("Fit accepted %+v", cfg)
		}
	}
	bad := Data{X: Float32Rows{make([]float32, 5)}, Y: []int{0}}
	if _, err := Fit(sess, sess, p, bad, Data{}, FitConfig{Trainable: headParams, Epochs: 1, BatchSize: 2, LRHead: 1e-3}); err == nil {
		t.Error("Fit accepted an example of the wrong size")
	}
}

// TestFitCosineScheduleShrinksTheSteps runs the same recipe with a constant
// and a cosine learning rate and measures each batch's largest weight
// change: the first batches take the same step (the factor starts at 1),
// the cosine run's last step is a small fraction of the constant run's.
func TestFitCosineScheduleShrinksTheSteps(t *testing.T) {
	f := newFitFixture(t)
	steps := func(cosine bool) []float64 {
		p, prev := f.start.Clone(), f.start.Clone()
		var out []float64
		_, err := Fit(f.sess, f.eval, p, f.trainSet, Data{}, FitConfig{Trainable: allParams, Epochs: 2, BatchSize: 16,
			LRHead: 0.01, LRBody: 0.01, Seed: 3, Cosine: cosine,
			OnBatch: func(epoch, batch, n int) {
				largest := 0.0
				for name, w := range p {
					for i := range w {
						largest = max(largest, math.Abs(float64(w[i]-prev[name][i])))
					}
					copy(prev[name], w)
				}
				out = append(out, largest)
			}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	constant, cosine := steps(false), steps(true)
	if len(constant) != 12 || len(cosine) != 12 {
		t.Fatalf("got %d and %d batches, want 12 each (2 epochs of 6)", len(constant), len(cosine))
	}
	if constant[0] != cosine[0] {
		t.Errorf("first step %g (constant) vs %g (cosine): the schedule must start at the full rate", constant[0], cosine[0])
	}
	if last := cosine[11] / constant[11]; last > 0.1 {
		t.Errorf("last step: cosine %g, constant %g (ratio %.3f): want the cosine run's under a tenth (factor %.4f)", cosine[11], constant[11], last, cosineDecay(11, 12))
	}
	if cosine[6] >= constant[6] {
		t.Errorf("step 7 of 12: cosine %g, constant %g: want a smaller cosine step halfway", cosine[6], constant[6])
	}
}

func TestCosineDecay(t *testing.T) {
	for _, c := range []struct {
		step, total int
		want        float64
	}{{0, 10, 1}, {5, 10, 0.5}, {10, 10, 0}, {1, 4, 0.5 * (1 + math.Sqrt2/2)}} {
		if got := cosineDecay(c.step, c.total); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("cosineDecay(%d, %d) = %v, want %v", c.step, c.total, got, c.want)
		}
	}
}

// TestFitEMAReturnsTheAverage follows the raw parameters after every batch
// (OnBatch sees them), averages them as Fit's EMA is documented to, and
// expects exactly that average back, not the last batch's parameters; with
// validation the epoch figures must be the average's.
func TestFitEMAReturnsTheAverage(t *testing.T) {
	f := newFitFixture(t)
	const decay = 0.9
	p := f.start.Clone()
	avg := f.start.Clone()
	var raw Params
	hist, err := Fit(f.sess, f.eval, p, f.trainSet, f.val, FitConfig{Trainable: allParams, Epochs: 2, BatchSize: 16,
		LRHead: 0.01, LRBody: 0.01, Seed: 4, EMA: decay,
		OnBatch: func(epoch, batch, n int) {
			for name, w := range p {
				for i := range w {
					avg[name][i] = float32(decay)*avg[name][i] + float32(1-decay)*w[i]
				}
			}
			raw = p.Clone()
		}})
	if err != nil {
		t.Fatal(err)
	}
	same, moved := true, false
	for name, w := range p {
		for i := range w {
			same = same && w[i] == avg[name][i]
			moved = moved || w[i] != raw[name][i]
		}
	}
	if !same || !moved {
		t.Errorf("Fit returned the average: %v, something other than the last batch's parameters: %v; want both", same, moved)
	}
	probs, err := Predict(f.eval, avg, f.val.X, 16)
	if err != nil {
		t.Fatal(err)
	}
	if loss, _ := Score(probs, f.val.Y, f.d.Classes); math.Abs(loss-hist[1].ValLoss) > 1e-6 {
		t.Errorf("epoch 2 validation loss %.6f, the average's %.6f: the epochs must score the average", hist[1].ValLoss, loss)
	}
	if _, err := Fit(f.sess, f.eval, f.start.Clone(), f.trainSet, f.val, FitConfig{Trainable: allParams, Epochs: 1, BatchSize: 16, LRHead: 0.01, EMA: 1}); err == nil {
		t.Error("Fit accepted an EMA decay of 1 (the average would never move)")
	}
}

// TestFitWeightsShiftTheClassPrior trains twice from one start, once with
// class 0's examples weighted 20 to 1: the weighted model must give class
// 0 more probability on the validation examples on average.
func TestFitWeightsShiftTheClassPrior(t *testing.T) {
	f := newFitFixture(t)
	meanP0 := func(weight []float32) float64 {
		p := f.start.Clone()
		set := Data{X: f.trainSet.X, Y: f.trainSet.Y, Weight: weight}
		if _, err := Fit(f.sess, f.eval, p, set, Data{}, FitConfig{Trainable: allParams, Epochs: 2, BatchSize: 16, LRHead: 0.01, LRBody: 0.01, Seed: 5}); err != nil {
			t.Fatal(err)
		}
		probs, err := Predict(f.eval, p, f.val.X, 16)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for i := range f.val.len() {
			sum += float64(probs[i*f.d.Classes])
		}
		return sum / float64(f.val.len())
	}
	heavy := make([]float32, f.trainSet.len())
	for i, y := range f.trainSet.Y {
		heavy[i] = 1
		if y == 0 {
			heavy[i] = 20
		}
	}
	plain, weighted := meanP0(nil), meanP0(heavy)
	if weighted < plain+0.05 {
		t.Errorf("mean validation probability of class 0: %.3f unweighted, %.3f with class 0 weighted 20x: want at least 0.05 more", plain, weighted)
	}
	bad := Data{X: f.trainSet.X, Y: f.trainSet.Y, Weight: heavy[:3]}
	if _, err := Fit(f.sess, f.eval, f.start.Clone(), bad, Data{}, FitConfig{Trainable: allParams, Epochs: 1, BatchSize: 16, LRHead: 0.01}); err == nil {
		t.Error("Fit accepted 3 weights for 90 examples")
	}
}

// TestHalfRowsTrainAsFloat32: activations held as binary16 bits train to
// exactly the parameters the same values held as float32 give (the cache
// rounds every activation to binary16 first, so holding them as such loses
// nothing), with mixup too, which reads two rows per example.
func TestHalfRowsTrainAsFloat32(t *testing.T) {
	f := newFitFixture(t)
	toHalf := func(set Data) (Data, Data) {
		rows := set.X.(Float32Rows)
		half, wide := make(HalfRows, len(rows)), make(Float32Rows, len(rows))
		for i, x := range rows {
			half[i] = nn.HalfBytesFromFloat32s(x)
			wide[i] = make([]float32, len(x))
			nn.HalfBytesToFloat32sInto(wide[i], half[i])
		}
		return Data{X: half, Y: set.Y}, Data{X: wide, Y: set.Y}
	}
	halfTrain, wideTrain := toHalf(f.trainSet)
	halfVal, wideVal := toHalf(f.val)
	for _, mixup := range []float64{0, 0.4} {
		cfg := FitConfig{Trainable: allParams, Epochs: 3, BatchSize: 16, LRHead: 0.03, LRBody: 0.01, Dropout: 0.1, Mixup: mixup, Seed: 1}
		fromHalf, fromWide := f.start.Clone(), f.start.Clone()
		hh, err := Fit(f.sess, f.eval, fromHalf, halfTrain, halfVal, cfg)
		if err != nil {
			t.Fatal(err)
		}
		hw, err := Fit(f.sess, f.eval, fromWide, wideTrain, wideVal, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range hh {
			if hh[i].Loss != hw[i].Loss || hh[i].ValLoss != hw[i].ValLoss {
				t.Errorf("mixup %g epoch %d: loss %v / val %v from binary16 rows, %v / %v from float32", mixup, i+1, hh[i].Loss, hh[i].ValLoss, hw[i].Loss, hw[i].ValLoss)
			}
		}
		for name, w := range fromWide {
			if !slices.Equal(fromHalf[name], w) {
				t.Errorf("mixup %g: %s differs between binary16 and float32 rows", mixup, name)
			}
		}
		if slices.Equal(fromWide[HeadW], f.start[HeadW]) {
			t.Fatalf("mixup %g: training left the head as it was: the comparison shows nothing", mixup)
		}
	}
}
