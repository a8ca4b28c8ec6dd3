package train

import (
	"runtime"
	"strings"
	"testing"
)

// TestMemoryNote: the block_13 recipe's 89,341 views of 14x14x96 values
// (12 a training image) are 3.4 GB of activations, read from the mapped
// cache file, beside about 2.5 GB that training itself needs. A machine
// with room for both gets no note (nor one whose memory is unknown); one
// with room for training but not all activations is told that epochs
// read from disk, and what fits; one without room for training is warned
// that the run may be killed.
func TestMemoryNote(t *testing.T) {
	const views, perView = 7335*12 + 1321, 14 * 14 * 96
	if note := memoryNote(views, perView, 6e9); note != "" {
		t.Errorf("6 GB available: got a note %q", note)
	}
	if note := memoryNote(views, perView, 0); note != "" {
		t.Errorf("unknown memory: got a note %q", note)
	}
	note := memoryNote(views, perView, 4e9)
	for _, want := range []string{"activations (3.4 GB", "4.0 GB available", "from disk", "--tune", "--views"} {
		if !strings.Contains(note, want) {
			t.Errorf("4 GB available: note %q lacks %q", note, want)
		}
	}
	if strings.Contains(note, "killed") {
		t.Errorf("4 GB available: note %q says the run may be killed", note)
	}
	note = memoryNote(views, perView, 2e9)
	for _, want := range []string{"warning", "2.5 GB", "2.0 GB are available", "killed"} {
		if !strings.Contains(note, want) {
			t.Errorf("2 GB available: warning %q lacks %q", note, want)
		}
	}
	if note := memoryNote(views, 7*7*160, 4e9); note != "" {
		t.Errorf("the block_14 recipe (1.4 GB of activations) got a note with 4 GB available: %q", note)
	}
	if runtime.GOOS == "linux" && availableMemory() == 0 {
		t.Error("availableMemory read nothing from /proc/meminfo")
	}
}
