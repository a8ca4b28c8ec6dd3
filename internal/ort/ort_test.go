package ort

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindLibraryExplicitMissing(t *testing.T) {
	_, err := FindLibrary("/nonexistent/libonnxruntime.so")
	if !errors.Is(err, ErrLibrary) || !strings.Contains(err.Error(), "scripts/setup.sh") {
		t.Fatalf("want ErrLibrary naming the fix, got %v", err)
	}
}

func TestFindLibraryEnv(t *testing.T) {
	f := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvVar, f)
	got, err := FindLibrary("")
	if err != nil || got != f {
		t.Fatalf("got %q, %v; want %q", got, err, f)
	}
}

func TestInitRejectsNonLibrary(t *testing.T) {
	f := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.WriteFile(f, []byte("not a shared object"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Init(f)
	if !errors.Is(err, ErrLibrary) {
		t.Fatalf("want ErrLibrary, got %v", err)
	}
}
