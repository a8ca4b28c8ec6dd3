package searchpath

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestAbove(t *testing.T) {
	got := Above(filepath.FromSlash("/a/b/c"))
	want := []string{"/a/b/c", "/a/b", "/a", "/"}
	if !slices.Equal(got, want) {
		t.Fatalf("Above = %v, want %v", got, want)
	}
}

// Find takes the nearest match above the first start that has one.
func TestFind(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "repo", "bin", "x")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(root, "models", "m.onnx"), filepath.Join(root, "repo", "models", "m.onnx")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rel := filepath.Join("models", "m.onnx")
	if got, ok := Find(rel, deep); !ok || got != filepath.Join(root, "repo", "models", "m.onnx") {
		t.Fatalf("Find from %s = %q, %v; want the nearer repo/models/m.onnx", deep, got, ok)
	}
	// The starts are tried in order: the first one's ancestors win.
	if got, ok := Find(rel, filepath.Join(root, "elsewhere"), deep); !ok || got != filepath.Join(root, "models", "m.onnx") {
		t.Fatalf("Find from elsewhere, then %s = %q, %v; want models/m.onnx above elsewhere", deep, got, ok)
	}
	if _, ok := Find("no-such-file", deep); ok {
		t.Fatal("Find reported a file that does not exist")
	}
}
