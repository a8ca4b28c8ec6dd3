package tail

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/train/internal/early"
)

// Data is a set of cached trunk activations (each S*S*In values, NHWC) with labels.
type Data struct {
	X Rows
	Y []int
	// Weight, when not nil, weighs each example's loss (e.g.
	// train.ClassBalance); a batch's loss is the weighted mean.
	Weight []float32
}

// len is the number of examples (0 without rows).
func (d Data) len() int {
	if d.X == nil {
		return 0
	}
	return d.X.Len()
}

// FitConfig is the fine-tuning recipe.
type FitConfig struct {
	Trainable []string // parameters to train (e.g. conv1Params + headParams)
	Epochs    int      // upper bound; early stopping usually ends sooner
	BatchSize int
	// LRHead is Adam's learning rate for the head; LRBody for the
	// pretrained layers, lower so that fine-tuning adjusts rather than
	// overwrites what ImageNet taught them.
	LRHead, LRBody float64
	Dropout        float64 // on the pooled features
	WeightDecay    float64 // L2 on the head weights
	// AnchorDecay pulls fine-tuned weights towards their starting
	// (pretrained) values: L2 on (w - w0), the "L2-SP" regulariser.
	AnchorDecay float64
	// LabelSmoothing mixes each one-hot target with the uniform
	// distribution: (1-e)·y + e/classes. It keeps the fine-tuned layers from
	// chasing ever more confident outputs on the training groups.
	LabelSmoothing float64
	// Mixup is the α of Beta(α, α) for mixing each training example with a
	// random partner (inputs and targets); 0 disables it. See mixer. The
	// reported training accuracy then counts each example's own class.
	Mixup float64
	// Cosine anneals both learning rates over the Epochs bound, from their
	// values above to zero at the last batch (half a cosine wave), so that
	// the last epochs take ever smaller steps instead of jumping around the
	// minimum at full rate.
	Cosine bool
	// EMA, when above 0, keeps an exponential moving average of the
	// trained parameters (avg = EMA·avg + (1-EMA)·p after every batch,
	// starting from the initial values) and validates, keeps and returns
	// the average instead of the last batch's parameters: an average over
	// the last ~1/(1-EMA) steps sits nearer the middle of the minimum the
	// noisy steps circle. Training itself continues from the raw parameters.
	EMA float64
	// MonitorAccuracy selects the epoch by validation accuracy (ties: lower
	// loss) instead of validation loss.
	MonitorAccuracy bool
	Patience        int // epochs without a better monitored value; 0 disables
	Seed            uint64
	OnBatch         func(epoch, batch, batches int)
	OnEpoch         func(Stats)
}

// Stats is one epoch: training loss and accuracy are running means over
// the epoch's batches (with dropout), as Keras reports them.
type Stats struct {
	Epoch, Epochs         int
	Loss, Accuracy        float64
	ValLoss, ValAccuracy  float64
	Best, Restored, Early bool
}

// Fit trains p in place on the training data with mini-batch Adam and
// dropout, evaluating on val after every epoch and keeping the parameters
// of the epoch with the lowest validation loss. Training runs in sess (a
// training session for cfg.Trainable), evaluation in eval (an inference
// session).
func Fit(sess, eval *Session, p Params, trainSet, val Data, cfg FitConfig) ([]Stats, error) {
	d := sess.dims
	if err := cfg.check(sess, trainSet); err != nil {
		return nil, err
	}
	per := d.InputLen()
	start := p.Clone()
	// scored is what each epoch validates and keeps: p itself, or the
	// moving average of it.
	scored := p
	if cfg.EMA > 0 {
		scored = p.Clone()
	}
	opt := newAdam()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a11))
	fill := newBatcher(trainSet, cfg, per, d.Classes)
	order := make([]int, trainSet.X.Len())
	for i := range order {
		order[i] = i
	}
	bs := cfg.BatchSize
	batches := (len(order) + bs - 1) / bs
	b := Batch{X: make([]float32, bs*per), OneHot: make([]float32, bs*d.Classes), Weight: make([]float32, bs), Mask: make([]float32, bs*d.Features)}
	var hist []Stats
	stopper := early.New(cfg.Patience, cfg.MonitorAccuracy, p.Clone())
	if val.len() > 0 && cfg.Patience > 0 {
		// The starting point competes too: fine-tuning that never beats the
		// warmed-up head on validation ends where it began.
		probs, err := Predict(eval, p, val.X, bs)
		if err != nil {
			return nil, err
		}
		stopper.Baseline(Score(probs, val.Y, d.Classes))
	}
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var lossSum, right float64
		for bi := 0; bi < batches; bi++ {
			decay := 1.0
			if cfg.Cosine {
				decay = cosineDecay((epoch-1)*batches+bi, cfg.Epochs*batches)
			}
			idx := order[bi*bs : min((bi+1)*bs, len(order))]
			n := len(idx)
			mb := Batch{N: n, X: b.X[:n*per], OneHot: b.OneHot[:n*d.Classes], Weight: b.Weight[:n], Mask: b.Mask[:n*d.Features]}
			fill.fill(mb, idx)
			dropoutMask(mb.Mask, cfg.Dropout, rng)
			res, err := sess.Run(mb, p)
			if err != nil {
				return hist, err
			}
			if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
				return hist, fmt.Errorf("tail: loss is %v at epoch %d batch %d: training diverged; lower the learning rates", res.Loss, epoch, bi+1)
			}
			lossSum += res.Loss * float64(n)
			for k, i := range idx {
				if nn.Argmax(res.Probs[k*d.Classes:(k+1)*d.Classes]) == trainSet.Y[i] {
					right++
				}
			}
			cfg.update(opt, p, start, scored, res.Grads, decay)
			if cfg.OnBatch != nil {
				cfg.OnBatch(epoch, bi+1, batches)
			}
		}
		st := Stats{Epoch: epoch, Epochs: cfg.Epochs, Loss: lossSum / float64(len(order)), Accuracy: right / float64(len(order))}
		st.ValLoss, st.ValAccuracy = math.NaN(), math.NaN()
		ml, ma := st.Loss, st.Accuracy
		if val.len() > 0 {
			probs, err := Predict(eval, scored, val.X, bs)
			if err != nil {
				return hist, err
			}
			st.ValLoss, st.ValAccuracy = Score(probs, val.Y, d.Classes)
			ml, ma = st.ValLoss, st.ValAccuracy
		}
		st.Best = stopper.Observe(ml, ma, scored.Clone)
		stop, restore, stoppedEarly := stopper.End(epoch, cfg.Epochs, st.Best)
		switch {
		case restore:
			for k, v := range stopper.Best() {
				copy(p[k], v)
			}
			st.Restored = true
		case (stop || epoch == cfg.Epochs) && cfg.EMA > 0:
			// The average is the result, whether or not it was validated.
			for k, v := range scored {
				copy(p[k], v)
			}
		}
		st.Early = stoppedEarly
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

// cosineDecay is the learning-rate factor of step (0-based) of total:
// 1 at the first step, falling along half a cosine wave towards 0 after the last.
func cosineDecay(step, total int) float64 {
	return 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(total)))
}

// Predict returns the class probabilities (len(xs)*Classes) of p on xs,
// run in batches of batch through an inference session.
func Predict(eval *Session, p Params, xs Rows, batch int) ([]float32, error) {
	probs, _, err := predict(eval, p, xs, batch, false)
	return probs, err
}

// PredictPooled is Predict that also returns the pooled features
// (len(xs)*Features), e.g. to fit a head before fine-tuning.
func PredictPooled(eval *Session, p Params, xs Rows, batch int) (probs, pooled []float32, err error) {
	return predict(eval, p, xs, batch, true)
}

func predict(eval *Session, p Params, xs Rows, batch int, keepPooled bool) ([]float32, []float32, error) {
	d := eval.dims
	per := d.InputLen()
	batch = max(batch, 1)
	buf := make([]float32, batch*per)
	probs := make([]float32, 0, xs.Len()*d.Classes)
	var pooled []float32
	for s := 0; s < xs.Len(); s += batch {
		n := min(batch, xs.Len()-s)
		for k := range n {
			if got := xs.RowLen(s + k); got != per {
				return nil, nil, fmt.Errorf("tail: example %d has %d values, the tail takes %d", s+k, got, per)
			}
			xs.Row(s+k, buf[k*per:(k+1)*per])
		}
		res, err := eval.Run(Batch{N: n, X: buf[:n*per]}, p)
		if err != nil {
			return nil, nil, err
		}
		probs = append(probs, res.Probs...)
		if keepPooled {
			pooled = append(pooled, res.Pooled...)
		}
	}
	return probs, pooled, nil
}

// Score returns the mean cross-entropy and the accuracy of probs against labels.
func Score(probs []float32, labels []int, classes int) (loss, acc float64) {
	if len(labels) == 0 {
		return math.NaN(), math.NaN()
	}
	right := 0
	for i, y := range labels {
		row := probs[i*classes : (i+1)*classes]
		loss -= math.Log(math.Max(float64(row[y]), 1e-12))
		if nn.Argmax(row) == y {
			right++
		}
	}
	return loss / float64(len(labels)), float64(right) / float64(len(labels))
}

// adam is Adam with Keras' defaults (beta1 0.9, beta2 0.999, eps 1e-7),
// one moment pair per parameter tensor and a learning rate per call.
type adam struct {
	t    int
	m, v map[string][]float64
}

func newAdam() *adam { return &adam{t: 1, m: map[string][]float64{}, v: map[string][]float64{}} }

func (a *adam) step(name string, w, g []float32, lr float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-7
	m, v := a.m[name], a.v[name]
	if m == nil {
		m, v = make([]float64, len(w)), make([]float64, len(w))
		a.m[name], a.v[name] = m, v
	}
	c1 := 1 - math.Pow(b1, float64(a.t))
	c2 := 1 - math.Pow(b2, float64(a.t))
	for i := range w {
		gi := float64(g[i])
		m[i] = b1*m[i] + (1-b1)*gi
		v[i] = b2*v[i] + (1-b2)*gi*gi
		w[i] -= float32(lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + eps))
	}
}

// check rejects a recipe or training set the session cannot run.
func (cfg FitConfig) check(sess *Session, trainSet Data) error {
	d := sess.dims
	per := d.InputLen()
	if trainSet.len() == 0 {
		return errors.New("tail: no training examples")
	}
	if cfg.BatchSize < 1 || cfg.Epochs < 1 || cfg.LRHead <= 0 || cfg.LRBody < 0 {
		return fmt.Errorf("tail: batch size, epochs and the head learning rate must be positive (got %d, %d, %g)", cfg.BatchSize, cfg.Epochs, cfg.LRHead)
	}
	if cfg.Dropout < 0 || cfg.Dropout >= 1 {
		return fmt.Errorf("tail: dropout rate %g out of range: use [0, 1)", cfg.Dropout)
	}
	if cfg.LabelSmoothing < 0 || cfg.LabelSmoothing >= 1 {
		return fmt.Errorf("tail: label smoothing %g out of range: use [0, 1)", cfg.LabelSmoothing)
	}
	if cfg.EMA < 0 || cfg.EMA >= 1 || math.IsNaN(cfg.EMA) {
		return fmt.Errorf("tail: EMA decay %g out of range: use 0 (off) up to below 1, e.g. 0.999", cfg.EMA)
	}
	if cfg.Mixup < 0 || math.IsNaN(cfg.Mixup) {
		return fmt.Errorf("tail: mixup alpha %g out of range: use 0 (off) or more, e.g. 0.2", cfg.Mixup)
	}
	if !slices.Equal(sess.trainable, cfg.Trainable) {
		return fmt.Errorf("tail: the session trains %v, the recipe %v", sess.trainable, cfg.Trainable)
	}
	if len(trainSet.Y) != trainSet.X.Len() {
		return fmt.Errorf("tail: %d labels for %d training examples", len(trainSet.Y), trainSet.X.Len())
	}
	for i := range trainSet.X.Len() {
		if n := trainSet.X.RowLen(i); n != per {
			return fmt.Errorf("tail: training example %d has %d values, the tail takes %d", i, n, per)
		}
		if trainSet.Y[i] < 0 || trainSet.Y[i] >= d.Classes {
			return fmt.Errorf("tail: training example %d has class %d of %d", i, trainSet.Y[i], d.Classes)
		}
	}
	if trainSet.Weight != nil && len(trainSet.Weight) != trainSet.X.Len() {
		return fmt.Errorf("tail: %d weights for %d training examples", len(trainSet.Weight), trainSet.X.Len())
	}
	return nil
}

// update applies one batch's gradients (with weight decay on the head
// and the anchor pull on the other layers) at the learning rates times
// decay, and moves the moving average scored when EMA is on.
func (cfg FitConfig) update(opt *adam, p, start, scored Params, grads map[string][]float32, decay float64) {
	for _, name := range cfg.Trainable {
		g := grads[name]
		lr := cfg.LRBody
		switch name {
		case HeadW:
			lr = cfg.LRHead
			if cfg.WeightDecay > 0 {
				for i := range g {
					g[i] += float32(cfg.WeightDecay) * p[name][i]
				}
			}
		case HeadB:
			lr = cfg.LRHead
		default:
			if cfg.AnchorDecay > 0 {
				w0 := start[name]
				for i := range g {
					g[i] += float32(cfg.AnchorDecay) * (p[name][i] - w0[i])
				}
			}
		}
		opt.step(name, p[name], g, lr*decay)
	}
	opt.t++
	if cfg.EMA > 0 {
		for _, name := range cfg.Trainable {
			avg, w := scored[name], p[name]
			for i := range avg {
				avg[i] = float32(cfg.EMA)*avg[i] + float32(1-cfg.EMA)*w[i]
			}
		}
	}
}

// batcher fills training batches: inputs, smoothed one-hot targets (both
// mixed with a random partner under mixup) and normalised weights.
type batcher struct {
	set          Data
	per, classes int
	mixup        bool
	mixing       mixer
	off, on      float32
	own, partner []float32
	// a, b hold the two rows mixup blends.
	a, b []float32
}

func newBatcher(set Data, cfg FitConfig, per, classes int) *batcher {
	smooth := cfg.LabelSmoothing
	return &batcher{set: set, per: per, classes: classes, mixup: cfg.Mixup > 0,
		// Mixing draws from its own stream so that a recipe without it
		// repeats the shuffles and dropout masks of one that never had it.
		mixing: mixer{alpha: cfg.Mixup, rng: rand.New(rand.NewPCG(cfg.Seed, 0x313c))},
		off:    float32(smooth / float64(classes)), on: float32(1 - smooth + smooth/float64(classes)),
		own: make([]float32, classes), partner: make([]float32, classes), a: make([]float32, per), b: make([]float32, per)}
}

func (f *batcher) target(dst []float32, y int) {
	for i := range dst {
		dst[i] = f.off
	}
	dst[y] = f.on
}

// fill writes the examples idx into mb.
func (f *batcher) fill(mb Batch, idx []int) {
	per, set := f.per, f.set
	var wsum float32
	for k, i := range idx {
		x, t := mb.X[k*per:(k+1)*per], mb.OneHot[k*f.classes:(k+1)*f.classes]
		if f.mixup {
			j := f.mixing.rng.IntN(set.X.Len())
			f.target(f.own, set.Y[i])
			f.target(f.partner, set.Y[j])
			set.X.Row(i, f.a)
			set.X.Row(j, f.b)
			mix(x, f.a, f.b, t, f.own, f.partner, f.mixing.lambda())
		} else {
			set.X.Row(i, x)
			f.target(t, set.Y[i])
		}
		mb.Weight[k] = 1
		if set.Weight != nil {
			mb.Weight[k] = set.Weight[i]
		}
		wsum += mb.Weight[k]
	}
	for k := range mb.Weight {
		mb.Weight[k] /= wsum
	}
}

// dropoutMask fills mask with inverted-dropout factors: 0 at rate, else
// 1/(1-rate).
func dropoutMask(mask []float32, rate float64, rng *rand.Rand) {
	scale := float32(1 / (1 - rate))
	for i := range mask {
		mask[i] = scale
		if rate > 0 && rng.Float64() < rate {
			mask[i] = 0
		}
	}
}
