package samefile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSame(t *testing.T) {
	dir := t.TempDir()
	file, other := filepath.Join(dir, "model.onnx"), filepath.Join(dir, "other.onnx")
	for _, p := range []string{file, other} {
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link.onnx")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "new.onnx")
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{file, file, true},
		{file, filepath.Join(dir, ".", "model.onnx"), true}, // another spelling
		{file, link, true}, // through a link
		{file, other, false},
		{missing, filepath.Join(dir, "sub", "..", "new.onnx"), true}, // not there yet: by path
		{missing, file, false},
	} {
		if got := Same(c.a, c.b); got != c.want {
			t.Errorf("Same(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
