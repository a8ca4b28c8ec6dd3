package teach

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"
)

// Teacher is the running application's side of teaching, used by `rpscam
// live` keys and `rpscam serve`'s Teach panel: it saves samples from the
// live frames, trains, and swaps the taught model in through swap.
type Teacher struct {
	cfg     Config
	swap    func(modelPath string) error
	rec     *Recorder
	busy    atomic.Bool
	mu      sync.Mutex
	current string
}

// NewTeacher opens the samples store of cfg (cfg.Out is where taught models
// go); swap loads a model into the running pipeline (the session's
// SwapModel). Close it when done.
func NewTeacher(cfg Config, swap func(modelPath string) error) (*Teacher, error) {
	if swap == nil {
		return nil, errors.New("teach: NewTeacher needs a swap function (e.g. the session's SwapModel)")
	}
	if cfg.Out == "" {
		return nil, errors.New("teach: NewTeacher needs the path the taught model goes to (Config.Out)")
	}
	contract, err := modelContract(cfg.Base, cfg.Library)
	if err != nil {
		return nil, err
	}
	if len(cfg.Classes) == 0 {
		cfg.Classes = contract.Labels
	}
	s, err := OpenSamples(cfg.Samples, cfg.Classes)
	if err != nil {
		return nil, err
	}
	rec, err := NewRecorder(s, contract)
	if err != nil {
		return nil, err
	}
	if cfg.Shipped == "" {
		cfg.Shipped = cfg.Base
	}
	return &Teacher{cfg: cfg, swap: swap, rec: rec, current: cfg.Shipped}, nil
}

// Classes are the classes taught.
func (t *Teacher) Classes() []string { return t.rec.samples.Classes() }

// Counts is the number of samples per class.
func (t *Teacher) Counts() map[string]int { return t.rec.samples.Counts() }

// AddSample crops roi of frame (zero: the model's default centre crop),
// resizes it to the model input and saves it. Safe from the pipeline's sink
// goroutine.
func (t *Teacher) AddSample(class string, frame gocv.Mat, roi image.Rectangle) error {
	_, err := t.rec.Add(class, frame, roi)
	return err
}

// Recent returns the class's n newest sample paths, newest first.
func (t *Teacher) Recent(class string, n int) ([]string, error) {
	return t.rec.samples.Recent(class, n)
}

// Train trains on the samples and, on success, swaps the taught model in;
// Result.SwapTook is the swap's share of Result.Took. It returns ErrBusy
// while another Train runs. On any failure the running model stays.
func (t *Teacher) Train(ctx context.Context, progress func(Progress)) (*Result, error) {
	if !t.busy.CompareAndSwap(false, true) {
		return nil, ErrBusy
	}
	defer t.busy.Store(false)
	start := time.Now()
	res, err := Train(ctx, t.cfg, progress)
	if err != nil {
		return nil, err
	}
	swapStart := time.Now()
	if err := t.swap(res.Model); err != nil {
		return nil, fmt.Errorf("teach: the taught model %s was written but could not be swapped in: %w (the running model is unchanged)", res.Model, err)
	}
	res.SwapTook = time.Since(swapStart)
	res.Took = time.Since(start)
	t.mu.Lock()
	t.current = res.Model
	t.mu.Unlock()
	return res, nil
}

// Reset swaps the shipped model (Config.Shipped) back in.
func (t *Teacher) Reset() error {
	if err := t.swap(t.cfg.Shipped); err != nil {
		return err
	}
	t.mu.Lock()
	t.current = t.cfg.Shipped
	t.mu.Unlock()
	return nil
}

// ModelPath is the model running now.
func (t *Teacher) ModelPath() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.current
}

// Close frees the sample recorder's buffers.
func (t *Teacher) Close() error { return t.rec.Close() }
