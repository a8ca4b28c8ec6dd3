package early

import "testing"

// TestStopperKeepsTheBestEpoch: patience 2 stops two epochs after the best,
// restoring it; a better accuracy wins when ranking by accuracy.
func TestStopperKeepsTheBestEpoch(t *testing.T) {
	s := New(2, false, 0)
	losses := []float64{1, 0.5, 0.6, 0.7, 0.4}
	var stopAt int
	for i, l := range losses {
		epoch := i + 1
		best := s.Observe(l, 0, func() int { return epoch })
		stop, restore, early := s.End(epoch, len(losses), best)
		if stop {
			if !restore || !early || s.Best() != 2 {
				t.Errorf("epoch %d: restore %v early %v best %d, want true true 2", epoch, restore, early, s.Best())
			}
			stopAt = epoch
			break
		}
	}
	if stopAt != 4 {
		t.Errorf("stopped at %d, want 4", stopAt)
	}
	a := New(0, true, 0)
	a.Baseline(1, 0.5)
	if a.Observe(2, 0.5, func() int { return 1 }) || !a.Observe(2, 0.6, func() int { return 2 }) {
		t.Error("by accuracy: a tie with a higher loss must lose, a higher accuracy win")
	}
	if stop, restore, _ := a.End(5, 5, false); stop || restore {
		t.Error("patience 0 never stops or restores")
	}
}
