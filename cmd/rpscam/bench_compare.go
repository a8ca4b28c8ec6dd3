package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/bench"
	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/cvdnn"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/shareddata"
)

// compareFlags are bench's --compare flags.
type compareFlags struct {
	compare        bool
	data, shared   string
	perSet         int
	realtimeFrames int
	job            string // hidden: measure one row (the child process)
}

func addCompareFlags(fs *pflag.FlagSet) *compareFlags {
	f := &compareFlags{}
	fs.BoolVar(&f.compare, "compare", false, "one table: ONNX Runtime fp32 and int8, OpenCV DNN and CUDA on the same clip, each row in a child process (--json: an object with a rows list)")
	fs.StringVar(&f.data, "data", "", "with --compare: folder of class folders (rock/ paper/ scissors/ none/) for the accuracy column (default: a fixed sample of the shared test sets)")
	fs.StringVar(&f.shared, "shared", "", "with --compare: the shared data folder for the default --data (default $RPSCAM_SHARED, then ../shared)")
	fs.IntVar(&f.perSet, "per-set", 50, "with --compare and no --data: images taken from each shared test set, evenly spaced")
	fs.IntVar(&f.realtimeFrames, "realtime-frames", 150, "with --compare: frames measured with the clip read at its own rate (--realtime), for CPU and latency at 30 FPS")
	fs.StringVar(&f.job, "compare-job", "", "measure one --compare row from this job file (used by --compare itself)")
	_ = fs.MarkHidden("compare-job")
	return f
}

// compareRun is what the rest of bench's flags say for --compare.
type compareRun struct {
	input                 string
	warmup, frames, iters int
	asJSON                bool
}

func compareCmd(ctx context.Context, env *cliEnv, cf *compareFlags, sf *sessionFlags, o compareRun) error {
	if cf.realtimeFrames < 1 || cf.perSet < 1 {
		return usagef("--realtime-frames and --per-set must be at least 1")
	}
	floatPath, err := sf.baseModel()
	if err != nil {
		return err
	}
	images, data, err := compareImages(cf)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "rpscam-compare-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	opencvPath := filepath.Join(tmp, "opencv_"+filepath.Base(floatPath))
	exportErr := cvdnn.Export(floatPath, opencvPath)
	specs := bench.CompareRows(floatPath, infer.Int8Path(floatPath), opencvPath, runtime.NumCPU())
	for i := range specs {
		if specs[i].Backend == bench.BackendOpenCV && exportErr != nil {
			specs[i].Unavailable = "exporting the model for OpenCV: " + exportErr.Error()
		}
	}
	job := bench.Job{Input: o.input, Library: sf.Library, Warmup: o.warmup, Frames: o.frames, RealtimeFrames: cf.realtimeFrames, InferIters: o.iters, Images: images}
	measure := func(ctx context.Context, j bench.Job) (bench.RowResult, error) {
		fmt.Fprintf(env.stderr, "bench --compare: %s %s %s ...\n", j.Row.Backend, j.Row.Precision, j.Row.Device)
		exe, err := os.Executable()
		if err != nil {
			return bench.RowResult{}, fmt.Errorf("finding this executable to run the row: %w", err)
		}
		return bench.RunChild(ctx, tmp, j, exe, "bench", "--compare-job")
	}
	c := bench.Compare(ctx, specs, job, data, measure)
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	c.Print(env.stdout)
	return nil
}

// compareImages lists --data, or a fixed sample of the shared test sets.
func compareImages(cf *compareFlags) ([]capture.LabeledImage, string, error) {
	if cf.data != "" {
		list, err := capture.ListImages(cf.data)
		if err != nil {
			return nil, "", usagef("--data %s: %v", cf.data, err)
		}
		for _, im := range list {
			if im.Class == "" {
				return nil, "", usagef("--data %s: %s is not in a class folder: put images in rock/ paper/ scissors/ none/ subfolders", cf.data, im.Path)
			}
		}
		return list, cf.data, nil
	}
	shared, err := shareddata.Dir(cf.shared)
	if err != nil {
		return nil, "", fmt.Errorf("%w (or pass --data DIR with class folders)", err)
	}
	list, desc, err := bench.SampleTestSets(shared, cf.perSet)
	if err != nil {
		return nil, "", err
	}
	return list, desc, nil
}

// compareChild measures the row a job file describes (the child process
// compareCmd starts) and writes the result as JSON on stdout.
func compareChild(env *cliEnv, jobFile string) error {
	ctx, stop := signalContext()
	defer stop()
	return bench.MeasureJobFile(ctx, env.stdout, jobFile)
}
