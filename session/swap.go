package session

import (
	"errors"
	"fmt"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/pipeline"
)

// ModelMismatchError is SwapModel's refusal of a model that is not fed like
// the running one; the running model is kept. It wraps
// pipeline.ErrIncompatibleModel.
type ModelMismatchError struct {
	Path    string // the refused model
	Field   string // "input size", "channels", "layout" or "input type"
	Running string // the running model's
	Refused string // the refused model's
}

func (e *ModelMismatchError) Error() string {
	return fmt.Sprintf("session: cannot swap in %s: its %s is %s, the running model's is %s; swap in a model exported with the running one's input (e.g. one taught from it)",
		e.Path, e.Field, e.Refused, e.Running)
}

func (e *ModelMismatchError) Unwrap() error { return pipeline.ErrIncompatibleModel }

// checkInput says how the model at path, with contract next, is fed
// differently from the running one (nil when it is not). The colour order
// and normalisation may differ: each frame is prepared by its own model.
func checkInput(path string, running, next infer.Contract) error {
	for _, f := range []struct{ field, running, next string }{
		{"input size", fmt.Sprintf("%dx%d", running.Width, running.Height), fmt.Sprintf("%dx%d", next.Width, next.Height)},
		{"channels", fmt.Sprint(running.Channels), fmt.Sprint(next.Channels)},
		{"layout", string(running.Layout), string(next.Layout)},
		{"input type", string(running.Element), string(next.Element)},
	} {
		if f.running != f.next {
			return &ModelMismatchError{Path: path, Field: f.field, Running: f.running, Refused: f.next}
		}
	}
	return nil
}

// SwapModel loads the model at path, as many instances as run now, with
// Open's options on the device the running model uses, and makes it the
// session's model. It may be called from any goroutine, before, while or
// after Run runs. Loading happens first, off the frame path; frames already
// read finish on the old model, which is closed once none holds it. A
// model fed differently (input size, channels, layout or type) is refused
// with a *ModelMismatchError and the running one kept.
// The labels may differ (3 or 4 classes): the decision, the smoothing
// (started over) and the overlay follow the new model from its first frame.
// Concurrent calls are each applied whole, in some order.
func (s *Session) SwapModel(path string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("session: SwapModel after Close")
	}
	// A copy of the config, taken under the lock: a concurrent swap's
	// install writes s.cfg.
	cfg, n := s.cfg, len(s.models)
	cfg.Model, cfg.Device = path, infer.DeviceCPU
	if s.models[0].Provider() == "CUDA" {
		cfg.Device = infer.DeviceCUDA // without trying, and reporting, CUDA again
	}
	s.mu.Unlock()

	next, err := loadInstances(cfg, n)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.install(path, next); err != nil {
		closeAll(next)
		return err
	}
	return nil
}

// loadInstances loads n instances of cfg's model on cfg's device and runs
// each once.
func loadInstances(cfg Config, n int) ([]*infer.Classifier, error) {
	path := cfg.Model
	first, err := LoadModel(cfg)
	if err != nil {
		return nil, err
	}
	models := []*infer.Classifier{first}
	for len(models) < n {
		more, err := first.Another()
		if err != nil {
			closeAll(models)
			return nil, err
		}
		models = append(models, more)
	}
	// ONNX Runtime allocates a session's buffers on its first run: let that
	// happen here, not on a frame.
	blank := make([]byte, first.InputBytes())
	for _, m := range models {
		if _, err := m.Infer(blank); err != nil {
			closeAll(models)
			return nil, fmt.Errorf("session: trial run of %s: %w", path, err)
		}
	}
	return models, nil
}

// install makes next the session's model; s.mu is held. The replaced
// instances are closed now, or once the running pipeline's last frame on
// them is done.
func (s *Session) install(path string, next []*infer.Classifier) error {
	if s.closed {
		return errors.New("session: SwapModel after Close")
	}
	if err := checkInput(path, s.models[0].Contract(), next[0].Contract()); err != nil {
		return err
	}
	old := s.models
	if s.pipe == nil {
		closeAll(old)
	} else {
		_, unused, err := s.pipe.Swap(adapt(next)...)
		if err != nil {
			return fmt.Errorf("session: cannot swap in %s: %w", path, err)
		}
		s.retiring.Add(1)
		go func() {
			defer s.retiring.Done()
			<-unused
			closeAll(old)
		}()
	}
	s.models = next
	s.cfg.Model, s.cfg.Precision = path, ""
	return nil
}

// closeAll closes model instances.
func closeAll(models []*infer.Classifier) {
	for _, m := range models {
		m.Close()
	}
}
