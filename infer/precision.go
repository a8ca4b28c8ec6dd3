package infer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpscam/rpscam/internal/onnx"
)

// Precision is which build of a model runs: the float32 model or its int8
// quantization (rpscam quantize), or auto to choose by the CPU.
type Precision string

// The --precision values.
const (
	FP32          Precision = "fp32"
	INT8          Precision = "int8"
	PrecisionAuto Precision = "auto"
)

// Metadata an int8 model carries (written by rpscam quantize).
const (
	// MetaPrecision is "int8" in a quantized model.
	MetaPrecision = "precision"
	// MetaInt8Accuracy starts with "met" when the int8 model kept the
	// accuracy bar against its float model, "missed" or "not measured" otherwise.
	MetaInt8Accuracy = "int8_accuracy"
)

// ErrNoInt8Model is wrapped when --precision int8 finds no int8 model.
var ErrNoInt8Model = errors.New("no int8 model")

// parsePrecision accepts fp32, int8 or auto.
func parsePrecision(s string) (Precision, error) {
	switch p := Precision(s); p {
	case FP32, INT8, PrecisionAuto:
		return p, nil
	}
	return "", fmt.Errorf("precision %q: want fp32, int8 or auto", s)
}

// Int8Path is where the int8 build of the float model at path lives:
// models/rps_mobilenetv2.onnx -> models/rps_mobilenetv2_int8.onnx.
func Int8Path(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "_int8" + ext
}

// cpuVNNI returns the integer dot-product flag this CPU reports in
// /proc/cpuinfo ("avx512_vnni" or "avx_vnni"), or "" when it has neither
// (or the file cannot be read: not Linux). ONNX Runtime's int8 kernels are
// fast with VNNI; without it they measured no faster than float32.
func cpuVNNI() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	return vnniFlag(string(data))
}

func vnniFlag(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		name, flags, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != "flags" {
			continue
		}
		for _, f := range strings.Fields(flags) {
			if f == "avx512_vnni" || f == "avx_vnni" {
				return f
			}
		}
		return ""
	}
	return ""
}

// PrecisionChoice is the model file a Precision picked, and why.
type PrecisionChoice struct {
	Path      string
	Precision Precision // FP32 or INT8
	Why       string    // for auto: the reason, e.g. "auto: no VNNI on this CPU"
}

// String is the choice as the start line shows it, e.g. "fp32 (auto: ...)".
func (c PrecisionChoice) String() string {
	if c.Why == "" {
		return string(c.Precision)
	}
	return string(c.Precision) + " (" + c.Why + ")"
}

// ChoosePrecision picks the model file for p given the float model's path:
// fp32 is floatPath itself; int8 is Int8Path(floatPath), an error wrapping
// ErrNoInt8Model when it does not exist; auto is the int8 model when vnni
// (see cpuVNNI) is set, the file exists and its metadata says it met the
// accuracy bar, else the float model. A floatPath that is itself an int8
// model is used as it is (int8 or auto) or refused (fp32).
func ChoosePrecision(p Precision, floatPath, vnni string) (PrecisionChoice, error) {
	if md, err := onnx.ReadMetadata(floatPath); err == nil && md[MetaPrecision] == string(INT8) {
		if p == FP32 {
			return PrecisionChoice{}, fmt.Errorf("--precision fp32: %s is an int8 model: pass the float model with --model", floatPath)
		}
		return PrecisionChoice{Path: floatPath, Precision: INT8, Why: "the model given"}, nil
	}
	int8Path := Int8Path(floatPath)
	switch p {
	case FP32:
		return PrecisionChoice{Path: floatPath, Precision: FP32}, nil
	case INT8:
		if _, err := os.Stat(int8Path); err != nil {
			return PrecisionChoice{}, fmt.Errorf("--precision int8: %w: %s does not exist: run rpscam quantize (or scripts/setup.sh) to build it, or use --precision fp32", ErrNoInt8Model, int8Path)
		}
		return PrecisionChoice{Path: int8Path, Precision: INT8}, nil
	}
	fp32 := func(why string) (PrecisionChoice, error) {
		return PrecisionChoice{Path: floatPath, Precision: FP32, Why: "auto: " + why}, nil
	}
	if vnni == "" {
		return fp32("no AVX512_VNNI or AVX_VNNI on this CPU, where int8 is no faster")
	}
	md, err := onnx.ReadMetadata(int8Path)
	if err != nil {
		return fp32(fmt.Sprintf("no readable int8 model at %s; rpscam quantize builds it", int8Path))
	}
	if bar := md[MetaInt8Accuracy]; !strings.HasPrefix(bar, "met") {
		if bar == "" {
			bar = "not measured"
		}
		return fp32("the int8 model's accuracy: " + bar)
	}
	return PrecisionChoice{Path: int8Path, Precision: INT8, Why: "auto: this CPU has " + strings.ToUpper(vnni)}, nil
}
