package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

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

func compareCmd(ctx context.Context, env *cliEnv, cf *compareFlags, mf *modelFlags, o compareRun) error {
	if cf.realtimeFrames < 1 || cf.perSet < 1 {
		return usagef("--realtime-frames and --per-set must be at least 1")
	}
	floatPath, err := infer.ResolveModel(mf.model, mf.fs.Changed("model"))
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
	job := bench.Job{Input: o.input, Library: mf.ortLib, Warmup: o.warmup, Frames: o.frames, RealtimeFrames: cf.realtimeFrames, InferIters: o.iters, Images: images}
	measure := func(ctx context.Context, j bench.Job) (bench.RowResult, error) {
		fmt.Fprintf(env.stderr, "bench --compare: %s %s %s ...\n", j.Row.Backend, j.Row.Precision, j.Row.Device)
		return runCompareChild(ctx, tmp, j)
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

// runCompareChild measures one row in a child process (this executable),
// so that its peak RSS and OpenCV's process-wide thread count are its own.
func runCompareChild(ctx context.Context, tmp string, j bench.Job) (bench.RowResult, error) {
	var res bench.RowResult
	exe, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("finding this executable to run the row: %w", err)
	}
	data, err := json.Marshal(j)
	if err != nil {
		return res, err
	}
	jobFile := filepath.Join(tmp, fmt.Sprintf("job-%s-%s-%s.json", j.Row.Backend, j.Row.Precision, j.Row.Device))
	if err := os.WriteFile(jobFile, data, 0o600); err != nil {
		return res, err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "--compare-job", jobFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("the row's process failed (%v): %s", err, lastLine(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("the row's process wrote no result (%v): %s", err, lastLine(stderr.String()))
	}
	return res, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// compareChild measures the row a job file describes and writes the
// bench.RowResult as JSON on stdout; the row's own failure is in its Error.
func compareChild(env *cliEnv, jobFile string) error {
	data, err := os.ReadFile(jobFile)
	if err != nil {
		return err
	}
	var j bench.Job
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("--compare-job %s: %w", jobFile, err)
	}
	if j.Row.Backend == "" {
		return errors.New("--compare-job: the job names no backend")
	}
	ctx, stop := signalContext()
	defer stop()
	return json.NewEncoder(env.stdout).Encode(bench.MeasureRow(ctx, j))
}
