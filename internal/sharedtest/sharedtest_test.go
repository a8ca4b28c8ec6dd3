package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data", "rps-cgi"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RPSCAM_SHARED", dir)
	if got := Dir(t, "data", "rps-cgi"); got != dir {
		t.Errorf("Dir = %q, want $RPSCAM_SHARED %q", got, dir)
	}
}

func TestDirSkipsWhenMissing(t *testing.T) {
	t.Setenv("RPSCAM_SHARED", t.TempDir())
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Dir(t, "models", "mobilenet_v2", "none.tflite")
		t.Error("Dir returned for a path that does not exist")
	})
	if !skipped {
		t.Error("a missing path did not skip the test")
	}
}

func TestDirBesideRepository(t *testing.T) {
	t.Setenv("RPSCAM_SHARED", "")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(wd, "..", "..", "..", "shared") // internal/sharedtest -> repository -> beside it
	if _, err := os.Stat(want); err != nil {
		t.Skipf("no shared folder beside this checkout: %v", err)
	}
	if got := Dir(t); filepath.Clean(got) != filepath.Clean(want) {
		t.Errorf("Dir = %q, want %q", got, filepath.Clean(want))
	}
}
