// Package capturetest makes capture sources for tests: synthetic frames
// (NewFake, NewFakeLive) and sources that break or hang mid-run (FailAfter,
// StallAfter), so frame loops can be tested without a camera.
package capturetest

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"sync"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
)

// DrawFunc paints frame seq into m, a w x h BGR Mat cleared to black, so
// whatever draw leaves unpainted is black, never an older frame.
type DrawFunc func(seq int, m *gocv.Mat)

// fakeReader renders frames with a DrawFunc.
type fakeReader struct {
	w, h int
	n    int // frames to produce; <0 endless
	draw DrawFunc
	seq  int
}

func (r *fakeReader) Next(dst *gocv.Mat) error {
	if r.n >= 0 && r.seq >= r.n {
		return io.EOF
	}
	if dst.Empty() || dst.Rows() != r.h || dst.Cols() != r.w || dst.Type() != gocv.MatTypeCV8UC3 {
		// First use of this pool Mat: give it storage once; later frames
		// reuse it.
		_ = dst.Close()
		*dst = gocv.NewMatWithSize(r.h, r.w, gocv.MatTypeCV8UC3)
	}
	dst.SetTo(gocv.NewScalar(0, 0, 0, 0))
	r.draw(r.seq, dst)
	r.seq++
	return nil
}

// testPattern is the default DrawFunc: a solid colour that cycles through
// eight hues, with a white bar whose position shows the frame number.
func testPattern(seq int, m *gocv.Mat) {
	hues := [8][3]uint8{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {255, 0, 255}, {0, 255, 255}, {128, 128, 128}, {0, 128, 255}}
	c := hues[seq%len(hues)]
	m.SetTo(gocv.NewScalar(float64(c[0]), float64(c[1]), float64(c[2]), 0))
	w, h := m.Cols(), m.Rows()
	if w >= 16 && h >= 8 {
		x := (seq * 8) % (w - 8)
		gocv.Rectangle(m, image.Rect(x, h-8, x+8, h), color.RGBA{255, 255, 255, 255}, -1)
	}
}

func checkSize(fn string, w, h int) error {
	if w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return fmt.Errorf("capturetest: %s(%d, %d, ...): width and height must be in 1..16384", fn, w, h)
	}
	return nil
}

// NewFake returns a source of n frames of w x h drawn by draw (testPattern
// if nil), then io.EOF; n < 0 is endless. It reports Kind File with Spec
// "fake" and behaves like a video file: every frame in order, none dropped.
// Bad sizes give a source whose Read returns the error.
func NewFake(w, h, n int, draw DrawFunc) capture.Source {
	if err := checkSize("NewFake", w, h); err != nil {
		return &failedSource{err: err, info: capture.Info{Spec: "fake", Kind: capture.File, FrameCount: -1}}
	}
	if draw == nil {
		draw = testPattern
	}
	info := capture.Info{Spec: "fake", Kind: capture.File, Width: w, Height: h, FrameCount: n}
	if n < 0 {
		info.FrameCount = -1
	}
	return capture.FromReader(&fakeReader{w: w, h: h, n: n, draw: draw}, info)
}

// NewFakeLive returns an endless live source, Kind Camera with Spec "fake",
// that renders w x h frames at fps on its own goroutine, keeping only the
// newest and counting drops. draw is testPattern if nil.
func NewFakeLive(w, h int, fps float64, draw DrawFunc) capture.Source {
	failed := capture.Info{Spec: "fake", Kind: capture.Camera, Live: true, FrameCount: -1}
	if err := checkSize("NewFakeLive", w, h); err != nil {
		return &failedSource{err: err, info: failed}
	}
	if !(fps > 0) || fps > 1000 {
		return &failedSource{err: fmt.Errorf("capturetest: NewFakeLive fps %v must be in (0, 1000]", fps), info: failed}
	}
	if draw == nil {
		draw = testPattern
	}
	info := capture.Info{Spec: "fake", Kind: capture.Camera, Width: w, Height: h, FPS: fps, Live: true, FrameCount: -1}
	return capture.FromReader(&fakeReader{w: w, h: h, n: -1, draw: draw}, info)
}

// failedSource is a source that could not be made: Read returns why.
type failedSource struct {
	err  error
	info capture.Info
}

func (f *failedSource) Read(context.Context) (capture.Frame, func(), error) {
	return capture.Frame{}, nil, f.err
}
func (f *failedSource) Info() capture.Info   { return f.info }
func (f *failedSource) Stats() capture.Stats { return capture.Stats{} }
func (f *failedSource) Close() error         { return nil }

// FailAfter wraps src so that after n frames Read returns err (every time),
// like a source that breaks mid-run. err nil means capture.ErrSourceLost.
func FailAfter(src capture.Source, n int, err error) capture.Source {
	if err == nil {
		err = fmt.Errorf("%w: injected failure after %d frames", capture.ErrSourceLost, n)
	}
	return &faultSource{Source: src, n: n, fail: err}
}

// StallAfter wraps src so that after n frames Read blocks until its context
// is done and returns ctx.Err(), like a source that hangs.
func StallAfter(src capture.Source, n int) capture.Source {
	return &faultSource{Source: src, n: n}
}

type faultSource struct {
	capture.Source
	n    int
	fail error // nil: stall

	mu        sync.Mutex
	delivered int
}

func (f *faultSource) Read(ctx context.Context) (capture.Frame, func(), error) {
	f.mu.Lock()
	tripped := f.delivered >= f.n
	f.mu.Unlock()
	if tripped {
		if f.fail != nil {
			return capture.Frame{}, nil, f.fail
		}
		<-ctx.Done()
		return capture.Frame{}, nil, ctx.Err()
	}
	fr, release, err := f.Source.Read(ctx)
	if err == nil {
		f.mu.Lock()
		f.delivered++
		f.mu.Unlock()
	}
	return fr, release, err
}
