package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrIncompatibleModel is wrapped by Swap's refusal of classifiers that do
// not fit the running ones: another number of instances, another prepared
// input size, or a plain Classifier where a StagedClassifier runs (or the
// reverse). The running classifiers are kept.
var ErrIncompatibleModel = errors.New("pipeline: the new model does not fit the running one")

// modelSet is one model's instances: the first (which also prepares frames
// for a StagedClassifier) and the parallel ones, with the count of frames
// that hold it. Worker i always runs instance i of the set its frame holds.
type modelSet struct {
	workers    []Classifier
	labels     []string
	staged     StagedClassifier // workers[0], when every instance is staged
	inputBytes int

	// Guarded by models.mu.
	frames   int           // frames read since this set was current and not yet released
	replaced bool          // a Swap made another set current
	unused   chan struct{} // closed once replaced and frames is 0
}

// newModelSet checks that cls are instances of one model: the same number
// of labels and, when the first is staged, the same prepared input.
func newModelSet(cls []Classifier) (*modelSet, error) {
	if len(cls) == 0 || cls[0] == nil {
		return nil, errors.New("pipeline: nil Classifier")
	}
	s := &modelSet{workers: cls, labels: cls[0].Labels(), unused: make(chan struct{})}
	staged, isStaged := cls[0].(StagedClassifier)
	for i, w := range cls[1:] {
		if w == nil {
			return nil, fmt.Errorf("pipeline: parallel classifier %d is nil", i)
		}
		if n := len(w.Labels()); n != len(s.labels) {
			return nil, fmt.Errorf("pipeline: parallel classifier %d has %d labels, the first has %d: they must be instances of the same model", i, n, len(s.labels))
		}
		if ws, ok := w.(StagedClassifier); isStaged && (!ok || ws.InputBytes() != staged.InputBytes()) {
			return nil, fmt.Errorf("pipeline: parallel classifier %d does not take the first one's %d-byte prepared input: they must be instances of the same model", i, staged.InputBytes())
		}
	}
	if isStaged {
		s.staged, s.inputBytes = staged, staged.InputBytes()
	}
	return s, nil
}

// fits says why next cannot replace s, or nil when it can.
func (s *modelSet) fits(next *modelSet) error {
	switch {
	case len(next.workers) != len(s.workers):
		return fmt.Errorf("%w: %d instances given, %d run: load as many instances as the pipeline was made with", ErrIncompatibleModel, len(next.workers), len(s.workers))
	case (next.staged == nil) != (s.staged == nil):
		return fmt.Errorf("%w: one is a StagedClassifier and the other is not: adapt both the same way", ErrIncompatibleModel)
	case next.inputBytes != s.inputBytes:
		return fmt.Errorf("%w: its prepared input is %d bytes, the running model's %d: swap in a model with the same input size, layout and element type", ErrIncompatibleModel, next.inputBytes, s.inputBytes)
	}
	return nil
}

// models holds the current set. Each frame takes the current set when it is
// read and holds it until it is released, so a swap takes effect between
// frames and a replaced set is unused once its last frame is released.
type models struct {
	mu  sync.Mutex
	cur *modelSet
}

// acquire is the current set, held by one more frame.
func (m *models) acquire() *modelSet {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur.frames++
	return m.cur
}

// release lets go of one frame's hold on s.
func (m *models) release(s *modelSet) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.frames--
	if s.frames == 0 && s.replaced {
		close(s.unused)
	}
}

// current is the set frames read now take.
func (m *models) current() *modelSet {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// Swap makes cls (the first instance, then the parallel ones, as New and
// WithParallelClassifiers take them) the model of every frame read from now
// on; frames already read finish on the model they started with. It may be
// called from any goroutine, before, during or after Run. Load the new
// instances first: Swap only switches, so frames keep flowing.
//
// It returns the replaced instances and a channel closed once no frame uses
// them any more (at once when none is in flight, and always before Run
// returns): close them after that. Classifiers that do not fit the running
// ones (see ErrIncompatibleModel) are refused and the running ones kept.
// The labels may differ: from the first frame cls classify, the decision
// and Annotated.Labels follow theirs, and the smoother starts over.
func (p *Pipeline) Swap(cls ...Classifier) (replaced []Classifier, unused <-chan struct{}, err error) {
	for i, c := range cls {
		if c == nil {
			return nil, nil, fmt.Errorf("pipeline: Swap: classifier %d is nil", i)
		}
	}
	next, err := newModelSet(cls)
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline: Swap: %w", err)
	}
	p.models.mu.Lock()
	defer p.models.mu.Unlock()
	old := p.models.cur
	if err := old.fits(next); err != nil {
		return nil, nil, err
	}
	p.models.cur = next
	old.replaced = true
	if old.frames == 0 {
		close(old.unused)
	}
	return old.workers, old.unused, nil
}

// Labels are the class names of the current model.
func (p *Pipeline) Labels() []string { return slices.Clone(p.models.current().labels) }
