// Package orttest gives tests in every package one way to get ONNX Runtime
// ready: an external library scripts/setup.sh installs, whose absence skips
// a test rather than failing it.
package orttest

import (
	"testing"

	"github.com/rpscam/rpscam/internal/ort"
)

// Init finds the ONNX Runtime library (ort.FindLibrary's order: the
// environment variable, then the setup location), initialises it and returns
// its path. It skips t when there is no library and fails t when the
// library will not load.
func Init(t testing.TB) string {
	t.Helper()
	lib, err := ort.FindLibrary("")
	if err != nil {
		t.Skipf("ONNX Runtime library not installed (run scripts/setup.sh): %v", err)
	}
	if _, err := ort.Init(lib); err != nil {
		t.Fatal(err)
	}
	return lib
}
