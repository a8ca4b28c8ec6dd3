// Package ort locates and initialises the ONNX Runtime shared library.
//
// onnxruntime_go loads the library with dlopen and keeps one process-wide
// environment; this package is the single place that decides which library
// file that is and turns the ways it can go wrong into errors that name the fix.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/searchpath"
)

// Version is the ONNX Runtime release scripts/setup.sh installs.
const Version = "1.30.0"

// EnvVar names the environment variable consulted after --ort-lib.
const EnvVar = "ONNXRUNTIME_SHARED_LIBRARY_PATH"

// setupRelPath is where scripts/setup.sh puts the library, relative to the repository root.
var setupRelPath = filepath.Join(".deps", "onnxruntime-"+Version, "libonnxruntime.so.1")

// ErrLibrary is wrapped by every error about finding or loading the library,
// so callers can map it to the "environment" exit code.
var ErrLibrary = errors.New("ONNX Runtime library")

const fixHint = "run scripts/setup.sh, or pass --ort-lib /path/to/libonnxruntime.so (or set " + EnvVar + ")"

// FindLibrary returns the library path to use: explicit (from --ort-lib) if
// set, else $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the setup location found by
// walking up from the working directory and from the executable's directory.
func FindLibrary(explicit string) (string, error) {
	check := func(p, from string) (string, error) {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("%w: %s %q does not exist: %s", ErrLibrary, from, p, fixHint)
		}
		if st.IsDir() {
			return "", fmt.Errorf("%w: %s %q is a directory, expected the libonnxruntime.so file: %s", ErrLibrary, from, p, fixHint)
		}
		return p, nil
	}
	if explicit != "" {
		return check(explicit, "--ort-lib")
	}
	if env := os.Getenv(EnvVar); env != "" {
		return check(env, EnvVar)
	}
	if p, ok := searchpath.Find(setupRelPath, searchpath.Starts()...); ok {
		return p, nil
	}
	return "", fmt.Errorf("%w not found (looked for %s above the working directory and the executable): %s", ErrLibrary, setupRelPath, fixHint)
}

// Runtime is an initialised ONNX Runtime. onnxruntime_go allows one
// environment per process, so Init hands out the same one to every caller
// that asks for the same library and refuses a different one.
type Runtime struct {
	LibraryPath string
}

var (
	initMu  sync.Mutex
	current *Runtime
)

// Init loads the library at path (see FindLibrary) and creates the ONNX Runtime
// environment. A library that is missing, not ONNX Runtime, or of an API older
// than onnxruntime_go needs comes back as an error wrapping ErrLibrary.
func Init(path string) (*Runtime, error) {
	initMu.Lock()
	defer initMu.Unlock()
	if current != nil {
		if current.LibraryPath != path {
			return nil, fmt.Errorf("%w: already initialised from %s, cannot switch to %s in one process", ErrLibrary, current.LibraryPath, path)
		}
		return current, nil
	}
	onnxruntime.SetSharedLibraryPath(path)
	if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelError()); err != nil {
		msg := err.Error()
		hint := fixHint
		if strings.Contains(msg, "API version") || strings.Contains(msg, "GetApi") {
			hint = "this library is not ONNX Runtime " + Version + " (or newer): " + fixHint
		}
		return nil, fmt.Errorf("%w: loading %s: %v: %s", ErrLibrary, path, err, hint)
	}
	current = &Runtime{LibraryPath: path}
	return current, nil
}

// Version reports the loaded library's version string, e.g. "1.30.0".
func (r *Runtime) Version() string { return onnxruntime.GetVersion() }
