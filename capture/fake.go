package capture

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"sync"
	"time"

	"gocv.io/x/gocv"
)

// DrawFunc paints frame seq into m, a w x h BGR Mat cleared to black. Fake
// sources reuse Mats, so whatever draw leaves unpainted is black, never an
// older frame.
type DrawFunc func(seq int, m *gocv.Mat)

// fakeReader renders frames with a DrawFunc: the frame producer behind
// NewFake and NewFakeLive.
type fakeReader struct {
	w, h int
	n    int // frames to produce; <0 endless
	draw DrawFunc
	seq  int
}

func (r *fakeReader) next(stop <-chan struct{}, dst *gocv.Mat) error {
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

func (r *fakeReader) close() {}

// TestPattern is the default DrawFunc: a solid colour that cycles through
// eight hues, with a white bar whose position shows the frame number, so
// frames can be told apart by eye and by pixel.
func TestPattern(seq int, m *gocv.Mat) {
	hues := [8][3]uint8{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {255, 0, 255}, {0, 255, 255}, {128, 128, 128}, {0, 128, 255}}
	c := hues[seq%len(hues)]
	m.SetTo(gocv.NewScalar(float64(c[0]), float64(c[1]), float64(c[2]), 0))
	w, h := m.Cols(), m.Rows()
	if w >= 16 && h >= 8 {
		x := (seq * 8) % (w - 8)
		gocv.Rectangle(m, image.Rect(x, h-8, x+8, h), color.RGBA{255, 255, 255, 255}, -1)
	}
}

func checkFakeArgs(fn string, w, h int) error {
	if w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return fmt.Errorf("capture: %s(%d, %d, ...): width and height must be in 1..16384", fn, w, h)
	}
	return nil
}

// NewFake returns a synchronous, not-live source of n frames of w x h drawn
// by draw (TestPattern if nil), then io.EOF; n < 0 is endless. It behaves
// like a video file: every frame in order, none dropped. Bad sizes give a
// source whose Read returns the error, so test helpers stay one-liners.
func NewFake(w, h, n int, draw DrawFunc) Source {
	if err := checkFakeArgs("NewFake", w, h); err != nil {
		return &failedSource{err: err, info: Info{Spec: "fake", Kind: Fake, FrameCount: -1}}
	}
	if draw == nil {
		draw = TestPattern
	}
	r := &fakeReader{w: w, h: h, n: n, draw: draw}
	info := Info{Spec: "fake", Kind: Fake, Width: w, Height: h, FrameCount: n}
	if n < 0 {
		info.FrameCount = -1
	}
	pool := &matPool{}
	if n == 0 {
		return &syncSource{reader: r, pool: pool, info: info, done: io.EOF}
	}
	first := pool.get()
	_ = r.next(nil, &first)
	return newSyncSource(r, pool, info, first, time.Now())
}

// NewFakeLive returns an endless live source that renders w x h frames at fps
// on its own goroutine, keeping only the newest and counting drops, like a
// camera. draw is TestPattern if nil.
func NewFakeLive(w, h int, fps float64, draw DrawFunc) Source {
	if err := checkFakeArgs("NewFakeLive", w, h); err != nil {
		return &failedSource{err: err, info: Info{Spec: "fake", Kind: Fake, Live: true, FrameCount: -1}}
	}
	if !(fps > 0) || fps > 1000 {
		return &failedSource{err: fmt.Errorf("capture: NewFakeLive fps %v must be in (0, 1000]", fps), info: Info{Spec: "fake", Kind: Fake, Live: true, FrameCount: -1}}
	}
	if draw == nil {
		draw = TestPattern
	}
	r := &fakeReader{w: w, h: h, n: -1, draw: draw}
	info := Info{Spec: "fake", Kind: Fake, Width: w, Height: h, FPS: fps, Live: true, FrameCount: -1}
	pool := &matPool{}
	first := pool.get()
	_ = r.next(nil, &first)
	cfg := defaultConfig()
	return newLiveSource(r, pool, info, first, time.Now(), time.Duration(float64(time.Second)/fps), cfg)
}

// failedSource is a source that could not be made: Read returns why.
type failedSource struct {
	err  error
	info Info
}

func (f *failedSource) Read(ctx context.Context) (Frame, func(), error) {
	return Frame{}, nil, f.err
}
func (f *failedSource) Info() Info   { return f.info }
func (f *failedSource) Stats() Stats { return Stats{} }
func (f *failedSource) Close() error { return nil }

// FailAfter wraps src so that after n frames Read returns err (every time),
// simulating a source that breaks mid-run. err nil means ErrSourceLost.
func FailAfter(src Source, n int, err error) Source {
	if err == nil {
		err = fmt.Errorf("%w: injected failure after %d frames", ErrSourceLost, n)
	}
	return &faultSource{Source: src, n: n, fail: err}
}

// StallAfter wraps src so that after n frames Read blocks until its context
// is done and returns ctx.Err(), simulating a source that hangs.
func StallAfter(src Source, n int) Source {
	return &faultSource{Source: src, n: n}
}

type faultSource struct {
	Source
	n    int
	fail error // nil: stall

	mu        sync.Mutex
	delivered int
}

func (f *faultSource) Read(ctx context.Context) (Frame, func(), error) {
	f.mu.Lock()
	tripped := f.delivered >= f.n
	f.mu.Unlock()
	if tripped {
		if f.fail != nil {
			return Frame{}, nil, f.fail
		}
		<-ctx.Done()
		return Frame{}, nil, ctx.Err()
	}
	fr, release, err := f.Source.Read(ctx)
	if err == nil {
		f.mu.Lock()
		f.delivered++
		f.mu.Unlock()
	}
	return fr, release, err
}
