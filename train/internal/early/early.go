// Package early is the early-stopping bookkeeping both training loops
// share (train.Fit for the head, tail.Fit for fine-tuning): the best epoch
// so far, its parameters, and the patience left.
package early

import "math"

// Stopper tracks the monitored validation figures of each epoch and keeps
// a snapshot of the best epoch's parameters P.
type Stopper[P any] struct {
	patience   int // epochs without a better figure before stopping; 0 never stops
	byAccuracy bool
	bestLoss   float64
	bestAcc    float64
	since      int
	best       P
}

// New starts a Stopper whose best so far is start, at an infinite loss.
// byAccuracy ranks epochs by accuracy (ties: lower loss) instead of loss.
func New[P any](patience int, byAccuracy bool, start P) *Stopper[P] {
	return &Stopper[P]{patience: patience, byAccuracy: byAccuracy, bestLoss: math.Inf(1), bestAcc: math.Inf(-1), best: start}
}

// Baseline makes the starting point's figures the ones to beat.
func (s *Stopper[P]) Baseline(loss, acc float64) { s.bestLoss, s.bestAcc = loss, acc }

// Observe records an epoch's figures; when they are the best so far it
// keeps snapshot() and reports true.
func (s *Stopper[P]) Observe(loss, acc float64, snapshot func() P) bool {
	if !s.better(loss, acc) {
		s.since++
		return false
	}
	s.bestLoss, s.bestAcc, s.best, s.since = loss, acc, snapshot(), 0
	return true
}

func (s *Stopper[P]) better(l, a float64) bool {
	if s.byAccuracy {
		return a > s.bestAcc+1e-9 || (math.Abs(a-s.bestAcc) <= 1e-9 && l < s.bestLoss-1e-6)
	}
	return l < s.bestLoss-1e-6
}

// End says, after epoch (1-based) of epochs, whether training stops now,
// whether the best epoch's parameters (Best) replace the current ones (the
// last epoch, patience on, and this epoch not the best), and whether it
// stopped before the epoch bound.
func (s *Stopper[P]) End(epoch, epochs int, isBest bool) (stop, restore, early bool) {
	stop = s.patience > 0 && s.since >= s.patience
	last := stop || epoch == epochs
	return stop, last && s.patience > 0 && !isBest, stop && epoch < epochs
}

// Best is the best epoch's snapshot.
func (s *Stopper[P]) Best() P { return s.best }
