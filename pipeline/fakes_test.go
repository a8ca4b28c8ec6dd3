package pipeline

import (
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"
)

// colours cycles red, green, blue (as BGR scalars): frame i is colours[i%3].
var testColours = [3]color.RGBA{{R: 255, A: 255}, {G: 255, A: 255}, {B: 255, A: 255}}

// fakeSource yields n solid frames (n < 0: endless), frame i in
// testColours[i%3]. It counts reads and releases so tests can prove every
// frame was released exactly once.
type fakeSource struct {
	w, h     int
	n        int
	next     int
	failAt   int // Read returns errFake at this index (0 = never)
	dropped  atomic.Uint64
	reads    atomic.Int64
	releases atomic.Int64
	double   atomic.Int64 // releases of an already released frame
	delay    time.Duration
}

var errFake = errors.New("fake source broke")

func (s *fakeSource) Read(ctx context.Context) (Frame, func(), error) {
	if err := ctx.Err(); err != nil {
		return Frame{}, nil, err
	}
	if s.n >= 0 && s.next >= s.n {
		return Frame{}, nil, io.EOF
	}
	if s.failAt > 0 && s.next == s.failAt {
		return Frame{}, nil, errFake
	}
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return Frame{}, nil, ctx.Err()
		}
	}
	c := testColours[s.next%3]
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0), s.h, s.w, gocv.MatTypeCV8UC3)
	f := Frame{Mat: m, Seq: uint64(s.next), Time: time.Now()}
	s.next++
	s.reads.Add(1)
	var once sync.Once
	release := func() {
		released := false
		once.Do(func() { released = true; m.Close(); s.releases.Add(1) })
		if !released {
			s.double.Add(1)
		}
	}
	return f, release, nil
}

func (s *fakeSource) Dropped() uint64 { return s.dropped.Load() }

// meanColourClassifier says "red", "green" or "blue" by the mean colour of
// the ROI (or the whole frame): probabilities are the channel means over
// their sum, in the label order red, green, blue.
type meanColourClassifier struct {
	probs  []float32 // reused on every call, like infer's
	failAt int       // Classify fails on the frame with this Seq-th call (0 = never)
	calls  int
	before func(call int) // test hook, runs at the start of each call
}

func (c *meanColourClassifier) Labels() []string { return []string{"red", "green", "blue"} }

func (c *meanColourClassifier) Classify(bgr gocv.Mat, roi image.Rectangle) (Prediction, error) {
	call := c.calls
	c.calls++
	if c.before != nil {
		c.before(call)
	}
	if c.failAt > 0 && call == c.failAt {
		return Prediction{}, errors.New("fake classifier broke")
	}
	t0 := time.Now()
	img := bgr
	if !roi.Empty() {
		img = bgr.Region(roi)
		defer img.Close()
	}
	m := img.Mean()
	sum := float32(m.Val1 + m.Val2 + m.Val3)
	if sum == 0 {
		sum = 1
	}
	c.probs = append(c.probs[:0], float32(m.Val3)/sum, float32(m.Val2)/sum, float32(m.Val1)/sum)
	return Prediction{Probs: c.probs, Preprocess: time.Microsecond, Inference: time.Since(t0)}, nil
}

// recordingSink keeps what it was given (copies, since Annotated is only
// valid during Consume).
type recordingSink struct {
	seqs     []uint64
	labels   []string
	probs    [][]float32
	raw      [][]float32
	statuses []string
	dropped  []uint64
	pixel    []gocv.Vecb // pixel (1,1) of each annotated frame
	stopAt   int         // return ErrStop on this frame index (-1 never)
	failAt   int         // return an error on this frame index (-1 never)
	hook     func(a *Annotated)
}

func newRecordingSink() *recordingSink { return &recordingSink{stopAt: -1, failAt: -1} }

func (r *recordingSink) Consume(a *Annotated) error {
	if r.hook != nil {
		r.hook(a)
	}
	r.seqs = append(r.seqs, a.Seq)
	r.labels = append(r.labels, a.Decision.Label)
	r.probs = append(r.probs, append([]float32(nil), a.Probs...))
	r.raw = append(r.raw, append([]float32(nil), a.Raw...))
	r.statuses = append(r.statuses, a.Status)
	r.dropped = append(r.dropped, a.Dropped)
	r.pixel = append(r.pixel, a.Mat.GetVecbAt(1, 1))
	if a.Index == r.stopAt {
		return ErrStop
	}
	if a.Index == r.failAt {
		return errors.New("disk full")
	}
	return nil
}

// stagedMeanColour is meanColourClassifier split in two: Preprocess writes
// the ROI's mean B, G, R into the 3-byte input, Infer turns it into
// probabilities. It records which goroutine-facing calls happened.
type stagedMeanColour struct {
	meanColourClassifier
	preFailAt   int // Preprocess fails on this call (0 = never)
	inferFailAt int // Infer fails on this call (0 = never)
	preCalls    int
	inferCalls  int
	beforeInfer func(call int)
}

func (c *stagedMeanColour) InputBytes() int { return 3 }

func (c *stagedMeanColour) Preprocess(bgr gocv.Mat, roi image.Rectangle, dst []byte) error {
	call := c.preCalls
	c.preCalls++
	if c.preFailAt > 0 && call == c.preFailAt {
		return errors.New("fake preprocess broke")
	}
	img := bgr
	if !roi.Empty() {
		img = bgr.Region(roi)
		defer img.Close()
	}
	m := img.Mean()
	dst[0], dst[1], dst[2] = byte(m.Val1), byte(m.Val2), byte(m.Val3)
	return nil
}

func (c *stagedMeanColour) Infer(in []byte) (Prediction, error) {
	call := c.inferCalls
	c.inferCalls++
	if c.beforeInfer != nil {
		c.beforeInfer(call)
	}
	if c.inferFailAt > 0 && call == c.inferFailAt {
		return Prediction{}, errors.New("fake inference broke")
	}
	sum := float32(in[0]) + float32(in[1]) + float32(in[2])
	if sum == 0 {
		sum = 1
	}
	c.probs = append(c.probs[:0], float32(in[2])/sum, float32(in[1])/sum, float32(in[0])/sum)
	return Prediction{Probs: c.probs, Preprocess: time.Hour /* ignored */, Inference: time.Microsecond}, nil
}

// liveFake is a fakeSource that says it is live and records, at each Read,
// how many Classify calls had completed.
type liveFake struct {
	*fakeSource
	completed *atomic.Int64
	seen      []int64
}

func (l *liveFake) Live() bool { return true }

func (l *liveFake) Read(ctx context.Context) (Frame, func(), error) {
	l.seen = append(l.seen, l.completed.Load())
	return l.fakeSource.Read(ctx)
}

// countingClassifier counts completed Classify calls.
type countingClassifier struct {
	meanColourClassifier
	completed atomic.Int64
}

func (c *countingClassifier) Classify(bgr gocv.Mat, roi image.Rectangle) (Prediction, error) {
	defer c.completed.Add(1)
	return c.meanColourClassifier.Classify(bgr, roi)
}
