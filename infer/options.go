package infer

import (
	"errors"
	"fmt"
	"strings"
)

// ModelError says a model file cannot be used and what would be accepted.
type ModelError struct {
	Path     string
	Problem  string
	Expected string
}

func (e *ModelError) Error() string {
	return fmt.Sprintf("model %s: %s (expected %s)", e.Path, e.Problem, e.Expected)
}

// ErrCUDAUnavailable is wrapped by the error Load returns for DeviceCUDA when
// the CUDA execution provider cannot be used.
var ErrCUDAUnavailable = errors.New("CUDA execution provider unavailable")

// Device selects the ONNX Runtime execution provider.
type Device int

const (
	// DeviceAuto uses CUDA when it works and otherwise falls back to the CPU,
	// saying so once through the logger.
	DeviceAuto Device = iota
	// DeviceCPU uses the CPU execution provider.
	DeviceCPU
	// DeviceCUDA requires the CUDA execution provider and fails without it.
	DeviceCUDA
)

func (d Device) String() string {
	switch d {
	case DeviceAuto:
		return "auto"
	case DeviceCPU:
		return "cpu"
	case DeviceCUDA:
		return "cuda"
	}
	return fmt.Sprintf("Device(%d)", int(d))
}

// ParseDevice reads "auto", "cpu" or "cuda" (case-insensitive).
func ParseDevice(s string) (Device, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto":
		return DeviceAuto, nil
	case "cpu":
		return DeviceCPU, nil
	case "cuda", "gpu":
		return DeviceCUDA, nil
	}
	return 0, fmt.Errorf("device %q: want auto, cpu or cuda", s)
}

type options struct {
	library string
	device  Device
	threads int
	logf    func(string)
	output  string
	// spin is ONNX Runtime's session.intra_op.allow_spinning: nil keeps its
	// default (spinning on).
	spin *bool
}

// Option configures Load and LoadBatchRunner.
type Option func(*options)

// WithLibrary names the ONNX Runtime shared library; by default it is found
// with ort.FindLibrary("") ($ONNXRUNTIME_SHARED_LIBRARY_PATH, then the
// location scripts/setup.sh installs to).
func WithLibrary(path string) Option { return func(o *options) { o.library = path } }

// WithDevice selects the execution provider; the default is DeviceAuto.
func WithDevice(d Device) Option { return func(o *options) { o.device = d } }

// WithThreads sets ONNX Runtime's intra-op thread count; 0 keeps its default
// (one per physical core).
func WithThreads(n int) Option { return func(o *options) { o.threads = n } }

// WithLogger receives the one-line notice DeviceAuto prints when it falls back
// to the CPU. Without it the notice is dropped.
func WithLogger(log func(string)) Option { return func(o *options) { o.logf = log } }

// withOutput names the output holding class probabilities. By default it is
// the output named "probabilities", else the model's first output.
func withOutput(name string) Option { return func(o *options) { o.output = name } }

// WithSpinning sets whether ONNX Runtime's intra-op threads busy-wait for work
// between operators (its default is true). Spinning lowers the latency of one
// inference run alone, but in a pipeline the spinning threads take the cores
// that decoding, preprocessing and drawing need, so the whole pipeline runs
// slower; see the README's Performance section for the measurement.
func WithSpinning(on bool) Option { return func(o *options) { o.spin = &on } }

func collectOptions(opts []Option) (options, error) {
	o := options{device: DeviceAuto}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.threads < 0 {
		return o, fmt.Errorf("infer: threads %d is negative: use 0 for ONNX Runtime's default or a positive count", o.threads)
	}
	if o.device < DeviceAuto || o.device > DeviceCUDA {
		return o, fmt.Errorf("infer: unknown device %d: use DeviceAuto, DeviceCPU or DeviceCUDA", int(o.device))
	}
	return o, nil
}
