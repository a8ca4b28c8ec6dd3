package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// checkOutputFile refuses, as a usage error naming --flag, an output file
// that could not be written, before the command does its long work: eval
// and quantize write their files last, and a typo in a folder name used to
// cost the whole run. Like rpscam record, it creates no folders: a missing
// one is more often a typo than a wish. "" (no file) and "-" (stdout) pass.
func checkOutputFile(flag, path string) error {
	if path == "" || path == "-" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usagef("--%s %s is a folder: give a file name inside it", flag, path)
	}
	dir := filepath.Dir(path)
	if err := checkOutputFolder(fmt.Sprintf("--%s %s: folder %s", flag, path, dir), dir); err != nil {
		return err
	}
	// An existing file is replaced at the end: it must open for writing
	// (without truncating it now, in case the run fails).
	if _, err := os.Stat(path); err == nil {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return usagef("--%s %s cannot be overwritten (%v); choose another file or fix its permissions", flag, path, err)
		}
		f.Close()
	}
	return nil
}

// checkOutputFolder refuses, as a usage error, a folder that outputs could
// not be written to: missing, not a folder, or not writable. subject names
// it in the message ("--save-dir D", "--out F: folder D").
func checkOutputFolder(subject, dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return usagef("%s does not exist; create it first (mkdir -p %s) or choose another folder", subject, dir)
	case err != nil:
		return usagef("%s: %v", subject, err)
	case !st.IsDir():
		return usagef("%s is not a folder", subject)
	}
	if err := probeWrite(dir); err != nil {
		return usagef("%s is not writable (%v); choose another folder or fix its permissions", subject, err)
	}
	return nil
}
