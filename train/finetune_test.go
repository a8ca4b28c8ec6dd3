package train

import (
	"runtime"
	"strings"
	"testing"
)

// TestMemoryNote: the block_13 recipe's 89,341 views of 14x14x96 values
// (12 a training image) need about 7.5 GB by the note's estimate; a
// machine with less available gets a warning that names the smaller
// recipe, one with more (or an unknown amount) none.
func TestMemoryNote(t *testing.T) {
	const views, perView = 7335*12 + 1321, 14 * 14 * 96
	if note := memoryNote(views, perView, 8e9); note != "" {
		t.Errorf("8 GB available: got a warning %q", note)
	}
	if note := memoryNote(views, perView, 0); note != "" {
		t.Errorf("unknown memory: got a warning %q", note)
	}
	note := memoryNote(views, perView, 4e9)
	for _, want := range []string{"about 7.5 GB", "4.0 GB are available", "--tune", "--views"} {
		if !strings.Contains(note, want) {
			t.Errorf("4 GB available: warning %q lacks %q", note, want)
		}
	}
	if note := memoryNote(views, 7*7*160, 4e9); note != "" {
		t.Errorf("the block_14 recipe (about 3.6 GB) warned with 4 GB available: %q", note)
	}
	if runtime.GOOS == "linux" && availableMemory() == 0 {
		t.Error("availableMemory read nothing from /proc/meminfo")
	}
}
