package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestResolveWorkers: --workers auto runs a video file as a throughput job
// (one single-threaded instance per core, at most maxAutoWorkers) and every
// other source with one instance; explicit flags are kept.
func TestResolveWorkers(t *testing.T) {
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(clip, []byte("not decoded here"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name                 string
		input                string
		realtime             bool
		workers, threads     int
		cores                int
		wantWork, wantThread int
	}{
		{"file on 2 cores", clip, false, 0, 0, 2, 2, 1},
		{"file on 16 cores", clip, false, 0, 0, 16, 4, 4},
		{"file on 6 cores", clip, false, 0, 0, 6, 4, 1},
		{"file on 1 core", clip, false, 0, 0, 1, 1, 0},
		{"file, threads given", clip, false, 0, 2, 2, 2, 2},
		{"file played in real time", clip, true, 0, 0, 2, 1, 0},
		{"camera", "0", false, 0, 0, 2, 1, 0},
		{"pipeline", "videotestsrc ! videoconvert ! appsink", false, 0, 0, 2, 1, 0},
		{"workers given", clip, false, 3, 0, 2, 3, 0},
		{"missing file", "/nonexistent/clip.mp4", false, 0, 0, 2, 1, 0},
	} {
		mf := &modelFlags{workers: c.workers, threads: c.threads}
		mf.resolveWorkers(&sourceFlags{input: c.input, realtime: c.realtime}, c.cores)
		if mf.workers != c.wantWork || mf.threads != c.wantThread {
			t.Errorf("%s: workers %d threads %d, want %d and %d", c.name, mf.workers, mf.threads, c.wantWork, c.wantThread)
		}
	}
}
