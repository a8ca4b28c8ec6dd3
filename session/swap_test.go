package session

import (
	"context"
	"errors"
	"image"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/capture/capturetest"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort/orttest"
	"github.com/rpscam/rpscam/internal/tinymodel"
	"github.com/rpscam/rpscam/pipeline"
)

// primaries paints frame i red, green or blue (BGR) in turn: the tiny
// models' rock, paper and scissors.
func primaries(seq int, m *gocv.Mat) {
	m.SetTo([3]gocv.Scalar{gocv.NewScalar(0, 0, 255, 0), gocv.NewScalar(0, 255, 0, 0), gocv.NewScalar(255, 0, 0, 0)}[seq%3])
}

// tinyModels are the tiny mean-colour models, written once per test: three
// classes and four (with "none") on an 8x8 input, and three on 16x16.
type tinyModels struct {
	lib                string
	three, four, large string
}

func writeTinyModels(t testing.TB) tinyModels {
	t.Helper()
	m := tinyModels{lib: orttest.Init(t)}
	dir := t.TempDir()
	m.three, m.four, m.large = filepath.Join(dir, "three.onnx"), filepath.Join(dir, "four.onnx"), filepath.Join(dir, "large.onnx")
	for _, w := range []error{
		tinymodel.Write(m.three, tinymodel.MeanColour(8)),
		tinymodel.Write(m.four, tinymodel.MeanColourNoHand(8)),
		tinymodel.Write(m.large, tinymodel.MeanColour(16)),
	} {
		if w != nil {
			t.Fatal(w)
		}
	}
	return m
}

// openOn opens a session of model (workers instances) on src.
func openOn(t testing.TB, m tinyModels, model string, workers int, src capture.Source) *Session {
	t.Helper()
	off, _ := ParseSmoothing("off") // so every frame's decision is its own colour
	cfg := Config{Model: model, Library: m.lib, Device: infer.DeviceCPU, Threads: 1, Workers: workers, Smoothing: off}
	s, err := open(cfg, func(*Session) (capture.Source, error) { return src, nil })
	if err != nil {
		src.Close()
		t.Fatal(err)
	}
	return s
}

// frameLog is a sink that records, per frame, its sequence number, how many
// labels it was classified with and its decision; hook runs first.
type frameLog struct {
	seqs      []uint64
	numLabels []int
	decisions []string
	hook      func(a *pipeline.Annotated)
}

func (f *frameLog) Consume(a *pipeline.Annotated) error {
	if f.hook != nil {
		f.hook(a)
	}
	f.seqs = append(f.seqs, a.Seq)
	f.numLabels = append(f.numLabels, len(a.Labels))
	f.decisions = append(f.decisions, a.Decision.Label)
	return nil
}

// check verifies that frames 0..n-1 came out once each, in order, with the
// decision of their colour, classified with from labels up to frame k and
// to labels after, and returns k.
func (f *frameLog) check(t *testing.T, n, from, to int) int {
	t.Helper()
	if len(f.seqs) != n {
		t.Fatalf("%d frames came out, want %d", len(f.seqs), n)
	}
	k := 0
	for k < n && f.numLabels[k] == from {
		k++
	}
	for i := range f.seqs {
		if f.seqs[i] != uint64(i) || f.decisions[i] != tinymodel.Labels[i%3] || (i >= k && f.numLabels[i] != to) {
			t.Fatalf("frame %d: seq %d, %q from %d labels; switched at %d", i, f.seqs[i], f.decisions[i], f.numLabels[i], k)
		}
	}
	return k
}

// gatedSource holds back frame at and later until gate is closed and
// counts the frames read.
type gatedSource struct {
	capture.Source
	at    int64
	gate  chan struct{}
	reads atomic.Int64
}

func (g *gatedSource) Read(ctx context.Context) (capture.Frame, func(), error) {
	if g.reads.Load() >= g.at {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return capture.Frame{}, nil, ctx.Err()
		}
	}
	f, release, err := g.Source.Read(ctx)
	if err == nil {
		g.reads.Add(1)
	}
	return f, release, err
}

func closed(models []*infer.Classifier) bool {
	for _, m := range models {
		if m.Provider() != "" {
			return false
		}
	}
	return true
}

// TestSwapModelWhileRunning swaps the 3-class model (two instances) for the
// 4-class one from another goroutine while frame 10 is consumed: every frame
// comes out once, the frames after the switch have the four labels, the old
// instances are closed and the session reports the new model.
func TestSwapModelWhileRunning(t *testing.T) {
	m := writeTinyModels(t)
	// Frames from 40 on wait for the swap, however far the pipeline reads
	// ahead of the output.
	src := &gatedSource{Source: capturetest.NewFake(64, 48, 90, primaries), at: 40, gate: make(chan struct{})}
	s := openOn(t, m, m.three, 2, src)
	defer s.Close()
	old := s.Models()
	var readBefore, readAfter int64
	log := &frameLog{}
	log.hook = func(a *pipeline.Annotated) {
		if a.Index == 10 {
			done := make(chan error)
			go func() {
				readBefore = src.reads.Load()
				err := s.SwapModel(m.four)
				readAfter = src.reads.Load()
				close(src.gate)
				done <- err
			}()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	st, err := s.Run(context.Background(), log)
	if err != nil || st.Frames != 90 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	// The frame being read when the switch came may go either way.
	if k := log.check(t, 90, 3, 4); k <= 10 || k < int(readBefore)-1 || k > int(readAfter) {
		t.Fatalf("switched at frame %d; %d frames were read when SwapModel was called, %d when it returned", k, readBefore, readAfter)
	}
	s.retiring.Wait()
	if !closed(old) {
		t.Fatal("the replaced instances are still open")
	}
	now := s.Models()
	if len(now) != 2 || closed(now) || s.Provider() != "CPU" || !slices.Equal(s.Labels(), tinymodel.NoHandLabels[:]) || s.Config().Model != m.four {
		t.Fatalf("after the swap: %d instances on %q, labels %v, model %s", len(now), s.Provider(), s.Labels(), s.Config().Model)
	}
}

// TestSwapModelRefusesAnotherInput: a model with another input size is
// refused with a *ModelMismatchError while Run runs, and the running model
// classifies every frame and stays open.
func TestSwapModelRefusesAnotherInput(t *testing.T) {
	m := writeTinyModels(t)
	s := openOn(t, m, m.three, 1, capturetest.NewFake(64, 48, 30, primaries))
	defer s.Close()
	running := s.Models()
	var refusal error
	log := &frameLog{hook: func(a *pipeline.Annotated) {
		if a.Index == 5 {
			refusal = s.SwapModel(m.large)
		}
	}}
	if st, err := s.Run(context.Background(), log); err != nil || st.Frames != 30 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	var mismatch *ModelMismatchError
	if !errors.As(refusal, &mismatch) || !errors.Is(refusal, pipeline.ErrIncompatibleModel) ||
		mismatch.Field != "input size" || mismatch.Running != "8x8" || mismatch.Refused != "16x16" {
		t.Fatalf("refusal: %v", refusal)
	}
	log.check(t, 30, 3, 3)
	if closed(running) || !slices.Equal(s.Models(), running) || s.Config().Model != m.three {
		t.Fatal("the running model was replaced or closed by a refused swap")
	}
	if err := s.SwapModel(filepath.Join(t.TempDir(), "missing.onnx")); err == nil {
		t.Fatal("a missing model file was swapped in")
	}
}

// TestSwapModelBeforeAndAfterRun: swapped before Run, the new model runs
// every frame and the old one is closed at once; swapped after, the session
// reports the new model and has closed the one that ran. Close closes the
// current model, and the session then refuses SwapModel and Run.
func TestSwapModelBeforeAndAfterRun(t *testing.T) {
	m := writeTinyModels(t)
	s := openOn(t, m, m.three, 1, capturetest.NewFake(64, 48, 12, primaries))
	first := s.Models()
	if err := s.SwapModel(m.four); err != nil {
		t.Fatal(err)
	}
	if !closed(first) || !slices.Equal(s.Labels(), tinymodel.NoHandLabels[:]) {
		t.Fatalf("after a swap before Run: old closed %v, labels %v", closed(first), s.Labels())
	}
	log := &frameLog{}
	if st, err := s.Run(context.Background(), log); err != nil || st.Frames != 12 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	log.check(t, 12, 4, 4)
	ran := s.Models()
	if err := s.SwapModel(m.three); err != nil {
		t.Fatal(err)
	}
	if !closed(ran) || !slices.Equal(s.Labels(), tinymodel.Labels[:]) {
		t.Fatalf("after a swap after Run: old closed %v, labels %v", closed(ran), s.Labels())
	}
	last := s.Models()
	s.Close()
	if !closed(last) || s.Provider() != "" {
		t.Fatal("Close left the current model open")
	}
	if err := s.SwapModel(m.four); err == nil {
		t.Fatal("SwapModel after Close succeeded")
	}
	if _, err := s.Run(context.Background()); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

// TestConcurrentSwapModel swaps between the two tiny models from three
// goroutines, three times each, while a live source runs: every frame comes
// out in order with its colour's decision from one of the models, and the
// session ends on the model of the last swap. Run it with -race.
func TestConcurrentSwapModel(t *testing.T) {
	m := writeTinyModels(t)
	src := &gatedSource{Source: capturetest.NewFakeLive(64, 48, 200, primaries), at: math.MaxInt64}
	s := openOn(t, m, m.three, 2, src)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var swaps sync.WaitGroup
	errs := make(chan error, 9)
	log := &frameLog{}
	log.hook = func(a *pipeline.Annotated) {
		if a.Index != 3 {
			return
		}
		for g := 0; g < 3; g++ {
			swaps.Add(1)
			go func() {
				defer swaps.Done()
				for i := 0; i < 3; i++ {
					errs <- s.SwapModel([]string{m.three, m.four}[(g+i)%2])
				}
			}()
		}
		go func() {
			swaps.Wait()
			// Stop once a few frames have been read after the last swap.
			for read := src.reads.Load(); src.reads.Load() < read+3; {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
	}
	st, err := s.Run(ctx, log)
	if err != nil || st.Frames < 6 {
		t.Fatalf("frames %d, err %v", st.Frames, err)
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range log.seqs {
		if (i > 0 && log.seqs[i] <= log.seqs[i-1]) || log.decisions[i] != tinymodel.Labels[log.seqs[i]%3] || (log.numLabels[i] != 3 && log.numLabels[i] != 4) {
			t.Fatalf("frame %d: seq %d, %q from %d labels", i, log.seqs[i], log.decisions[i], log.numLabels[i])
		}
	}
	// The frames after the last swap settled have the current model's labels.
	if n := log.numLabels[len(log.numLabels)-1]; n != len(s.Labels()) {
		t.Fatalf("the last frame had %d labels, the session's model %d", n, len(s.Labels()))
	}
	s.retiring.Wait()
}

// rawLog is a sink that also takes the raw frames: per frame, how many
// pixels differ from the frame's solid colour before and after the overlay.
type rawLog struct {
	rawOff, shownOff []int
	rois             []image.Rectangle
	seq              int
}

// offColour counts the pixels of img that are not colour (BGR).
func offColour(img gocv.Mat, colour gocv.Scalar) int {
	solid := gocv.NewMatWithSizeFromScalar(colour, img.Rows(), img.Cols(), img.Type())
	defer solid.Close()
	diff := gocv.NewMat()
	defer diff.Close()
	gocv.AbsDiff(img, solid, &diff)
	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(diff, &grey, gocv.ColorBGRToGray)
	return gocv.CountNonZero(grey)
}

func colourOf(seq int) gocv.Scalar {
	m := gocv.NewMatWithSize(1, 1, gocv.MatTypeCV8UC3)
	defer m.Close()
	primaries(seq, &m)
	v := m.GetVecbAt(0, 0)
	return gocv.NewScalar(float64(v[0]), float64(v[1]), float64(v[2]), 0)
}

func (r *rawLog) RawFrame(frame gocv.Mat, roi image.Rectangle) {
	r.rawOff = append(r.rawOff, offColour(frame, colourOf(r.seq)))
	r.rois = append(r.rois, roi)
}

func (r *rawLog) Consume(a *pipeline.Annotated) error {
	r.shownOff = append(r.shownOff, offColour(a.Mat, colourOf(int(a.Seq))))
	r.seq++
	return nil
}

// TestRawFrameSink: a sink with RawFrame gets every frame untouched by the
// overlay, with the region classified (the centre square when Config.ROI is
// zero, else Config.ROI), before its Consume sees the overlay.
func TestRawFrameSink(t *testing.T) {
	m := writeTinyModels(t)
	for _, roi := range []image.Rectangle{{}, image.Rect(4, 6, 36, 38)} {
		s := openOn(t, m, m.three, 1, capturetest.NewFake(64, 48, 6, primaries))
		s.cfg.ROI = roi
		r := &rawLog{}
		st, err := s.Run(context.Background(), r)
		s.Close()
		if err != nil || st.Frames != 6 || len(r.rawOff) != 6 {
			t.Fatalf("frames %d (tap saw %d), err %v", st.Frames, len(r.rawOff), err)
		}
		want := roi
		if roi.Empty() {
			want = image.Rect(8, 0, 56, 48)
		}
		for i := range r.rawOff {
			if r.rawOff[i] != 0 || r.shownOff[i] == 0 || r.rois[i] != want {
				t.Fatalf("roi %v, frame %d: %d pixels off colour before the overlay, %d after, tap roi %v want %v", roi, i, r.rawOff[i], r.shownOff[i], r.rois[i], want)
			}
		}
	}
}

func TestCentreCrop(t *testing.T) {
	for _, c := range []struct {
		fw, fh, aw, ah int
		want           image.Rectangle
	}{
		{640, 480, 224, 224, image.Rect(80, 0, 560, 480)},
		{640, 480, 320, 160, image.Rect(0, 80, 640, 400)},
		{480, 640, 160, 320, image.Rect(0, 0, 320, 640).Add(image.Pt(80, 0))},
	} {
		if got := centreCrop(c.fw, c.fh, c.aw, c.ah); got != c.want {
			t.Errorf("centreCrop(%d, %d, %d, %d) = %v, want %v", c.fw, c.fh, c.aw, c.ah, got, c.want)
		}
	}
}
