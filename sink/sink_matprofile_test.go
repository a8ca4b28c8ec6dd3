//go:build matprofile

package sink

import (
	"image"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpscam/rpscam/overlay"
	"gocv.io/x/gocv"
)

// TestDrawAndRecordReleaseMats runs the record path (draw the overlay, write
// the frame, with frames that need resizing and converting) under gocv's Mat
// counter. Run with: go test -tags matprofile ./sink/
func TestDrawAndRecordReleaseMats(t *testing.T) {
	start := gocv.MatProfile.Count()

	r, err := NewRecorder(filepath.Join(t.TempDir(), "out.mp4"), 30, 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	d := overlay.NewDrawer()
	s := overlay.State{
		Labels: []string{"rock", "paper", "scissors"}, Probs: []float32{0.8, 0.15, 0.05},
		Top: 0, Confidence: 0.8, FPS: 30, InferMs: 7, Recording: true,
		ROI: image.Rect(40, 40, 280, 200), Status: "paused",
	}
	frames := []gocv.Mat{solid(320, 240, orange), solid(640, 480, orange)}
	grey := gocv.NewMatWithSize(240, 320, gocv.MatTypeCV8UC1)
	for i := 0; i < 30; i++ {
		img := frames[i%2]
		if err := d.Draw(&img, s); err != nil {
			t.Fatal(err)
		}
		if err := r.Write(img); err != nil {
			t.Fatal(err)
		}
		if err := r.Write(grey); err != nil {
			t.Fatal(err)
		}
	}
	// Close order must not matter, and closing twice must not double-free.
	r.Close()
	d.Close()
	r.Close()
	d.Close()
	grey.Close()
	for i := range frames {
		frames[i].Close()
	}
	if got := gocv.MatProfile.Count(); got != start {
		t.Errorf("%d Mats open after drawing and recording, want %d as before", got, start)
	}
}

func TestRecorderErrorPathsReleaseMats(t *testing.T) {
	start := gocv.MatProfile.Count()
	// Failed opens create no Mats; a recorder closed without frames
	// neither.
	if _, err := NewRecorder("/proc/out.mp4", 30, 320, 240); err == nil {
		t.Fatal("NewRecorder in /proc succeeded")
	}
	r, err := NewRecorder(filepath.Join(t.TempDir(), "out.avi"), 30, 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if got := gocv.MatProfile.Count(); got != start {
		t.Errorf("%d Mats open, want %d", got, start)
	}
}

// TestRealTimeRecorderReleasesMats: WriteAt keeps the last frame for
// repeats; Close frees it.
func TestRealTimeRecorderReleasesMats(t *testing.T) {
	frame := gocv.NewMatWithSize(48, 64, gocv.MatTypeCV8UC3)
	defer frame.Close()
	start := gocv.MatProfile.Count()
	r, err := NewRecorder(filepath.Join(t.TempDir(), "rt.avi"), 30, 64, 48, WithRealTime())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for _, at := range []time.Duration{0, 200 * time.Millisecond, 210 * time.Millisecond} {
		if err := r.WriteAt(frame, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	if got := gocv.MatProfile.Count(); got != start || r.Repeated() != 5 {
		t.Errorf("%d Mats open, want %d; %d repeats, want 5", got, start, r.Repeated())
	}
}
