package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpscam/rpscam/internal/samefile"
	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/teach"
)

// teachOpts are rpscam teach's flags besides the teach.Config they fill.
type teachOpts struct {
	from, classes string
	plan          teach.Plan
	prepare       bool
}

func runTeach(env *cliEnv, args []string) error {
	if err := teachCmd(env, args); err != nil {
		return teachError{err}
	}
	return nil
}

// teachError drops the "teach: " that package teach's errors start with:
// run already prints "rpscam teach: " before the message. The error itself
// is kept for errors.As (usage errors, *teach.SamplesError).
type teachError struct{ err error }

func (e teachError) Error() string { return strings.TrimPrefix(e.err.Error(), "teach: ") }
func (e teachError) Unwrap() error { return e.err }

func teachCmd(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "teach", "[flags]",
		"rpscam teach                                   # camera 0: show each gesture when asked, then train -> models/taught.onnx",
		"rpscam teach --input clip.mp4 --countdown 0 --frames-per-class 60   # the clip's frames in class order",
		"rpscam teach --from samples/                   # retrain from a samples folder, no capture",
		"rpscam live --model models/taught.onnx         # then use the taught model")
	sf := newSessionFlags(fs).addSourceFlags("0").addModelFlags(true)
	var o teachOpts
	var cfg teach.Config
	fs.StringVar(&cfg.Samples, "samples", "samples", "samples folder (DIR/rock/, DIR/paper/, …): captured frames are added, never overwritten")
	fs.StringVar(&o.from, "from", "", "retrain from this samples folder without capturing")
	fs.BoolVar(&o.prepare, "prepare", false, "only compute and cache the general features teaching mixes in (setup does this), then exit")
	fs.StringVar(&cfg.Out, "out", "models/taught.onnx", "the taught model to write")
	fs.StringVar(&o.classes, "classes", "", "classes to teach, comma-separated (default: the model's labels)")
	fs.IntVar(&o.plan.Frames, "frames-per-class", 60, "frames recorded per class")
	fs.DurationVar(&o.plan.Countdown, "countdown", 3*time.Second, "countdown before each class is recorded (0: none)")
	fs.StringVar(&cfg.Shared, "shared", "", "shared data folder for the general data and backbone weights (default $RPSCAM_SHARED, else ../shared)")
	fs.StringVar(&cfg.Params, "params", "", "the base model's parameters (default rps_head.params beside --model)")
	fs.Float64Var(&cfg.HoldOut, "hold-out", teach.DefaultHoldOut, "share of each class's newest samples held out to measure on (0: none)")
	fs.IntVar(&cfg.General, "general", teach.DefaultGeneral, "general training images mixed in per class and source (0: none)")
	fs.IntVar(&cfg.Epochs, "epochs", teach.DefaultEpochs, "head training epochs (0: the default)")
	fs.Float64Var(&cfg.Anchor, "anchor", 0, "pull the new head towards the shipped one with this L2 strength (e.g. 0.01: forgets less of other people, fits your frames a little less; 0: off)")
	fs.IntVar(&cfg.MinPerClass, "min-per-class", teach.DefaultMinPerClass, "fewest samples a class may have (0: the default)")
	fs.StringVar(&cfg.Test, "test", "", "also score this class-folder set before and after (e.g. a person's later frames)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if err := o.complete(&cfg, sf, env); err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	if o.prepare {
		began := time.Now()
		n, err := teach.Prepare(ctx, cfg, nil)
		if err == nil {
			fmt.Fprintf(env.stderr, "teach: general features ready (%d computed in %s, the rest cached)\n", n, time.Since(began).Round(1e8))
		}
		return err
	}
	if o.from == "" {
		if err := teachCapture(env, sf, o.plan, &cfg); err != nil {
			return err
		}
	}
	res, err := teach.Train(ctx, cfg, teach.ProgressBars(env.stderr))
	if se := (*teach.SamplesError)(nil); errors.As(err, &se) {
		return usageError{fmt.Errorf("%w (samples folder %s)", err, cfg.Samples)}
	} else if err != nil {
		return err
	}
	res.WriteText(env.stdout)
	return nil
}

// complete checks the flags and fills in cfg: the base model, the shared
// folder, the samples folder, the classes, and 0 as "none" for --hold-out
// and --general (teach.Config's defaults are 0).
func (o *teachOpts) complete(cfg *teach.Config, sf *sessionFlags, env *cliEnv) error {
	if o.plan.Frames < 1 {
		return usagef("--frames-per-class %d: want 1 or more", o.plan.Frames)
	}
	if !(cfg.HoldOut >= 0 && cfg.HoldOut < 1) {
		return usagef("--hold-out %v: want 0 (none) up to but not including 1", cfg.HoldOut)
	}
	// teach.Config reads a negative General as "none" and a negative Epochs
	// or MinPerClass as "the default": a typo such as --epochs -1 would
	// train silently with something else, so only 0 has a meaning here.
	if cfg.Epochs < 0 {
		return usagef("--epochs %d: want 1 or more (0: the default, %d)", cfg.Epochs, teach.DefaultEpochs)
	}
	if cfg.General < 0 {
		return usagef("--general %d: want 0 (none) or more images per class and source (default %d)", cfg.General, teach.DefaultGeneral)
	}
	if cfg.MinPerClass < 0 {
		return usagef("--min-per-class %d: want 1 or more (0: the default, %d)", cfg.MinPerClass, teach.DefaultMinPerClass)
	}
	// Checked here as well as by teach.Train, which runs only after the
	// capture: a bad value should not cost the user their recording time.
	if !(cfg.Anchor >= 0 && cfg.Anchor <= 10) {
		return usagef("--anchor %v: want 0 (off) up to 10, e.g. 0.01", cfg.Anchor)
	}
	if o.from != "" {
		if fi, err := os.Stat(o.from); err != nil || !fi.IsDir() {
			return usagef("--from %s is not a folder: give the samples folder that rpscam teach, live --samples or serve --samples wrote (DIR/rock/, DIR/paper/, …)", o.from)
		}
		cfg.Samples = o.from
	}
	var err error
	if cfg.Base, err = sf.baseModel(); err != nil {
		return err
	}
	if !o.prepare { // --prepare writes no model
		if err := checkTeachOut(cfg.Out, cfg.Base); err != nil {
			return err
		}
	}
	if cfg.Shared, err = shareddata.Dir(cfg.Shared); err != nil {
		return err
	}
	cfg.Library, cfg.Log = sf.Library, env.stderr
	if cfg.HoldOut == 0 {
		cfg.HoldOut = -1
	}
	if cfg.General == 0 {
		cfg.General = -1
	}
	if o.classes != "" {
		for _, c := range strings.Split(o.classes, ",") {
			cfg.Classes = append(cfg.Classes, strings.TrimSpace(c))
		}
	}
	return nil
}

// checkTeachOut refuses an --out the taught model could not be written to:
// the write comes last, after the capture and the training, so finding out
// then costs the user all of that.
func checkTeachOut(out, base string) error {
	if out == "" {
		return usagef("--out is empty: give the file the taught model goes to, e.g. --out models/taught.onnx")
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return usagef("--out %s is a folder: give a file name inside it, e.g. --out %s", out, filepath.Join(out, "taught.onnx"))
	}
	if samefile.Same(out, base) {
		return usagef("--out %s is the base model (--model): the taught model would replace it; write it elsewhere, e.g. --out models/taught.onnx", out)
	}
	return checkOutputFile("out", out)
}
