package infer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rpscam/rpscam/internal/searchpath"
)

// ErrModelMissing is wrapped when the default model is not where setup puts
// it: the machine's setup is incomplete.
var ErrModelMissing = errors.New("model not found")

// ChoiceError is a --model or --precision value that cannot be used as
// given: the user's to fix.
type ChoiceError struct{ Err error }

func (e *ChoiceError) Error() string { return e.Err.Error() }
func (e *ChoiceError) Unwrap() error { return e.Err }

// ResolveModel returns the model path to load. A path the user gave
// (explicit) is used as given; the default is looked for in the working
// directory, then in the directories above the executable (a binary built
// into bin/ of the repository).
func ResolveModel(path string, explicit bool) (string, error) {
	if explicit || filepath.IsAbs(path) {
		if _, err := os.Stat(path); err != nil {
			return "", &ChoiceError{fmt.Errorf("--model %s: %v", path, errors.Unwrap(err))}
		}
		return path, nil
	}
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if exe, err := os.Executable(); err == nil {
		if p, ok := searchpath.Find(path, filepath.Dir(exe)); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s is not in the working directory or above the executable: run scripts/setup.sh to build it, or pass --model path/to/model.onnx", ErrModelMissing, path)
}

// ResolvePrecision resolves the float model path (see ResolveModel) and
// picks the build precision ("fp32", "int8" or "auto") asks for on this
// CPU (see ChoosePrecision).
func ResolvePrecision(model string, explicit bool, precision string) (PrecisionChoice, error) {
	p, err := parsePrecision(precision)
	if err != nil {
		return PrecisionChoice{}, &ChoiceError{fmt.Errorf("--precision: %v", err)}
	}
	path, err := ResolveModel(model, explicit)
	if err != nil {
		return PrecisionChoice{}, err
	}
	choice, err := ChoosePrecision(p, path, cpuVNNI())
	if err != nil && !errors.Is(err, ErrNoInt8Model) {
		err = &ChoiceError{err}
	}
	return choice, err
}
