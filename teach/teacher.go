package teach

import (
	"context"
	"errors"
	"image"
	"sync"
	"sync/atomic"

	"gocv.io/x/gocv"
)

// Teacher is the running application's side of teaching, used by `rpscam
// live` keys and `rpscam serve`'s Teach panel: it saves samples from the
// live frames, trains, and swaps the taught model in through swap.
type Teacher struct {
	cfg     Config
	swap    func(modelPath string) error
	samples *Samples
	busy    atomic.Bool
	mu      sync.Mutex
	current string
}

// NewTeacher opens the samples store of cfg; swap loads a model into the
// running pipeline (session.Session.SwapModel).
func NewTeacher(cfg Config, swap func(modelPath string) error) (*Teacher, error) {
	if swap == nil {
		return nil, errors.New("teach: NewTeacher needs a swap function (e.g. the session's SwapModel)")
	}
	if len(cfg.Classes) == 0 {
		labels, err := modelLabels(cfg.Base, cfg.Library)
		if err != nil {
			return nil, err
		}
		cfg.Classes = labels
	}
	s, err := OpenSamples(cfg.Samples, cfg.Classes)
	if err != nil {
		return nil, err
	}
	return &Teacher{cfg: cfg, swap: swap, samples: s, current: cfg.Base}, nil
}

// Classes are the classes taught.
func (t *Teacher) Classes() []string { return t.samples.Classes() }

// Counts is the number of samples per class.
func (t *Teacher) Counts() map[string]int { return t.samples.Counts() }

// AddSample crops roi of frame (zero: the model's default centre crop),
// resizes it to the model input and saves it. Safe from the pipeline's sink
// goroutine.
func (t *Teacher) AddSample(class string, frame gocv.Mat, roi image.Rectangle) error {
	return errors.New("teach: AddSample is not implemented yet")
}

// Recent returns the class's n newest sample paths, newest first.
func (t *Teacher) Recent(class string, n int) ([]string, error) { return t.samples.Recent(class, n) }

// Train trains on the samples and, on success, swaps the taught model in.
// It returns ErrBusy while another Train runs.
func (t *Teacher) Train(ctx context.Context, progress func(Progress)) (*Result, error) {
	if !t.busy.CompareAndSwap(false, true) {
		return nil, ErrBusy
	}
	defer t.busy.Store(false)
	return nil, errors.New("teach: Train is not implemented yet")
}

// Reset swaps the base model back in.
func (t *Teacher) Reset() error {
	if err := t.swap(t.cfg.Base); err != nil {
		return err
	}
	t.mu.Lock()
	t.current = t.cfg.Base
	t.mu.Unlock()
	return nil
}

// ModelPath is the model running now.
func (t *Teacher) ModelPath() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.current
}
