// Package sharedtest locates the read-only shared data folder (MobileNet-v2
// weights, rock/paper/scissors images) for the tests of every package, so
// that one rule decides where it is and when a test skips for want of it.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rpscam/rpscam/internal/searchpath"
)

// Dir returns $RPSCAM_SHARED, else the "shared" folder beside the repository
// (next to the folder holding go.mod, found from the test's working
// directory, which is its package's folder). It skips t when rel, a path
// inside the shared folder, does not exist: CI and fresh checkouts have the
// folder, a checkout elsewhere may not.
func Dir(t testing.TB, rel ...string) string {
	t.Helper()
	dir := os.Getenv("RPSCAM_SHARED")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Skipf("shared data folder: no working directory (%v): set RPSCAM_SHARED", err)
		}
		for _, d := range searchpath.Above(wd) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(filepath.Dir(d), "shared")
				break
			}
		}
	}
	need := filepath.Join(append([]string{dir}, rel...)...)
	if _, err := os.Stat(need); err != nil {
		t.Skipf("shared data not available at %q (%v): set RPSCAM_SHARED to the folder holding models/mobilenet_v2 and data/", need, err)
	}
	return dir
}
