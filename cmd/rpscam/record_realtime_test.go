package main

import (
	"path/filepath"
	"strings"
	"testing"
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
