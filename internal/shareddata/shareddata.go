// Package shareddata finds the shared data folder (MobileNet-v2 weights and
// the rock/paper/scissors images) the commands read: the one rule for where
// it is, so convert, export, train, eval, teach and democlip agree.
package shareddata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rpscam/rpscam/internal/searchpath"
)

// ErrNotFound is wrapped when the shared data folder cannot be found; the
// command treats it as an environment error (exit 2).
var ErrNotFound = errors.New("shared data folder not found")

// Dir finds the folder: flag (the --shared value), then $RPSCAM_SHARED,
// then a "shared" folder beside the repository, found by walking up from
// the working directory and from the executable (bin/rpscam in the
// repository), so a checkout with ../shared beside it needs no
// configuration.
func Dir(flag string) (string, error) {
	check := func(p, from string) (string, error) {
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			return "", fmt.Errorf("%w: %s %q is not a folder (point --shared or RPSCAM_SHARED at the folder holding models/mobilenet_v2 and data/)", ErrNotFound, from, p)
		}
		return p, nil
	}
	if flag != "" {
		return check(flag, "--shared")
	}
	if env := os.Getenv("RPSCAM_SHARED"); env != "" {
		return check(env, "$RPSCAM_SHARED")
	}
	for _, start := range searchpath.Starts() {
		for _, dir := range searchpath.Above(start) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				if p, err := check(filepath.Join(filepath.Dir(dir), "shared"), "../shared beside the repository"); err == nil {
					return p, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%w (no ../shared beside the repository): pass --shared DIR or set RPSCAM_SHARED to the folder holding models/mobilenet_v2 and data/", ErrNotFound)
}
