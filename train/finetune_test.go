package train

import (
	"runtime"
	"strings"
	"testing"
)

// TestMemoryNote: the block_13 recipe's 60,001 views of 14x14x96 values
// measured a 16.5 GB peak; a machine with less available gets a warning
// that names the smaller recipe, one with more (or an unknown amount) none.
func TestMemoryNote(t *testing.T) {
	const views, perView = 7335*8 + 1321, 14 * 14 * 96
	if note := memoryNote(views, perView, 20e9); note != "" {
		t.Errorf("20 GB available: got a warning %q", note)
	}
	if note := memoryNote(views, perView, 0); note != "" {
		t.Errorf("unknown memory: got a warning %q", note)
	}
	note := memoryNote(views, perView, 16e9)
	for _, want := range []string{"about 16.5 GB", "16.0 GB are available", "--tune", "--views"} {
		if !strings.Contains(note, want) {
			t.Errorf("16 GB available: warning %q lacks %q", note, want)
		}
	}
	if note := memoryNote(views, 7*7*160, 16e9); note != "" {
		t.Errorf("the block_14 recipe (about 7.3 GB) warned with 16 GB available: %q", note)
	}
	if runtime.GOOS == "linux" && availableMemory() == 0 {
		t.Error("availableMemory read nothing from /proc/meminfo")
	}
}
