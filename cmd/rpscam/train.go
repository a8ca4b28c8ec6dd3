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

// trainFlags are rpscam train's flags, bound into the train.Job they
// describe; the others become its sources, backbone and test sets.
type trainFlags struct {
	fs                          *pflag.FlagSet
	job                         train.Job
	shared, weights             string
	sources, shares, oversample []string
	synthNone                   int
	only, tests                 bool
}

func addTrainFlags(fs *pflag.FlagSet) *trainFlags {
	f := &trainFlags{fs: fs}
	j := &f.job
	fs.StringVar(&f.shared, "shared", "", "shared data folder (default $RPSCAM_SHARED, else ../shared)")
	fs.StringArrayVar(&f.sources, "source", nil, "add a training folder NAME=DIR (or DIR) holding rock/ paper/ scissors/ and/or none/ (empty scenes) (repeatable)")
	fs.IntVar(&f.synthNone, "synthetic-none", 0, "add N generated empty scenes (bare walls, dim noisy frames, room-like clutter) to the none class, drawn with --aug-seed into the cache folder")
	fs.BoolVar(&f.only, "only-sources", false, "train on the --source folders only, not the default sources (cgi, drgfreeman, sxsw, subhih, parikshitkumar1, signdigits)")
	def := train.DefaultConfig(nil)
	fs.Uint64Var(&j.Seed, "seed", def.Seed, "seed for the initialisation, shuffling and dropout")
	fs.Uint64Var(&j.SplitSeed, "split-seed", def.SplitSeed, "seed of the validation split (kept apart from --seed so that runs of any seed are compared on the same images)")
	fs.Uint64Var(&j.AugSeed, "aug-seed", 1, "seed for the augmented views (part of the feature-cache key)")
	fs.IntVar(&j.Views, "views", def.Views, fmt.Sprintf("views per training image: 1 clean + N-1 augmented (--mode head: default %d)", train.RecipeDefaults("head").Views))
	fs.Float64Var(&j.ValFraction, "val-fraction", def.ValFraction, "share of each source's groups (hand models, clips) held for validation")
	fs.StringVar(&j.LeaveOut, "leave-out", "", "keep this source out of training and report accuracy on it (writes no model)")
	fs.StringArrayVar(&f.shares, "train-share", nil, "NAME=F trains on a share F (0 < F <= 1) of source NAME's training groups, validation unchanged (repeatable): a learning curve, e.g. sxsw=0.5 (smaller shares are subsets of larger ones)")
	fs.IntVar(&j.Fit.Epochs, "epochs", def.Fit.Epochs, "maximum epochs (early stopping usually ends sooner)")
	fs.IntVar(&j.Fit.BatchSize, "batch", def.Fit.BatchSize, "batch size")
	fs.Float64Var(&j.Fit.LearningRate, "lr", def.Fit.LearningRate, "Adam learning rate")
	fs.Float64Var(&j.Fit.Dropout, "dropout", def.Fit.Dropout, "dropout rate on the 1280 features")
	fs.Float64Var(&j.Fit.WeightDecay, "weight-decay", def.Fit.WeightDecay, "L2 weight decay on the head")
	fs.IntVar(&j.Fit.Patience, "patience", def.Fit.Patience, "early stopping: epochs without a better val_loss (0 = off)")
	fs.BoolVar(&j.Fit.BalanceClasses, "balance-classes", def.Fit.BalanceClasses, "weigh the training loss so that every class of a source counts the same (sxsw's photos are 39% rock, 29% paper)")
	fs.StringVar(&j.Mode, "mode", "finetune", "finetune: train the last layers (--tune) with the head on cached trunk activations (the default, measured better on every held-out set); head: frozen backbone, cached features, dense head only (the tutorial recipe)")
	f.addFineTuneFlags(fs)
	fs.StringVar(&j.BackbonePath, "backbone", "models/mobilenet_v2_backbone.onnx", "feature-extractor ONNX (made by rpscam convert; built here if missing); with --weights slim the default is models/mobilenet_v2_backbone-slim.onnx")
	fs.StringVar(&f.weights, "weights", "", "backbone weights: tf2 (default) or slim")
	fs.StringVar(&j.CacheDir, "cache", "models/cache", "feature cache folder")
	fs.StringVar(&j.Out.Params, "params-out", "models/rps_head.params", "trained parameters to write")
	fs.StringVar(&j.Out.Record, "record", "models/training-record.json", "training record to write")
	fs.StringVar(&j.Out.Model, "out", defaultModel, "assembled model to write (\"\" to skip)")
	fs.StringVar(&j.Out.Curve, "curve", "out/training-curve.png", "training-curve PNG (\"\" to skip)")
	fs.IntVar(&j.Threads, "threads", 2, "ONNX Runtime threads")
	fs.StringVar(&j.Library, "ort-lib", "", "ONNX Runtime library (default $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the setup location)")
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
	job, err := f.complete(env, shareBy)
	if err != nil {
		return err
	}
	job.Command = "rpscam train " + strings.Join(args, " ")
	run := train.HeadOnly
	if job.Mode == "finetune" {
		if err := checkSourceNames("--oversample", slices.Sorted(maps.Keys(job.FineTune.Oversample)), job.Sources); err != nil {
			return err
		}
		if job.Tests, err = f.testSets(); err != nil {
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
	fs, j := f.fs, &f.job
	if j.ValFraction == 0 {
		// Nothing is held out, so nothing can stop training early or pick
		// an epoch: the epoch counts must come from a validated run.
		if !fs.Changed("epochs") || (j.Mode == "finetune" && !fs.Changed("ft-epochs")) {
			return nil, usagef("--val-fraction 0 trains on every group and leaves no validation to stop on: give the epoch counts a validated run chose, e.g. --epochs 2 --ft-epochs 3 (its record's head_warmup_history and history)")
		}
		j.Fit.Patience, j.FineTune.Patience = 0, 0
	}
	shareBy, err := perSourceValues("--train-share", f.shares, "NAME=F with a source name and a share above 0 and at most 1, e.g. sxsw=0.5", func(v string) (float64, bool) {
		share, err := strconv.ParseFloat(v, 64)
		return share, err == nil && share > 0 && share <= 1
	})
	if err != nil {
		return nil, err
	}
	switch j.Mode {
	case "finetune":
		if err := f.checkFineTune(); err != nil {
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
			j.Views = def.Views
		}
		if !fs.Changed("balance-classes") {
			j.Fit.BalanceClasses = def.Fit.BalanceClasses
		}
	default:
		return nil, usagef("--mode %q: use head (frozen backbone) or finetune (last layers trained too)", j.Mode)
	}
	if j.Views < 1 || j.Views > 32 {
		return nil, usagef("--views %d: want 1..32", j.Views)
	}
	return shareBy, nil
}

// complete lists the sources and loads the backbone: the run the flags
// describe.
func (f *trainFlags) complete(env *cliEnv, shareBy map[string]float64) (train.Job, error) {
	j := f.job
	j.Began = time.Now()
	srcs, err := f.trainSources()
	if err != nil {
		return train.Job{}, err
	}
	if err := checkSourceNames("--train-share", slices.Sorted(maps.Keys(shareBy)), srcs); err != nil {
		return train.Job{}, err
	}
	j.Sources, j.TrainShare = srcs, shareBy
	// The TFLite weights (for the summary and export) and the
	// feature-extractor ONNX (built from them if missing).
	wf := &weightsFlags{tflite: new(string), weights: &f.weights, shared: &f.shared}
	if j.Backbone, err = wf.load(nil); err != nil {
		return train.Job{}, err
	}
	if j.Backbone.Source.Weights != model.WeightsTF2 && !f.fs.Changed("backbone") {
		j.BackbonePath = fmt.Sprintf("models/mobilenet_v2_backbone-%s.onnx", j.Backbone.Source.Weights.Name)
	}
	j.Reproduce = train.ReproduceLine(f.fs, map[string]string{"weights": j.Backbone.Source.Weights.Name}, train.RecipeFlags(j.Mode)...)
	j.Log, j.Progress = env.stdout, env.stderr
	return j, nil
}

// trainSources are the default sources (unless --only-sources), the
// --source folders and the generated none scenes.
func (f *trainFlags) trainSources() ([]train.Source, error) {
	var srcs []train.Source
	if !f.only {
		dir, err := shareddata.Dir(f.shared)
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
	if f.synthNone < 0 || f.synthNone > 10000 {
		return nil, usagef("--synthetic-none %d: want 0 (off) to 10000", f.synthNone)
	}
	if f.synthNone > 0 {
		s, err := train.WriteSyntheticNone(filepath.Join(f.job.CacheDir, train.SyntheticNoneName), f.synthNone, f.job.AugSeed)
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
