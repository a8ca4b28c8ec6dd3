package main

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/model"
	"github.com/rpscam/rpscam/train"
)

// trainFlags are rpscam train's flags; job turns them into a train.Job.
type trainFlags struct {
	fs                                         *pflag.FlagSet
	shared, leaveOut, mode, backbone, weights  *string
	cacheDir, paramsOut, recordOut, out, curve *string
	ortLib                                     *string
	sources, shares                            []string
	synthNone, views, epochs, batch, patience  *int
	threads                                    *int
	only, balance                              *bool
	seed, splitSeed, augSeed                   *uint64
	valFrac, lr, dropout, wd                   *float64
	ft                                         *fineTuneFlags
}

func addTrainFlags(fs *pflag.FlagSet) *trainFlags {
	f := &trainFlags{fs: fs}
	f.shared = fs.String("shared", "", "shared data folder (default $RPSCAM_SHARED, else ../shared)")
	fs.StringArrayVar(&f.sources, "source", nil, "add a training folder NAME=DIR (or DIR) holding rock/ paper/ scissors/ and/or none/ (empty scenes) (repeatable)")
	f.synthNone = fs.Int("synthetic-none", 0, "add N generated empty scenes (bare walls, dim noisy frames, room-like clutter) to the none class, drawn with --aug-seed into the cache folder")
	f.only = fs.Bool("only-sources", false, "train on the --source folders only, not the default sources (cgi, drgfreeman, sxsw, subhih, parikshitkumar1, signdigits)")
	def := train.DefaultConfig(nil)
	f.seed = fs.Uint64("seed", def.Seed, "seed for the initialisation, shuffling and dropout")
	f.splitSeed = fs.Uint64("split-seed", def.SplitSeed, "seed of the validation split (kept apart from --seed so that runs of any seed are compared on the same images)")
	f.augSeed = fs.Uint64("aug-seed", 1, "seed for the augmented views (part of the feature-cache key)")
	f.views = fs.Int("views", def.Views, fmt.Sprintf("views per training image: 1 clean + N-1 augmented (--mode head: default %d)", train.RecipeDefaults("head").Views))
	f.valFrac = fs.Float64("val-fraction", def.ValFraction, "share of each source's groups (hand models, clips) held for validation")
	f.leaveOut = fs.String("leave-out", "", "keep this source out of training and report accuracy on it (writes no model)")
	fs.StringArrayVar(&f.shares, "train-share", nil, "NAME=F trains on a share F (0 < F <= 1) of source NAME's training groups, validation unchanged (repeatable): a learning curve, e.g. sxsw=0.5 (smaller shares are subsets of larger ones)")
	f.epochs = fs.Int("epochs", def.Fit.Epochs, "maximum epochs (early stopping usually ends sooner)")
	f.batch = fs.Int("batch", def.Fit.BatchSize, "batch size")
	f.lr = fs.Float64("lr", def.Fit.LearningRate, "Adam learning rate")
	f.dropout = fs.Float64("dropout", def.Fit.Dropout, "dropout rate on the 1280 features")
	f.wd = fs.Float64("weight-decay", def.Fit.WeightDecay, "L2 weight decay on the head")
	f.patience = fs.Int("patience", def.Fit.Patience, "early stopping: epochs without a better val_loss (0 = off)")
	f.balance = fs.Bool("balance-classes", def.Fit.BalanceClasses, "weigh the training loss so that every class of a source counts the same (sxsw's photos are 39% rock, 29% paper)")
	f.mode = fs.String("mode", "finetune", "finetune: train the last layers (--tune) with the head on cached trunk activations (the default, measured better on every held-out set); head: frozen backbone, cached features, dense head only (the tutorial recipe)")
	f.ft = addFineTuneFlags(fs)
	f.backbone = fs.String("backbone", "models/mobilenet_v2_backbone.onnx", "feature-extractor ONNX (made by rpscam convert; built here if missing); with --weights slim the default is models/mobilenet_v2_backbone-slim.onnx")
	f.weights = fs.String("weights", "", "backbone weights: tf2 (default) or slim")
	f.cacheDir = fs.String("cache", "models/cache", "feature cache folder")
	f.paramsOut = fs.String("params-out", "models/rps_head.params", "trained parameters to write")
	f.recordOut = fs.String("record", "models/training-record.json", "training record to write")
	f.out = fs.String("out", "models/rps_mobilenetv2.onnx", "assembled model to write (\"\" to skip)")
	f.curve = fs.String("curve", "out/training-curve.png", "training-curve PNG (\"\" to skip)")
	f.threads = fs.Int("threads", 2, "ONNX Runtime threads")
	f.ortLib = fs.String("ort-lib", "", "ONNX Runtime library (default $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the setup location)")
	return f
}

func runTrain(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "train", "[flags]",
		"rpscam train                                    # fine-tune block_15 + block_16 + Conv_1 + head -> models/rps_head.params, models/rps_mobilenetv2.onnx",
		"rpscam train --mode head                        # the tutorial recipe: frozen backbone, dense head only",
		"rpscam train --seed 7 --views 2                 # another initialisation and fewer augmented views",
		"rpscam train --source mine=~/rps-photos         # add a folder of rock/ paper/ scissors/ none/ photos",
		"rpscam train --only-sources --source mine=~/rps-photos --source sxsw=../shared/data/rps-real/sxsw/train",
		"rpscam train --leave-out sxsw                   # leave-one-source-out check; writes no model")
	f := addTrainFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	shareBy, err := f.validate()
	if err != nil {
		return err
	}
	job, err := f.job(env, shareBy)
	if err != nil {
		return err
	}
	job.Command = "rpscam train " + strings.Join(args, " ")
	run := train.HeadOnly
	if *f.mode == "finetune" {
		if err := checkSourceNames("--oversample", slices.Sorted(maps.Keys(f.ft.overBy)), job.Sources); err != nil {
			return err
		}
		if job.Tests, err = f.ft.testSets(*f.shared, *f.leaveOut); err != nil {
			return err
		}
		run = train.FineTune
	}
	if err := run(job); err != nil {
		if re := (*train.RecipeError)(nil); errors.As(err, &re) {
			return usageError{re.Err}
		}
		return err
	}
	return nil
}

// validate checks the flags before anything is loaded or built, applies
// the mode's defaults and returns the parsed --train-share.
func (f *trainFlags) validate() (map[string]float64, error) {
	fs := f.fs
	if *f.valFrac == 0 {
		// Nothing is held out, so nothing can stop training early or pick
		// an epoch: the epoch counts must come from a validated run.
		if !fs.Changed("epochs") || (*f.mode == "finetune" && !fs.Changed("ft-epochs")) {
			return nil, usagef("--val-fraction 0 trains on every group and leaves no validation to stop on: give the epoch counts a validated run chose, e.g. --epochs 2 --ft-epochs 3 (its record's head_warmup_history and history)")
		}
		*f.patience, *f.ft.patience = 0, 0
	}
	shareBy, err := perSourceValues("--train-share", f.shares, "NAME=F with a source name and a share above 0 and at most 1, e.g. sxsw=0.5", func(v string) (float64, bool) {
		share, err := strconv.ParseFloat(v, 64)
		return share, err == nil && share > 0 && share <= 1
	})
	if err != nil {
		return nil, err
	}
	switch *f.mode {
	case "finetune":
		if err := f.ft.validate(); err != nil {
			return nil, err
		}
	case "head":
		for _, name := range []string{"oversample", "ft-mixup", "ft-schedule", "ft-ema"} {
			if fs.Changed(name) {
				return nil, usagef("--%s applies to --mode finetune only", name)
			}
		}
		def := train.RecipeDefaults("head")
		if !fs.Changed("views") {
			*f.views = def.Views
		}
		if !fs.Changed("balance-classes") {
			*f.balance = def.Fit.BalanceClasses
		}
	default:
		return nil, usagef("--mode %q: use head (frozen backbone) or finetune (last layers trained too)", *f.mode)
	}
	if *f.views < 1 || *f.views > 32 {
		return nil, usagef("--views %d: want 1..32", *f.views)
	}
	return shareBy, nil
}

// job lists the sources and loads the backbone: the run the flags describe.
func (f *trainFlags) job(env *cliEnv, shareBy map[string]float64) (train.Job, error) {
	began := time.Now()
	srcs, err := f.trainSources()
	if err != nil {
		return train.Job{}, err
	}
	if err := checkSourceNames("--train-share", slices.Sorted(maps.Keys(shareBy)), srcs); err != nil {
		return train.Job{}, err
	}
	// The TFLite weights (for the summary and export) and the
	// feature-extractor ONNX (built from them if missing).
	wf := &weightsFlags{tflite: new(string), weights: f.weights, shared: f.shared}
	b, err := wf.load(nil)
	if err != nil {
		return train.Job{}, err
	}
	if b.Source.Weights != model.WeightsTF2 && !f.fs.Changed("backbone") {
		*f.backbone = fmt.Sprintf("models/mobilenet_v2_backbone-%s.onnx", b.Source.Weights.Name)
	}
	return train.Job{
		Config: train.Config{Sources: srcs, ValFraction: *f.valFrac, Seed: *f.seed, SplitSeed: *f.splitSeed, Views: *f.views, LeaveOut: *f.leaveOut, TrainShare: shareBy,
			Fit: train.FitConfig{Epochs: *f.epochs, BatchSize: *f.batch, LearningRate: *f.lr, Dropout: *f.dropout, WeightDecay: *f.wd, Patience: *f.patience, BalanceClasses: *f.balance}},
		Mode: *f.mode, FineTune: f.ft.config(), AugSeed: *f.augSeed, Backbone: b, BackbonePath: *f.backbone, TrunkPath: *f.ft.trunk,
		CacheDir: *f.cacheDir, Threads: *f.threads, Library: *f.ortLib,
		Out:       train.Outputs{Params: *f.paramsOut, Record: *f.recordOut, Model: *f.out, Curve: *f.curve},
		Reproduce: reproduceLine(f.fs, map[string]string{"weights": b.Source.Weights.Name}, recipeFlags(*f.mode)...),
		Began:     began, Log: env.stdout, Progress: env.stderr,
	}, nil
}

// trainSources are the default sources (unless --only-sources), the
// --source folders and the generated none scenes.
func (f *trainFlags) trainSources() ([]train.Source, error) {
	var srcs []train.Source
	if !*f.only {
		dir, err := shareddata.Dir(*f.shared)
		if err != nil {
			return nil, err
		}
		srcs = train.DefaultSources(dir)
	}
	for _, s := range f.sources {
		name, dir, ok := strings.Cut(s, "=")
		if !ok {
			dir, name = s, filepath.Base(filepath.Clean(s))
		}
		srcs = append(srcs, train.Source{Name: name, Dir: dir, Grouping: train.GroupNone})
	}
	if *f.synthNone < 0 || *f.synthNone > 10000 {
		return nil, usagef("--synthetic-none %d: want 0 (off) to 10000", *f.synthNone)
	}
	if *f.synthNone > 0 {
		s, err := train.WriteSyntheticNone(filepath.Join(*f.cacheDir, train.SyntheticNoneName), *f.synthNone, *f.augSeed)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, s)
	}
	if len(srcs) == 0 {
		return nil, usagef("no training sources: drop --only-sources or add --source NAME=DIR")
	}
	return srcs, nil
}

// recipeFlags are the flags a mode's Reproduce line always names.
func recipeFlags(mode string) []string {
	common := []string{"mode", "weights", "seed", "split-seed", "aug-seed", "views"}
	if mode == "head" {
		return append(common, "balance-classes")
	}
	return append(common, "tune", "ft-epochs", "ft-lr", "ft-lr-head", "ft-anchor", "ft-label-smoothing", "ft-monitor", "ft-patience", "balance-classes")
}

// notRecipe are the train flags that do not shape the trained parameters:
// where inputs and outputs live, speed, and the leave-one-source-out check
// (which writes no record). A Reproduce line leaves them out; every other
// flag, including any added later, is a recipe flag unless listed here.
// (--backbone and --trunk are derived from --weights unless given; the
// record keeps the files' checksums.)
var notRecipe = map[string]bool{
	"shared": true, "leave-out": true, "backbone": true, "trunk": true, "cache": true, "tests": true,
	"params-out": true, "record": true, "out": true, "curve": true, "threads": true, "ort-lib": true,
}

// reproduceLine is the command that trains the same parameters: the
// recipe's main flags (always, at the values the run used, so the line
// stays right when a default changes), then every other recipe flag the
// run set, in the order --help lists them. effective gives values that
// differ from a flag's text (the weights an empty --weights resolved to).
// Flag variables adjusted after parsing (head mode's 4 views, no patience
// without validation) are read as adjusted.
func reproduceLine(fs *pflag.FlagSet, effective map[string]string, always ...string) string {
	var b strings.Builder
	b.WriteString("rpscam train")
	write := func(f *pflag.Flag) {
		if v, ok := effective[f.Name]; ok {
			fmt.Fprintf(&b, " --%s %s", f.Name, shellWord(v))
			return
		}
		switch v := f.Value.(type) {
		case pflag.SliceValue:
			for _, item := range v.GetSlice() {
				fmt.Fprintf(&b, " --%s %s", f.Name, shellWord(item))
			}
		default:
			if f.Value.Type() == "bool" {
				if f.Value.String() == "true" {
					fmt.Fprintf(&b, " --%s", f.Name)
				} else {
					fmt.Fprintf(&b, " --%s=false", f.Name)
				}
				return
			}
			fmt.Fprintf(&b, " --%s %s", f.Name, shellWord(f.Value.String()))
		}
	}
	for _, name := range always {
		if f := fs.Lookup(name); f != nil {
			write(f)
		}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed && !notRecipe[f.Name] && !slices.Contains(always, f.Name) {
			write(f)
		}
	})
	return b.String()
}

// shellWord quotes s for a POSIX shell unless it is plainly one word.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.,/=:+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// perSourceValues parses the NAME=VALUE items of a per-source flag
// (--oversample, --train-share) into a map; value parses one VALUE and says
// whether it is in range. A bad item is a usage error showing want, the
// form expected.
func perSourceValues[V any](flag string, items []string, want string, value func(string) (V, bool)) (map[string]V, error) {
	by := map[string]V{}
	for _, item := range items {
		name, text, found := strings.Cut(item, "=")
		v, ok := value(text)
		if !found || name == "" || !ok {
			return nil, usagef("%s %q: use %s", flag, item, want)
		}
		by[name] = v
	}
	return by, nil
}

// checkSourceNames rejects names given to a per-source flag (--oversample,
// --train-share) that are not sources, before minutes of activations are
// computed for nothing.
func checkSourceNames(flag string, given []string, srcs []train.Source) error {
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name)
	}
	for _, name := range given {
		if !slices.Contains(names, name) {
			return usagef("%s %s: no training source has that name (sources: %s)", flag, name, strings.Join(names, ", "))
		}
	}
	return nil
}
