// Package searchpath lists the folders rpscam looks in for files that set-up
// puts inside the repository (the ONNX Runtime library, the models) or beside
// it (the shared data): the working directory and the executable's folder
// and every folder above them, so both `go run` from anywhere in the
// checkout and a bin/rpscam started from elsewhere find them.
package searchpath

import (
	"os"
	"path/filepath"
)

// Starts returns the working directory and the executable's folder, those
// that can be determined, in that order.
func Starts() []string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	return starts
}

// Above returns dir and each folder above it, nearest first, up to the root.
func Above(dir string) []string {
	dirs := []string{dir}
	for {
		parent := filepath.Dir(dir)
		if parent == dir {
			return dirs
		}
		dirs = append(dirs, parent)
		dir = parent
	}
}

// Find returns the first existing path rel below any folder of Above(start)
// for each start in starts, trying the starts in order.
func Find(rel string, starts ...string) (string, bool) {
	for _, start := range starts {
		for _, dir := range Above(start) {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				return p, true
			}
		}
	}
	return "", false
}
