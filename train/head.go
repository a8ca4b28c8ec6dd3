package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/train/internal/early"
)

// Head is the trained classifier on top of the backbone: dropout on the
// feature vector (training only), a dense layer and softmax, as in the
// tutorial. W is Classes x In, row-major, the layout model.Params uses.
type Head struct {
	In, Classes int
	W           []float32
	B           []float32
}

// NewHead makes a head with Glorot-uniform weights and zero biases.
func NewHead(in, classes int, seed uint64) (*Head, error) {
	if in <= 0 || classes < 2 {
		return nil, fmt.Errorf("head needs a positive input width and at least 2 classes, got %d inputs, %d classes", in, classes)
	}
	rng := rand.New(rand.NewPCG(seed, 0x4ead))
	limit := math.Sqrt(6 / float64(in+classes))
	h := &Head{In: in, Classes: classes, W: make([]float32, in*classes), B: make([]float32, classes)}
	for i := range h.W {
		h.W[i] = float32((rng.Float64()*2 - 1) * limit)
	}
	return h, nil
}

// Clone returns a deep copy.
func (h *Head) Clone() *Head {
	return &Head{In: h.In, Classes: h.Classes, W: append([]float32(nil), h.W...), B: append([]float32(nil), h.B...)}
}

// Probs writes the class probabilities for one feature vector into out.
func (h *Head) Probs(x []float32, out []float32) {
	for c := 0; c < h.Classes; c++ {
		row := h.W[c*h.In : (c+1)*h.In]
		var s float32
		for i, v := range x {
			s += row[i] * v
		}
		out[c] = s + h.B[c]
	}
	nn.SoftmaxInPlace(out)
}

// Gradients holds dLoss/dW and dLoss/dB in the head's layouts.
type Gradients struct {
	W, B []float32
}

// Batch is a set of feature vectors with labels and optional per-example
// weights (nil means 1 each).
type Batch struct {
	X      [][]float32
	Y      []int
	Weight []float32
}

// LossAndGrad returns the weighted mean cross-entropy over the batch and
// accumulates its gradient into g (which it zeroes first). keep holds one
// inverted-dropout mask per example (values 0 or 1/(1-rate)); nil means no
// dropout.
func (h *Head) LossAndGrad(b Batch, keep [][]float32, g *Gradients) float64 {
	clear(g.W)
	clear(g.B)
	var total, wsum float64
	z := make([]float32, h.Classes)
	xd := make([]float32, h.In)
	for n, x := range b.X {
		w := float32(1)
		if b.Weight != nil {
			w = b.Weight[n]
		}
		wsum += float64(w)
		if keep != nil {
			for i := range x {
				xd[i] = x[i] * keep[n][i]
			}
		} else {
			copy(xd, x)
		}
		h.Probs(xd, z)
		y := b.Y[n]
		total -= float64(w) * math.Log(math.Max(float64(z[y]), 1e-12))
		// d(-log softmax_y)/dlogit_c = p_c - [c==y]
		for c := 0; c < h.Classes; c++ {
			d := z[c]
			if c == y {
				d--
			}
			d *= w
			g.B[c] += d
			row := g.W[c*h.In : (c+1)*h.In]
			for i, v := range xd {
				row[i] += d * v
			}
		}
	}
	if wsum == 0 {
		return 0
	}
	inv := float32(1 / wsum)
	for i := range g.W {
		g.W[i] *= inv
	}
	for i := range g.B {
		g.B[i] *= inv
	}
	return total / wsum
}

// adam is the Adam optimiser (Kingma & Ba) with Keras' defaults.
type adam struct {
	LR, Beta1, Beta2, Eps float64
	step                  int
	mW, vW, mB, vB        []float64
}

// newAdam returns Adam with learning rate lr and the Keras defaults
// beta1 0.9, beta2 0.999, epsilon 1e-7.
func newAdam(lr float64) *adam { return &adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-7} }

// Step applies one update of g to h.
func (a *adam) Step(h *Head, g *Gradients) {
	if a.mW == nil {
		a.mW, a.vW = make([]float64, len(h.W)), make([]float64, len(h.W))
		a.mB, a.vB = make([]float64, len(h.B)), make([]float64, len(h.B))
	}
	a.step++
	c1 := 1 - math.Pow(a.Beta1, float64(a.step))
	c2 := 1 - math.Pow(a.Beta2, float64(a.step))
	upd := func(p []float32, g []float32, m, v []float64) {
		for i := range p {
			gi := float64(g[i])
			m[i] = a.Beta1*m[i] + (1-a.Beta1)*gi
			v[i] = a.Beta2*v[i] + (1-a.Beta2)*gi*gi
			p[i] -= float32(a.LR * (m[i] / c1) / (math.Sqrt(v[i]/c2) + a.Eps))
		}
	}
	upd(h.W, g.W, a.mW, a.vW)
	upd(h.B, g.B, a.mB, a.vB)
}

// FitConfig is the head-training recipe.
type FitConfig struct {
	Epochs       int     // upper bound; early stopping usually ends sooner
	BatchSize    int     // 64 in the tutorial
	LearningRate float64 // Adam
	Dropout      float64 // rate on the feature vector, 0.2 in the tutorial
	WeightDecay  float64 // L2 on W, added to the gradient
	// DecayTowards, if set (len(W)), is where WeightDecay pulls W instead
	// of 0: a head refitted from a trained one (teaching) stays near it.
	DecayTowards []float32
	Patience     int // epochs without a better validation loss before stopping; 0 disables
	// BalanceClasses weighs the training rows by ClassBalance, so that each
	// class of a source counts the same in the loss (FeatureSet.Batch
	// applies it; Fit itself reads Batch.Weight).
	BalanceClasses bool
	Seed           uint64
	// OnBatch, if set, is called after every batch (for progress bars).
	OnBatch func(epoch, batch, batches int)
	// OnEpoch, if set, is called after every epoch.
	OnEpoch func(EpochStats)
	// Stop, if set, is asked after every batch; a non-nil error ends Fit
	// with that error (an interrupted teach run).
	Stop func() error
}

// EpochStats is one epoch's line in the Keras-like log.
type EpochStats struct {
	Epoch        int     `json:"epoch"` // 1-based
	Epochs       int     `json:"-"`
	Loss         float64 `json:"loss"`
	Accuracy     float64 `json:"accuracy"`
	ValLoss      float64 `json:"val_loss"`       // NaN without validation data
	ValAccuracy  float64 `json:"val_accuracy"`   // NaN without validation data
	Best         bool    `json:"best,omitempty"` // the best monitored loss so far
	Seconds      float64 `json:"seconds"`
	LearningRate float64 `json:"-"`
	TrainN       int     `json:"-"`
	ValN         int     `json:"-"`
	StoppedEarly bool    `json:"stopped_early,omitempty"`
	Restored     bool    `json:"restored_best,omitempty"`
}

// MarshalJSON writes the validation figures of a run without validation
// data (NaN) as null: JSON has no NaN, and 0 would read as a measurement.
func (s EpochStats) MarshalJSON() ([]byte, error) {
	type plain EpochStats // no MarshalJSON: no recursion
	finite := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		plain
		ValLoss     *float64 `json:"val_loss"`
		ValAccuracy *float64 `json:"val_accuracy"`
	}{plain(s), finite(s.ValLoss), finite(s.ValAccuracy)})
}

// Evaluate returns the weighted mean loss and accuracy of h on b.
func (h *Head) Evaluate(b Batch) (loss, acc float64) {
	if len(b.X) == 0 {
		return math.NaN(), math.NaN()
	}
	z := make([]float32, h.Classes)
	var wsum, right float64
	for n, x := range b.X {
		w := 1.0
		if b.Weight != nil {
			w = float64(b.Weight[n])
		}
		h.Probs(x, z)
		loss -= w * math.Log(math.Max(float64(z[b.Y[n]]), 1e-12))
		if nn.Argmax(z) == b.Y[n] {
			right += w
		}
		wsum += w
	}
	return loss / wsum, right / wsum
}

// Fit trains h on the training batch with mini-batch Adam, dropout and
// early stopping on the validation loss; with early stopping, h ends with the
// weights of the best epoch. It returns the per-epoch history.
func Fit(h *Head, trainSet, valSet Batch, cfg FitConfig, now func() float64) ([]EpochStats, error) {
	if len(trainSet.X) == 0 {
		return nil, errors.New("no training examples")
	}
	if cfg.BatchSize <= 0 || cfg.Epochs <= 0 || cfg.LearningRate <= 0 {
		return nil, fmt.Errorf("batch size, epochs and learning rate must be positive (got %d, %d, %g)", cfg.BatchSize, cfg.Epochs, cfg.LearningRate)
	}
	if cfg.Dropout < 0 || cfg.Dropout >= 1 {
		return nil, fmt.Errorf("dropout rate %g out of range: use [0, 1)", cfg.Dropout)
	}
	for i, x := range trainSet.X {
		if len(x) != h.In {
			return nil, fmt.Errorf("training example %d has %d features, the head takes %d", i, len(x), h.In)
		}
		if trainSet.Y[i] < 0 || trainSet.Y[i] >= h.Classes {
			return nil, fmt.Errorf("training example %d has class %d, the head has %d classes", i, trainSet.Y[i], h.Classes)
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xf17))
	opt := newAdam(cfg.LearningRate)
	g := &Gradients{W: make([]float32, len(h.W)), B: make([]float32, len(h.B))}
	order := make([]int, len(trainSet.X))
	for i := range order {
		order[i] = i
	}
	batches := (len(order) + cfg.BatchSize - 1) / cfg.BatchSize
	keep := make([][]float32, cfg.BatchSize)
	for i := range keep {
		keep[i] = make([]float32, h.In)
	}
	var hist []EpochStats
	stopper := early.New(cfg.Patience, false, h.Clone())
	hasVal := len(valSet.X) > 0
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		start := now()
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for bi := 0; bi < batches; bi++ {
			idx := order[bi*cfg.BatchSize : min((bi+1)*cfg.BatchSize, len(order))]
			mb := Batch{X: make([][]float32, len(idx)), Y: make([]int, len(idx))}
			if trainSet.Weight != nil {
				mb.Weight = make([]float32, len(idx))
			}
			for k, i := range idx {
				mb.X[k], mb.Y[k] = trainSet.X[i], trainSet.Y[i]
				if mb.Weight != nil {
					mb.Weight[k] = trainSet.Weight[i]
				}
			}
			var masks [][]float32
			if cfg.Dropout > 0 {
				scale := float32(1 / (1 - cfg.Dropout))
				masks = keep[:len(idx)]
				for _, m := range masks {
					for i := range m {
						if rng.Float64() < cfg.Dropout {
							m[i] = 0
						} else {
							m[i] = scale
						}
					}
				}
			}
			h.LossAndGrad(mb, masks, g)
			if cfg.WeightDecay > 0 {
				wd := float32(cfg.WeightDecay)
				if cfg.DecayTowards != nil {
					for i := range g.W {
						g.W[i] += wd * (h.W[i] - cfg.DecayTowards[i])
					}
				} else {
					for i := range g.W {
						g.W[i] += wd * h.W[i]
					}
				}
			}
			opt.Step(h, g)
			if cfg.OnBatch != nil {
				cfg.OnBatch(epoch, bi+1, batches)
			}
			if cfg.Stop != nil {
				if err := cfg.Stop(); err != nil {
					return hist, err
				}
			}
		}
		st := EpochStats{Epoch: epoch, Epochs: cfg.Epochs, LearningRate: cfg.LearningRate, TrainN: len(trainSet.X), ValN: len(valSet.X)}
		st.Loss, st.Accuracy = h.Evaluate(trainSet)
		st.ValLoss, st.ValAccuracy = h.Evaluate(valSet)
		monitor := st.ValLoss
		if !hasVal {
			monitor = st.Loss
		}
		st.Best = stopper.Observe(monitor, math.NaN(), h.Clone)
		stop, restore, stoppedEarly := stopper.End(epoch, cfg.Epochs, st.Best)
		if restore {
			*h = *stopper.Best()
		}
		st.Restored, st.StoppedEarly = restore, stoppedEarly
		st.Seconds = now() - start
		hist = append(hist, st)
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(st)
		}
		if stop {
			break
		}
	}
	return hist, nil
}
