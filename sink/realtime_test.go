package sink

import (
	"context"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/capture/capturetest"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/pipeline/parts"
)

var (
	red   = color.RGBA{R: 230, G: 20, B: 20, A: 255}
	green = color.RGBA{R: 20, G: 230, B: 20, A: 255}
	blue  = color.RGBA{R: 20, G: 20, B: 230, A: 255}
)

// centres reads a file back: each frame's centre pixel, and the frame rate.
func centres(t *testing.T, path string) ([]color.RGBA, float64) {
	t.Helper()
	vc, err := gocv.VideoCaptureFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	img := gocv.NewMat()
	defer img.Close()
	var out []color.RGBA
	for vc.Read(&img) && !img.Empty() {
		px := img.GetVecbAt(img.Rows()/2, img.Cols()/2)
		out = append(out, color.RGBA{B: px[0], G: px[1], R: px[2], A: 255})
	}
	return out, vc.Get(gocv.VideoCaptureFPS)
}

// TestWriteAtFollowsCaptureTimes: 10 red frames at 30 FPS, a 10-frame gap,
// 5 green ones, a blue one two frames early and one on time. The file holds
// the gap as 10 repeats of the last red frame, leaves the early frame out,
// and lasts as long as the capture did.
func TestWriteAtFollowsCaptureTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.avi")
	rec, err := NewRecorder(path, 30, 64, 48, WithRealTime())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	t0 := time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)
	at := func(slot int) time.Time { return t0.Add(time.Duration(slot) * time.Second / 30) }
	write := func(c color.RGBA, slot int) {
		m := solid(64, 48, c)
		defer m.Close()
		if err := rec.Consume(&pipeline.Annotated{Mat: m, Captured: at(slot)}); err != nil {
			t.Fatal(err)
		}
	}
	for k := 0; k < 10; k++ {
		write(red, k)
	}
	for k := 20; k < 25; k++ {
		write(green, k)
	}
	write(blue, 23) // slot 23 when the file is at 25: more than a frame early
	write(blue, 25)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if rec.Frames() != 26 || rec.Repeated() != 10 || rec.Skipped() != 1 {
		t.Fatalf("frames %d repeated %d skipped %d, want 26, 10, 1", rec.Frames(), rec.Repeated(), rec.Skipped())
	}
	got, fps := centres(t, path)
	if len(got) != 26 || fps != 30 {
		t.Fatalf("read back %d frames at %v FPS, want 26 at 30 (%.3f s, the capture's 25/30 s plus one frame)", len(got), fps, float64(len(got))/fps)
	}
	for i, c := range got {
		want := red
		switch {
		case i >= 20 && i < 25:
			want = green
		case i == 25:
			want = blue
		}
		if !near(c, want, 12) {
			t.Errorf("frame %d is %v, want %v", i, c, want)
		}
	}
}

// TestWriteAtCutsLongOutages: a minute without frames becomes maxRepeatGap
// of repeats, and the timeline resumes from there.
func TestWriteAtCutsLongOutages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outage.avi")
	rec, err := NewRecorder(path, 10, 32, 24, WithRealTime())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	m := solid(32, 24, orange)
	defer m.Close()
	t0 := time.Now()
	for _, at := range []time.Duration{0, time.Minute, time.Minute + 100*time.Millisecond} {
		if err := rec.WriteAt(m, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	rec.Close()
	want := 1 + int(maxRepeatGap.Seconds()*10) + 1 + 1
	if got := readBack(t, path).frames; got != want || rec.Repeated() != want-3 {
		t.Fatalf("%d frames (%d repeated), want %d: 1, %v of repeats at 10 FPS, then 2", got, rec.Repeated(), want, maxRepeatGap)
	}
}

// gappy is a live source that stops delivering for pause after every n
// frames, like a camera that drops frames or a stalled USB bus.
type gappy struct {
	capture.Source
	n     int
	pause time.Duration
	read  int
}

func (g *gappy) Read(ctx context.Context) (capture.Frame, func(), error) {
	if g.read > 0 && g.read%g.n == 0 {
		time.Sleep(g.pause)
	}
	g.read++
	return g.Source.Read(ctx)
}

type fixedClassifier struct{}

func (fixedClassifier) Classify(gocv.Mat, image.Rectangle) (pipeline.Prediction, error) {
	return pipeline.Prediction{Probs: []float32{1}}, nil
}
func (fixedClassifier) Labels() []string { return []string{"rock"} }

// TestRealTimeRecordingOfAGappyLiveSource runs capturetest's live source
// through the pipeline with 300 ms gaps every 8 frames: the file written
// with WithRealTime lasts as long as the capture (first to last frame's
// time) to within a frame, where one frame per processed frame would be
// far shorter.
func TestRealTimeRecordingOfAGappyLiveSource(t *testing.T) {
	src := &gappy{Source: capturetest.NewFakeLive(64, 48, 30, nil), n: 8, pause: 300 * time.Millisecond}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "gappy.avi")
	rec, err := NewRecorder(path, 30, 64, 48, WithRealTime())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	var mu sync.Mutex
	var first, last time.Time
	times := pipeline.SinkFunc(func(a *pipeline.Annotated) error {
		mu.Lock()
		defer mu.Unlock()
		if first.IsZero() {
			first = a.Captured
		}
		last = a.Captured
		return nil
	})
	p, err := pipeline.New(parts.Source(src), fixedClassifier{}, pipeline.WithSinks(rec, times), pipeline.WithMaxFrames(40))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil || st.Frames != 40 {
		t.Fatalf("frames %d, %v", st.Frames, err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	wall := last.Sub(first).Seconds()
	want := int(math.Round(wall*30)) + 1
	got := readBack(t, path)
	if got.frames < want-1 || got.frames > want+1 || got.fps != 30 {
		t.Fatalf("%d frames at %v FPS (%.2f s) for a capture of %.2f s: want %d±1 (40 processed, %d repeated, %d skipped)",
			got.frames, got.fps, float64(got.frames)/30, wall, want, rec.Repeated(), rec.Skipped())
	}
	// Four gaps of 300 ms at 30 FPS: about 9 repeats each, fewer where
	// the frame before a gap was itself late.
	if rec.Repeated() < 4*6 || got.frames < 40+4*6 {
		t.Fatalf("%d frames, %d repeats for four 300 ms gaps", got.frames, rec.Repeated())
	}
}
