package main

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/bench"
)

// compareFlags are bench's --compare flags.
type compareFlags struct {
	bench.CompareConfig
	compare bool
	job     string // hidden: measure one row (the child process)
}

func addCompareFlags(fs *pflag.FlagSet) *compareFlags {
	f := &compareFlags{}
	fs.BoolVar(&f.compare, "compare", false, "one table: ONNX Runtime fp32 and int8, OpenCV DNN and CUDA on the same clip, each row in a child process (--json: an object with a rows list)")
	fs.StringVar(&f.Data, "data", "", "with --compare: folder of class folders (rock/ paper/ scissors/ none/) for the accuracy column (default: a fixed sample of the shared test sets)")
	fs.StringVar(&f.Shared, "shared", "", "with --compare: the shared data folder for the default --data (default $RPSCAM_SHARED, then ../shared)")
	fs.IntVar(&f.PerSet, "per-set", 50, "with --compare and no --data: images taken from each shared test set, evenly spaced")
	fs.IntVar(&f.RealtimeFrames, "realtime-frames", 150, "with --compare: frames measured with the clip read at its own rate (--realtime), for CPU and latency at 30 FPS")
	fs.StringVar(&f.job, "compare-job", "", "measure one --compare row from this job file (used by --compare itself)")
	_ = fs.MarkHidden("compare-job")
	return f
}

// compareCmd runs bench --compare: every row in a child process of this
// executable.
func compareCmd(ctx context.Context, env *cliEnv, cf *compareFlags, sf *sessionFlags, asJSON bool) error {
	c := cf.CompareConfig
	var err error
	if c.Model, err = sf.baseModel(); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	c.Input, c.Library, c.Child, c.Log = sf.input, sf.Library, []string{exe, "bench", "--compare-job"}, env.stderr
	cmp, err := bench.RunCompare(ctx, c)
	var none *bench.NoRowRanError
	if err != nil && !errors.As(err, &none) {
		return err
	}
	// The table is printed even when no row ran: it says why for each.
	if asJSON {
		if jerr := encodeJSON(env.stdout, cmp); jerr != nil {
			return jerr
		}
	} else {
		cmp.Print(env.stdout)
	}
	if none != nil && none.Setup {
		return usageError{err} // as plain bench on the same clip or model
	}
	return err
}
