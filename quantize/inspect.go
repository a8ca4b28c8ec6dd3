package quantize

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/onnx"
)

// Fusion is what ONNX Runtime made of a model's convolutions.
type Fusion struct {
	// IntegerConvs counts convolutions running on integer kernels
	// (QLinearConv in either layout, ConvInteger); FloatConvs those left
	// in float32 (Conv, FusedConv, NCHWc Conv).
	IntegerConvs, FloatConvs int
	// Ops are the optimized graph's operator counts.
	Ops map[string]int
}

// Fused reports whether every convolution became an integer one.
func (f Fusion) Fused() bool { return f.IntegerConvs > 0 && f.FloatConvs == 0 }

func (f Fusion) String() string {
	keys := make([]string, 0, len(f.Ops))
	for k := range f.Ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, f.Ops[k]))
	}
	return strings.Join(parts, ", ")
}

// checkFusion has ONNX Runtime (already initialised) optimise the model at
// path as a CPU session would and write the result to a temporary file, then
// counts which convolutions run on integer kernels.
func checkFusion(path string, threads int) (Fusion, error) {
	dir, err := os.MkdirTemp("", "rpscam-fusion")
	if err != nil {
		return Fusion{}, err
	}
	defer os.RemoveAll(dir)
	opt := filepath.Join(dir, "optimized.onnx")
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return Fusion{}, err
	}
	defer so.Destroy()
	if err := so.SetOptimizedModelFilePath(opt); err != nil {
		return Fusion{}, err
	}
	if threads > 0 {
		if err := so.SetIntraOpNumThreads(threads); err != nil {
			return Fusion{}, err
		}
	}
	ins, outs, err := onnxruntime.GetInputOutputInfo(path)
	if err != nil {
		return Fusion{}, err
	}
	if len(ins) == 0 || len(outs) == 0 {
		return Fusion{}, errors.New("model has no inputs or outputs")
	}
	s, err := onnxruntime.NewDynamicAdvancedSession(path, []string{ins[0].Name}, []string{outs[0].Name}, so)
	if err != nil {
		return Fusion{}, err
	}
	s.Destroy()
	ops, err := onnx.ReadOps(opt)
	if err != nil {
		return Fusion{}, err
	}
	f := Fusion{Ops: ops}
	for op, n := range ops {
		base := op[strings.LastIndex(op, ".")+1:]
		switch base {
		case "QLinearConv", "ConvInteger", "NhwcQLinearConv":
			f.IntegerConvs += n
		case "Conv", "FusedConv", "NhwcConv", "NhwcFusedConv":
			f.FloatConvs += n
		}
	}
	return f, nil
}
