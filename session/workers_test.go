package session

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rpscam/rpscam/capture"
)

// TestResolveWorkers: Workers 0 (auto) runs a video file as a throughput job
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
		cfg := &Config{Workers: c.workers, Threads: c.threads, Realtime: c.realtime}
		// An input that does not parse is refused before Open; it counts as
		// no file here.
		cfg.Source, _ = capture.ParseSpec(c.input)
		resolveWorkers(cfg, c.cores)
		if cfg.Workers != c.wantWork || cfg.Threads != c.wantThread {
			t.Errorf("%s: workers %d threads %d, want %d and %d", c.name, cfg.Workers, cfg.Threads, c.wantWork, c.wantThread)
		}
	}
}
