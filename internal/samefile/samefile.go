// Package samefile says whether two paths name one file, for the commands
// that must not write over a file they read or were given.
package samefile

import (
	"os"
	"path/filepath"
)

// Same reports whether a and b name one file: when both exist, the same
// file however reached (another spelling of the path, a link); otherwise
// the same absolute path, so that a file about to be written is matched too.
func Same(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil {
			return os.SameFile(sa, sb)
		}
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}
