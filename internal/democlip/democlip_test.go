package democlip

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/shareddata"
)

// pickImages takes the classes in turn, one round from each test set in
// turn, the empty scenes always from subhih, and says which folder is
// missing when one is.
func TestPickImagesOrder(t *testing.T) {
	dir := t.TempDir()
	for _, set := range append(sets[:], noneSet) {
		for _, class := range classes {
			folder := filepath.Join(dir, set, class)
			if err := os.MkdirAll(folder, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"a.png", "b.png", "c.png"} {
				if err := os.WriteFile(filepath.Join(folder, name), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	picks, err := pickImages(dir, 8)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sxsw/test/rock", "sxsw/test/paper", "sxsw/test/scissors", "subhih/test/none",
		"subhih/test/rock", "subhih/test/paper", "subhih/test/scissors", "subhih/test/none"}
	for i, p := range picks {
		if !strings.Contains(p.Path, want[i]+"/") || p.Class != classes[i%4] {
			t.Errorf("pick %d: %s class %q, want from %s", i, p.Path, p.Class, want[i])
		}
	}
	if _, err := pickImages(t.TempDir(), 1); !errors.Is(err, shareddata.ErrNotFound) || !strings.Contains(err.Error(), "sxsw/test/rock") {
		t.Errorf("missing folder: %v, want ErrNotFound naming it", err)
	}
}
