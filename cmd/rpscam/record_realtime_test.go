package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/capture/capturetest"
)

// TestRecordRealtimeKeepsCaptureTiming: a --realtime file is a live source,
// so record writes it by capture time; paced at the clip's own 30 FPS it
// has no gaps, and the file holds about the clip's frames, repeats counted.
func TestRecordRealtimeKeepsCaptureTiming(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 45, 160, 120)
	out := filepath.Join(t.TempDir(), "rt.avi")
	code, stdout, stderr := runCmd(t, "record", "--model", model, "--device", "cpu", "--input", clip, "--realtime", "--output", out, "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "real-time timing: ") {
		t.Fatalf("no real-time timing line:\n%s", stdout)
	}
	if n := readVideo(t, out, nil); n < 43 || n > 47 {
		t.Fatalf("%s holds %d frames, want the clip's 45 within 2 (1.5 s at 30 FPS)\n%s", out, n, stdout)
	}
}

// TestRecordMJPEGStreamKeepsEveryFrame: an HTTP MJPEG stream states no
// rate and FFmpeg guesses 25 fps; recorded at that guess, a 30 fps stream
// lost about one frame in six as "early". The rate is measured at open, so
// the file is written at 30 and (within a frame or two of network jitter)
// holds every frame processed.
func TestRecordMJPEGStreamKeepsEveryFrame(t *testing.T) {
	model := tinyModelFile(t)
	srv := capturetest.NewMJPEGServer(160, 120, 30)
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "stream.avi")
	code, stdout, stderr := runCmd(t, "record", "--model", model, "--device", "cpu", "--input", srv.URL+"/video.mjpg",
		"--duration", "2s", "--output", out, "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "at 30 fps") {
		t.Fatalf("recorded at another rate than the stream's 30 fps:\n%s", stdout)
	}
	var processed, written, repeated, skipped int
	for _, line := range strings.Split(stdout, "\n") {
		fmt.Sscanf(line, "frames processed: %d", &processed)
		fmt.Sscanf(line, "frames written: %d", &written)
		fmt.Sscanf(line, "real-time timing: %d frames repeated over gaps, %d early frames left out", &repeated, &skipped)
	}
	if processed < 30 || skipped > 2 {
		t.Fatalf("%d frames processed, %d left out as early: want about 60, at most 2 left out\n%s", processed, skipped, stdout)
	}
	if n := readVideo(t, out, nil); n != written {
		t.Fatalf("%s holds %d frames, the summary says %d written\n%s", out, n, written, stdout)
	}
}
