package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

var (
	colourNames = []string{"red", "green", "blue"}
	gestures    = []string{"rock", "paper", "scissors"}
	gesturesNo  = []string{"rock", "paper", "scissors", "none"}
)

// swappable is stagedMeanColour with its own label names (a fourth, "none",
// gets probability 0) that fails once the test has "closed" it: a frame
// classified by an instance after Swap said it was unused fails the run.
type swappable struct {
	stagedMeanColour
	names  []string
	closed atomic.Bool
	infers atomic.Int64
	probs4 []float32
	bytes  int // InputBytes; 0 means 3
}

func newSwappable(names []string) *swappable { return &swappable{names: names} }

func (s *swappable) Labels() []string { return s.names }

func (s *swappable) InputBytes() int {
	if s.bytes != 0 {
		return s.bytes
	}
	return 3
}

func (s *swappable) Preprocess(bgr gocv.Mat, roi image.Rectangle, dst []byte) error {
	if s.closed.Load() {
		return errors.New("preprocess on a closed instance")
	}
	return s.stagedMeanColour.Preprocess(bgr, roi, dst)
}

func (s *swappable) Infer(in []byte) (Prediction, error) {
	if s.closed.Load() {
		return Prediction{}, errors.New("infer on a closed instance")
	}
	s.infers.Add(1)
	p, err := s.stagedMeanColour.Infer(in)
	if len(s.names) == 4 {
		s.probs4 = append(append(s.probs4[:0], p.Probs...), 0)
		p.Probs = s.probs4
	}
	return p, err
}

// instances makes n swappable instances of one model named names.
func instances(n int, names []string) []Classifier {
	cls := make([]Classifier, n)
	for i := range cls {
		cls[i] = newSwappable(names)
	}
	return cls
}

// closeWhenUnused marks old closed once unused is closed, as a caller
// closing real instances would.
func closeWhenUnused(old []Classifier, unused <-chan struct{}, done *sync.WaitGroup) {
	done.Add(1)
	go func() {
		defer done.Done()
		<-unused
		for _, c := range old {
			c.(*swappable).closed.Store(true)
		}
	}()
}

// resetCounter passes probabilities through and records after how many
// updates each Reset came.
type resetCounter struct {
	updates int
	resets  []int
}

func (r *resetCounter) Update(p []float32) []float32 { r.updates++; return p }
func (r *resetCounter) Reset()                       { r.resets = append(r.resets, r.updates) }

// switchAt checks that frames 0..k-1 have labels old and frames k.. labels
// new (frame i is colour i%3) and returns k.
func switchAt(t *testing.T, labels []string, old, new []string) int {
	t.Helper()
	k := 0
	for k < len(labels) && old != nil && labels[k] == old[k%3] {
		k++
	}
	for i := k; i < len(labels); i++ {
		if labels[i] != new[i%3] {
			t.Fatalf("frame %d: label %q, want the new model's %q (switched at frame %d; labels %v)", i, labels[i], new[i%3], k, labels)
		}
	}
	return k
}

// gatedSource holds back frame at and later until gate is closed, so a test
// knows those are read after something it does.
type gatedSource struct {
	*fakeSource
	at   int
	gate chan struct{}
}

func (g *gatedSource) Read(ctx context.Context) (Frame, func(), error) {
	if g.next >= g.at {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return Frame{}, nil, ctx.Err()
		}
	}
	return g.fakeSource.Read(ctx)
}

// TestSwapWhileRunning swaps a two-instance staged model from another
// goroutine while frame 20 is being consumed: every frame comes out once
// and in order, the frames read after the swap carry the new labels, the
// old instances are reported unused before Run returns and never run again.
func TestSwapWhileRunning(t *testing.T) {
	src := &fakeSource{w: 32, h: 24, n: 60}
	gated := &gatedSource{fakeSource: src, at: 40, gate: make(chan struct{})}
	oldCls, newCls := instances(2, colourNames), instances(2, gestures)
	sink := newRecordingSink()
	sm := &resetCounter{}
	var closers sync.WaitGroup
	var p *Pipeline
	var readBefore, readAfter int64 // frames the source had given when Swap was called and when it returned
	sink.hook = func(a *Annotated) {
		if a.Index != 20 {
			return
		}
		swapped := make(chan error)
		go func() {
			readBefore = src.reads.Load()
			old, unused, err := p.Swap(newCls...)
			readAfter = src.reads.Load()
			close(gated.gate)
			if err == nil {
				if !slices.Equal(old, oldCls) {
					err = fmt.Errorf("Swap returned %v, want the instances New was given", old)
				}
				closeWhenUnused(old, unused, &closers)
			}
			swapped <- err
		}()
		if err := <-swapped; err != nil {
			t.Error(err)
		}
	}
	p, err := New(gated, oldCls[0], WithParallelClassifiers(oldCls[1]), WithSinks(sink), WithSmoother(sm), withQueueDepth(2))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	closers.Wait()
	if err != nil || st.Frames != 60 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	for i, seq := range sink.seqs {
		if seq != uint64(i) {
			t.Fatalf("frame %d has seq %d: frames lost, repeated or reordered", i, seq)
		}
	}
	// Frames read before the swap finish on the old model; the one capture
	// was reading when Swap was called may go either way.
	if k := switchAt(t, sink.labels, colourNames, gestures); k <= 20 || k < int(readBefore)-1 || k > int(readAfter) {
		t.Fatalf("switched at frame %d; the source had given %d frames when Swap was called and %d when it returned", k, readBefore, readAfter)
	}
	if len(sm.resets) != 1 {
		t.Fatalf("smoother reset after updates %v, want once, at the switch", sm.resets)
	}
	var oldRan, newRan int64
	for i := range oldCls {
		oldRan += oldCls[i].(*swappable).infers.Load()
		newRan += newCls[i].(*swappable).infers.Load()
		if !oldCls[i].(*swappable).closed.Load() {
			t.Fatalf("old instance %d not reported unused", i)
		}
	}
	if oldRan+newRan != 60 || int(oldRan) != sm.resets[0] {
		t.Fatalf("old model ran %d frames, new %d; smoother reset after %d", oldRan, newRan, sm.resets[0])
	}
	if got := p.Labels(); !slices.Equal(got, gestures) {
		t.Fatalf("Labels after the swap: %v", got)
	}
	checkReleased(t, src)
}

// TestSwapRefusesAnotherInput: classifiers with another prepared input size,
// another number of instances or not staged are refused with
// ErrIncompatibleModel and the running model classifies every frame.
func TestSwapRefusesAnotherInput(t *testing.T) {
	src := &fakeSource{w: 16, h: 16, n: 30}
	sink := newRecordingSink()
	running := instances(2, colourNames)
	var p *Pipeline
	var refusals []error
	sink.hook = func(a *Annotated) {
		if a.Index != 10 {
			return
		}
		wide := instances(2, gestures)
		wide[0].(*swappable).bytes, wide[1].(*swappable).bytes = 4, 4
		for _, cls := range [][]Classifier{wide, instances(1, gestures), {&meanColourClassifier{}, &meanColourClassifier{}}} {
			_, unused, err := p.Swap(cls...)
			if unused != nil {
				t.Error("a refused swap returned a channel")
			}
			refusals = append(refusals, err)
		}
	}
	p, err := New(src, running[0], WithParallelClassifiers(running[1]), WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil || st.Frames != 30 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	wants := []string{"prepared input is 4 bytes, the running model's 3", "1 instances given, 2 run", "StagedClassifier"}
	for i, err := range refusals {
		if !errors.Is(err, ErrIncompatibleModel) || err == nil || !strings.Contains(err.Error(), wants[i]) {
			t.Errorf("refusal %d: %v, want ErrIncompatibleModel saying %q", i, err, wants[i])
		}
	}
	if k := switchAt(t, sink.labels, colourNames, gestures); k != 30 {
		t.Fatalf("frames from %d on were not the running model's", k)
	}
	if _, _, err := p.Swap(newSwappable(gestures), nil); err == nil {
		t.Fatal("a nil instance was accepted")
	}
}

// TestSwapToMoreClasses swaps a 3-class model for a 4-class one: the frames
// after it have four probabilities and the new labels, and the smoother
// starts over.
func TestSwapToMoreClasses(t *testing.T) {
	src := &fakeSource{w: 16, h: 16, n: 24}
	sink := newRecordingSink()
	var labelsSeen [][]string
	var rawTop []string // the label of the raw top class: the EMA blurs the decision
	var p *Pipeline
	var closers sync.WaitGroup
	sink.hook = func(a *Annotated) {
		labelsSeen = append(labelsSeen, slices.Clone(a.Labels))
		rawTop = append(rawTop, a.Labels[Decide(a.Raw, nil, 0).Top])
		if a.Index == 5 {
			old, unused, err := p.Swap(newSwappable(gesturesNo))
			if err != nil {
				t.Error(err)
				return
			}
			closeWhenUnused(old, unused, &closers)
		}
	}
	p, err := New(src, newSwappable(colourNames), WithSinks(sink), WithSmoother(NewEMA(0.5)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	closers.Wait()
	if err != nil || st.Frames != 24 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	k := switchAt(t, rawTop, colourNames, gesturesNo)
	// At most 8 frames are in flight behind frame 5: one in each stage's
	// goroutine and one in each channel.
	if k <= 5 || k > 14 {
		t.Fatalf("switched at frame %d, want just after 5", k)
	}
	for i := range sink.probs {
		want := 3
		if i >= k {
			want = 4
		}
		if len(sink.probs[i]) != want || len(sink.raw[i]) != want || len(labelsSeen[i]) != want {
			t.Fatalf("frame %d: %d probabilities, %d raw, labels %v; want %d", i, len(sink.probs[i]), len(sink.raw[i]), labelsSeen[i], want)
		}
	}
	// The EMA started over: the first new frame is exactly its own
	// prediction (solid colour: probability 1 for its class).
	if first := sink.probs[k]; first[k%3] != 1 || first[3] != 0 {
		t.Fatalf("first frame of the new model smoothed to %v: the old history leaked in", first)
	}
	checkReleased(t, src)
}

// TestSwapBeforeAndAfterRun: a swap before Run is what Run starts with and
// the replaced instances are unused at once; so are the ones a swap after
// Run replaces.
func TestSwapBeforeAndAfterRun(t *testing.T) {
	src := &fakeSource{w: 16, h: 16, n: 9}
	sink := newRecordingSink()
	first := newSwappable(colourNames)
	p, err := New(src, first, WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	second := newSwappable(gestures)
	old, unused, err := p.Swap(second)
	if err != nil || len(old) != 1 || old[0] != first {
		t.Fatalf("swap before Run: %v, %v", old, err)
	}
	select {
	case <-unused:
	default:
		t.Fatal("instances replaced before Run are not unused at once")
	}
	if st, err := p.Run(context.Background()); err != nil || st.Frames != 9 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	if k := switchAt(t, sink.labels, nil, gestures); k != 0 || first.infers.Load() != 0 || second.infers.Load() != 9 {
		t.Fatalf("frames on the first model: %d; inferences %d and %d", k, first.infers.Load(), second.infers.Load())
	}
	third := newSwappable(gesturesNo)
	old, unused, err = p.Swap(third)
	if err != nil || old[0] != second {
		t.Fatalf("swap after Run: %v, %v", old, err)
	}
	select {
	case <-unused:
	case <-time.After(time.Second):
		t.Fatal("instances replaced after Run are not unused at once")
	}
	if got := p.Labels(); !slices.Equal(got, gesturesNo) {
		t.Fatalf("Labels after the last swap: %v", got)
	}
}

// TestConcurrentSwaps swaps among many models from four goroutines while
// frames flow: every replaced set is returned exactly once, is reported
// unused before Run returns and never classifies after that; every frame
// comes out once and its label is one of the models'.
func TestConcurrentSwaps(t *testing.T) {
	src := &fakeSource{w: 16, h: 16, n: 200}
	sink := newRecordingSink()
	initial := instances(2, colourNames)
	p, err := New(src, initial[0], WithParallelClassifiers(initial[1]), WithSinks(sink), WithSmoother(&resetCounter{}))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	returned := map[Classifier]int{}
	var closers, swappers sync.WaitGroup
	var made []Classifier
	ctx, stop := context.WithCancel(context.Background())
	for g := 0; g < 4; g++ {
		swappers.Add(1)
		go func() {
			defer swappers.Done()
			for i := 0; ctx.Err() == nil && i < 25; i++ {
				names := gestures
				if (g+i)%2 == 0 {
					names = gesturesNo
				}
				cls := instances(2, names)
				old, unused, err := p.Swap(cls...)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				made = append(made, cls...)
				for _, c := range old {
					returned[c]++
				}
				mu.Unlock()
				closeWhenUnused(old, unused, &closers)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	st, err := p.Run(context.Background())
	stop()
	swappers.Wait()
	closers.Wait()
	if err != nil || st.Frames != 200 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	for i, seq := range sink.seqs {
		if seq != uint64(i) || !slices.Contains([]string{colourNames[i%3], gestures[i%3]}, sink.labels[i]) {
			t.Fatalf("frame %d: seq %d label %q", i, seq, sink.labels[i])
		}
	}
	// Every set but the current one was replaced once.
	current := p.models.current().workers
	for _, c := range append(initial, made...) {
		want := 1
		if slices.Contains(current, c) {
			want = 0
		}
		if returned[c] != want {
			t.Fatalf("an instance was returned by %d swaps, want %d", returned[c], want)
		}
	}
	checkReleased(t, src)
}

// TestFrameTapSeesTheCapturedFrame: the tap gets each frame before the
// annotator draws on it, with the configured ROI; the sinks then see the
// drawing.
func TestFrameTapSeesTheCapturedFrame(t *testing.T) {
	src := &fakeSource{w: 32, h: 24, n: 6}
	sink := newRecordingSink()
	roi := image.Rect(4, 4, 20, 20)
	var tapped []gocv.Vecb
	var rois []image.Rectangle
	tap := func(frame gocv.Mat, r image.Rectangle) {
		tapped = append(tapped, frame.GetVecbAt(1, 1))
		rois = append(rois, r)
	}
	white := AnnotatorFunc(func(img *gocv.Mat, a *Annotated) error {
		img.SetTo(gocv.NewScalar(255, 255, 255, 0))
		return nil
	})
	p, err := New(src, &stagedMeanColour{}, WithROI(roi), WithAnnotator(white), WithSinks(sink), WithFrameTap(tap))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Run(context.Background()); err != nil || st.Frames != 6 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	for i := range tapped {
		c := testColours[i%3]
		if want := (gocv.Vecb{c.B, c.G, c.R}); !slices.Equal(tapped[i], want) || rois[i] != roi {
			t.Fatalf("frame %d: tap saw pixel %v and roi %v, want %v and %v", i, tapped[i], rois[i], want, roi)
		}
		if !slices.Equal(sink.pixel[i], gocv.Vecb{255, 255, 255}) {
			t.Fatalf("frame %d: sink saw %v, not the annotation", i, sink.pixel[i])
		}
	}
	if len(tapped) != 6 {
		t.Fatalf("tap saw %d frames", len(tapped))
	}
	if _, err := New(src, &stagedMeanColour{}, WithFrameTap(nil)); err == nil {
		t.Fatal("WithFrameTap(nil) accepted")
	}
}
