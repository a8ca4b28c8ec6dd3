package train

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSyntheticNone: n scenes of class none, the same bytes for the
// same seed, other bytes for another seed, and existing files kept.
func TestWriteSyntheticNone(t *testing.T) {
	dir := t.TempDir()
	src, err := writeSyntheticNone(dir, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	exs, err := listDir(src.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 6 || src.Name != syntheticNoneName {
		t.Fatalf("%d examples in source %q, want 6 in %q", len(exs), src.Name, syntheticNoneName)
	}
	for _, ex := range exs {
		if ex.Class != noHand {
			t.Errorf("%s has class %s, want none", ex.Path, Labels[ex.Class])
		}
	}
	first, _ := os.ReadFile(filepath.Join(dir, "none", "scene-0001.png"))
	again := t.TempDir()
	if _, err := writeSyntheticNone(again, 2, 1); err != nil {
		t.Fatal(err)
	}
	if same, _ := os.ReadFile(filepath.Join(again, "none", "scene-0001.png")); !bytes.Equal(first, same) {
		t.Error("seed 1 drew two different scene 1s")
	}
	other := t.TempDir()
	if _, err := writeSyntheticNone(other, 2, 2); err != nil {
		t.Fatal(err)
	}
	if diff, _ := os.ReadFile(filepath.Join(other, "none", "scene-0001.png")); bytes.Equal(first, diff) {
		t.Error("seeds 1 and 2 drew the same scene")
	}
	// A rerun keeps what is there (and so the activation cache's entries).
	marker := filepath.Join(dir, "none", "scene-0002.png")
	if err := os.WriteFile(marker, []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := writeSyntheticNone(dir, 6, 1); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(marker); string(b) != "kept" {
		t.Error("a rerun rewrote an existing scene")
	}
}
