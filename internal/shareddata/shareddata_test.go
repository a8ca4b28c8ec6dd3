package shareddata

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirFlagThenEnvironment(t *testing.T) {
	flagDir, envDir := t.TempDir(), t.TempDir()
	t.Setenv("RPSCAM_SHARED", envDir)
	if got, err := Dir(flagDir); err != nil || got != flagDir {
		t.Errorf("Dir(--shared %s) = %q, %v; want the flag's folder", flagDir, got, err)
	}
	if got, err := Dir(""); err != nil || got != envDir {
		t.Errorf("Dir(\"\") = %q, %v; want $RPSCAM_SHARED %s", got, err, envDir)
	}
}

func TestDirNotAFolder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := Dir(missing)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "--shared") || !strings.Contains(err.Error(), missing) {
		t.Errorf("Dir(%s) error %v: want ErrNotFound naming --shared and the path", missing, err)
	}
	t.Setenv("RPSCAM_SHARED", missing)
	if _, err := Dir(""); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "$RPSCAM_SHARED") {
		t.Errorf("a missing $RPSCAM_SHARED: %v, want ErrNotFound naming the variable", err)
	}
}
