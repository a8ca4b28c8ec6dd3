package teach

import (
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/pipeline"
)

func newTestRecorder(t *testing.T, dir string) *Recorder {
	t.Helper()
	s, err := OpenSamples(dir, fourClasses)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := NewRecorder(s, infer.Contract{Width: 8, Height: 8, Channels: 3, Layout: infer.NHWC, Color: infer.RGB})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	return rec
}

func TestCaptureCountsDownThenRecordsEachClass(t *testing.T) {
	dir := t.TempDir()
	rec := newTestRecorder(t, dir)
	var lines []string
	c, err := NewCapture(rec, Plan{Classes: []string{"rock", "none"}, Frames: 3, Countdown: 2 * time.Second}, func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	clock := time.Unix(0, 0)
	c.now = func() time.Time { return clock }
	frame := solid(t, 32, 24, color.RGBA{R: 200, G: 200, B: 200})
	defer frame.Close()
	shown := solid(t, 320, 240, color.RGBA{R: 200, G: 200, B: 200})
	defer shown.Close()
	frames := 0
	for !c.Done() && frames < 100 {
		c.RawFrame(frame, image.Rectangle{})
		a := &pipeline.Annotated{Mat: shown}
		err := c.Consume(a)
		frames++
		clock = clock.Add(500 * time.Millisecond)
		if c.Done() {
			if !errors.Is(err, pipeline.ErrStop) {
				t.Fatalf("Consume after the last class = %v, want ErrStop", err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// Per class: 4 frames of countdown (2 s at 2 fps), then 3 saved.
	if frames != 14 {
		t.Errorf("took %d frames, want 14", frames)
	}
	want := []string{
		"show ROCK: 2, recording 3 frames", "show ROCK: 1, recording 3 frames", "recording ROCK: 3 frames", "ROCK: 3 frames saved",
		"show NO HAND (the empty box): 2, recording 3 frames", "show NO HAND (the empty box): 1, recording 3 frames",
		"recording NO HAND (the empty box): 3 frames", "NO HAND (the empty box): 3 frames saved",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("prompts\n%q\nwant\n%q", lines, want)
	}
	counts := rec.samples.Counts()
	if counts["rock"] != 3 || counts["none"] != 3 || counts["paper"] != 0 {
		t.Errorf("counts %v, want rock 3, none 3", counts)
	}
	// The banner (overlay's status panel) darkens the bottom of the shown
	// frame; the sample is the frame as captured (grey, no banner).
	if v := shown.GetVecbAt(238, 316); v[0] > 120 || v[1] > 120 || v[2] > 120 {
		t.Errorf("banner pixel = %v, want the dark status panel over the grey 200", v)
	}
	if v := shown.GetVecbAt(100, 160); v[0] != 200 {
		t.Errorf("below the banner = %v, want the frame's grey", v)
	}
}

func TestCaptureStopsWhenASampleCannotBeSaved(t *testing.T) {
	dir := t.TempDir()
	rec := newTestRecorder(t, dir)
	c, err := NewCapture(rec, Plan{Classes: []string{"paper"}, Frames: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	frame := solid(t, 16, 16, color.RGBA{G: 9})
	defer frame.Close()
	c.RawFrame(frame, image.Rectangle{})
	if err := os.RemoveAll(filepath.Join(dir, "paper")); err != nil {
		t.Fatal(err)
	}
	c.RawFrame(frame, image.Rectangle{})
	err = c.Consume(&pipeline.Annotated{Mat: frame})
	if err == nil || errors.Is(err, pipeline.ErrStop) {
		t.Fatalf("Consume = %v, want the save error", err)
	}
	if c.Err() == nil {
		t.Error("Err is nil after a failed save")
	}
}

func TestNewCaptureRefusesBadPlans(t *testing.T) {
	rec := newTestRecorder(t, t.TempDir())
	for _, p := range []Plan{
		{Classes: nil, Frames: 1},
		{Classes: []string{"lizard"}, Frames: 1},
		{Classes: []string{"rock"}, Frames: 0},
		{Classes: []string{"rock"}, Frames: 1, Countdown: -time.Second},
	} {
		if _, err := NewCapture(rec, p, nil); err == nil {
			t.Errorf("NewCapture(%+v) succeeded", p)
		}
	}
}
