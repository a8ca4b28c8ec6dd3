package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/teach"
	"github.com/rpscam/rpscam/train"
)

func runTeach(env *cliEnv, args []string) error {
	return exitError(teachCmd(env, args))
}

func teachCmd(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "teach", "[flags]",
		"rpscam teach                                   # camera 0: show each gesture when asked, then train -> models/taught.onnx",
		"rpscam teach --input clip.mp4 --countdown 0 --frames-per-class 60   # the clip's frames in class order",
		"rpscam teach --from samples/                   # retrain from a samples folder, no capture",
		"rpscam live --model models/taught.onnx         # then use the taught model")
	sf := newSessionFlags(fs).addSourceFlags("0").addModelFlags(true)
	o := teachOpts{}
	fs.StringVar(&o.samples, "samples", "samples", "samples folder (DIR/rock/, DIR/paper/, …): captured frames are added, never overwritten")
	fs.StringVar(&o.from, "from", "", "retrain from this samples folder without capturing")
	fs.BoolVar(&o.prepare, "prepare", false, "only compute and cache the general features teaching mixes in (setup does this), then exit")
	fs.StringVar(&o.out, "out", "models/taught.onnx", "the taught model to write")
	fs.StringVar(&o.classes, "classes", "", "classes to teach, comma-separated (default: the model's labels)")
	fs.IntVar(&o.frames, "frames-per-class", 60, "frames recorded per class")
	fs.DurationVar(&o.countdown, "countdown", 3*time.Second, "countdown before each class is recorded (0: none)")
	fs.StringVar(&o.shared, "shared", "", "shared data folder for the general data and backbone weights (default $RPSCAM_SHARED, else ../shared)")
	fs.StringVar(&o.params, "params", "", "the base model's parameters (default rps_head.params beside --model)")
	fs.Float64Var(&o.holdOut, "hold-out", teach.DefaultHoldOut, "share of each class's newest samples held out to measure on (0: none)")
	fs.IntVar(&o.general, "general", teach.DefaultGeneral, "general training images mixed in per class and source (0: none)")
	fs.IntVar(&o.epochs, "epochs", teach.DefaultEpochs, "head training epochs")
	fs.IntVar(&o.minPerClass, "min-per-class", teach.DefaultMinPerClass, "fewest samples a class may have")
	fs.StringVar(&o.test, "test", "", "also score this class-folder set before and after (e.g. a person's later frames)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if o.frames < 1 {
		return usagef("--frames-per-class %d: want 1 or more", o.frames)
	}
	if !(o.holdOut >= 0 && o.holdOut < 1) {
		return usagef("--hold-out %v: want 0 (none) up to but not including 1", o.holdOut)
	}
	if o.from != "" {
		if fi, err := os.Stat(o.from); err != nil || !fi.IsDir() {
			return usagef("--from %s is not a folder: give the samples folder that rpscam teach, live --samples or serve --samples wrote (DIR/rock/, DIR/paper/, …)", o.from)
		}
	}
	base, err := sf.baseModel()
	if err != nil {
		return err
	}
	shared, err := shareddata.Dir(o.shared)
	if err != nil {
		return err
	}
	cfg := o.config(base, shared, sf.Library, env.stderr)
	if o.prepare {
		return teachPrepare(env, cfg)
	}
	if o.from == "" {
		if err := teachCapture(env, sf, &o, &cfg); err != nil {
			return err
		}
	}
	ctx, stop := signalContext()
	defer stop()
	terminal := term.IsTerminal(env.stderr)
	var bar *train.Progress
	stage := ""
	res, err := teach.Train(ctx, cfg, func(p teach.Progress) {
		if p.Stage != stage || bar == nil {
			stage = p.Stage
			bar = train.NewProgress(env.stderr, fmt.Sprintf("%-8s", p.Stage), p.Total, terminal)
		}
		bar.Update(p.Done)
	})
	if err != nil {
		var se *teach.SamplesError
		if errors.As(err, &se) {
			return usageError{fmt.Errorf("%w (samples folder %s)", err, cfg.Samples)}
		}
		return err
	}
	printTeachResult(env.stdout, res)
	return nil
}

// teachOpts are rpscam teach's own flags.
type teachOpts struct {
	samples, from, out, classes, shared, params, test string
	frames, general, epochs, minPerClass              int
	countdown                                         time.Duration
	holdOut                                           float64
	prepare                                           bool
}

func (o *teachOpts) config(base, shared, lib string, log io.Writer) teach.Config {
	cfg := teach.Config{
		Samples: o.samples, Base: base, Out: o.out, Shared: shared, Library: lib, Log: log,
		Params: o.params, MinPerClass: o.minPerClass, HoldOut: o.holdOut, Epochs: o.epochs, General: o.general, Test: o.test,
	}
	if o.from != "" {
		cfg.Samples = o.from
	}
	if o.holdOut == 0 {
		cfg.HoldOut = -1
	}
	if o.general == 0 {
		cfg.General = -1
	}
	if o.classes != "" {
		for _, c := range strings.Split(o.classes, ",") {
			cfg.Classes = append(cfg.Classes, strings.TrimSpace(c))
		}
	}
	return cfg
}

// printTeachResult prints the before/after report.
func printTeachResult(w io.Writer, r *teach.Result) {
	pct := func(v float64) string {
		if math.IsNaN(v) {
			return "  –  "
		}
		return fmt.Sprintf("%5.1f%%", 100*v)
	}
	fmt.Fprintf(w, "teach: trained on %d samples (+%d general images) in %s", r.Trained, r.General, r.Took.Round(1e8))
	if r.GeneralTook > 0 {
		fmt.Fprintf(w, " (general features computed once: %s)", r.GeneralTook.Round(1e8))
	}
	fmt.Fprintln(w)
	if r.HeldOut > 0 {
		fmt.Fprintf(w, "held-out samples (each class's newest frames): %d\n%-10s %8s %8s %8s\n", r.HeldOut, "class", "held out", "before", "after")
		for _, c := range r.PerClass {
			fmt.Fprintf(w, "%-10s %8d %8s %8s\n", c.Class, c.HeldOut, pct(c.Before), pct(c.After))
		}
		fmt.Fprintf(w, "%-10s %8d %8s %8s\n", "all", r.HeldOut, pct(r.Before), pct(r.After))
	}
	if r.TestN > 0 {
		fmt.Fprintf(w, "test set (%d images): before %s, after %s\n", r.TestN, pct(r.TestBefore), pct(r.TestAfter))
	}
	fmt.Fprintf(w, "model written: %s (rpscam live --model %s)\n", r.Model, r.Model)
}

// teachPrepare fills the general-feature cache that teaching reads.
func teachPrepare(env *cliEnv, cfg teach.Config) error {
	ctx, stop := signalContext()
	defer stop()
	began := time.Now()
	n, err := teach.Prepare(ctx, cfg, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "teach: general features ready (%d computed in %s, the rest cached)\n", n, time.Since(began).Round(1e8))
	return nil
}
