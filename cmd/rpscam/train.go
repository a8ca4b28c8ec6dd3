package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/model"
	"github.com/rpscam/rpscam/train"
)

// trainFlags are rpscam train's flags, bound into the train.Job and the
// train.DataRequest they describe.
type trainFlags struct {
	job     train.Job
	data    train.DataRequest
	weights string
}

func addTrainFlags(fs *pflag.FlagSet) *trainFlags {
	f := &trainFlags{}
	j, d := &f.job, &f.data
	fs.StringVar(&d.Shared, "shared", "", "shared data folder (default $RPSCAM_SHARED, else ../shared)")
	fs.StringArrayVar(&d.Folders, "source", nil, "add a training folder NAME=DIR (or DIR) holding rock/ paper/ scissors/ and/or none/ (empty scenes) (repeatable)")
	fs.IntVar(&d.SyntheticNone, "synthetic-none", 0, "add N generated empty scenes (bare walls, dim noisy frames, room-like clutter) to the none class, drawn with --aug-seed into the cache folder")
	fs.BoolVar(&d.OnlyFolders, "only-sources", false, "train on the --source folders only, not the default sources (cgi, drgfreeman, sxsw, subhih, parikshitkumar1, signdigits)")
	def := train.DefaultConfig(nil)
	fs.Uint64Var(&j.Seed, "seed", def.Seed, "seed for the initialisation, shuffling and dropout")
	fs.Uint64Var(&j.SplitSeed, "split-seed", def.SplitSeed, "seed of the validation split (kept apart from --seed so that runs of any seed are compared on the same images)")
	fs.Uint64Var(&j.AugSeed, "aug-seed", 1, "seed for the augmented views (part of the feature-cache key)")
	fs.Float64Var(&j.MotionBlur, "aug-motion-blur", 0, fmt.Sprintf("share of the augmented views smeared by a linear motion at a random angle, up to %.0f%% of the side long (a new feature cache); 0 = off. Measured at 0.25 and not taken: see models/README.md", 100*train.DefaultMotionBlurLen))
	fs.IntVar(&j.Views, "views", def.Views, fmt.Sprintf("views per training image: 1 clean + N-1 augmented (--mode head: default %d)", train.RecipeDefaults("head").Views))
	fs.Float64Var(&j.ValFraction, "val-fraction", def.ValFraction, "share of each source's groups (hand models, clips) held for validation")
	fs.StringVar(&j.LeaveOut, "leave-out", "", "keep this source out of training and report accuracy on it (writes no model)")
	fs.StringArrayVar(&d.Shares, "train-share", nil, "NAME=F trains on a share F (0 < F <= 1) of source NAME's training groups, validation unchanged (repeatable): a learning curve, e.g. sxsw=0.5 (smaller shares are subsets of larger ones)")
	fs.IntVar(&j.Fit.Epochs, "epochs", def.Fit.Epochs, "maximum epochs (early stopping usually ends sooner)")
	fs.IntVar(&j.Fit.BatchSize, "batch", def.Fit.BatchSize, "batch size")
	fs.Float64Var(&j.Fit.LearningRate, "lr", def.Fit.LearningRate, "Adam learning rate")
	fs.Float64Var(&j.Fit.Dropout, "dropout", def.Fit.Dropout, "dropout rate on the 1280 features")
	fs.Float64Var(&j.Fit.WeightDecay, "weight-decay", def.Fit.WeightDecay, "L2 weight decay on the head")
	fs.IntVar(&j.Fit.Patience, "patience", def.Fit.Patience, "early stopping: epochs without a better val_loss (0 = off)")
	fs.BoolVar(&j.Fit.BalanceClasses, "balance-classes", def.Fit.BalanceClasses, "weigh the training loss so that every class of a source counts the same (sxsw's photos are 39% rock, 29% paper)")
	fs.StringVar(&j.Mode, "mode", "finetune", "finetune: train the last layers (--tune) with the head on cached trunk activations (the default, measured better on every held-out set); head: frozen backbone, cached features, dense head only (the tutorial recipe)")
	f.addFineTuneFlags(fs)
	fs.StringVar(&j.BackbonePath, "backbone", "", "feature-extractor ONNX (made by rpscam convert; built here if missing; default models/mobilenet_v2_backbone[-WEIGHTS].onnx, e.g. models/mobilenet_v2_backbone-slim.onnx with --weights slim)")
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

// addFineTuneFlags binds the fine-tuning flags into the job's FineTune
// recipe and the data request.
func (f *trainFlags) addFineTuneFlags(fs *pflag.FlagSet) {
	def, ft := train.DefaultFineTune(), &f.job.FineTune
	fs.StringVar(&f.job.TrunkPath, "trunk", "", "finetune: frozen trunk ONNX, MobileNet-v2 up to the first tuned layer's input, whose activation (7x7x160, or 14x14x96 for block13 and deeper) is cached per view (built here when missing; default models/mobilenet_v2_trunk[-WEIGHTS][-END].onnx)")
	fs.BoolVar(&f.data.Tests, "tests", true, "finetune: score every training source's test part (cgi, sxsw, subhih test; drgfreeman, parikshitkumar1, signdigits held-out) after training, for the log only")
	fs.StringVar(&ft.Tune, "tune", def.Tune, "finetune: layers trained with the head: conv1 (Conv_1), block16 (block_16 and Conv_1), block15 (block_15 too; its trunk ends at block_14_add, a cache of its own), block14 (block_14 too; trunk to block_13_project) or block13 (block_13 too, the stride-2 block; trunk to block_12_add, 14x14x96 activations: 2.4x the cache and memory), block12 (block_12 too; trunk to block_11_add, the same size, steps 1.6x block13's) or block11 (block_11 too; trunk to block_10_project)")
	fs.IntVar(&ft.Epochs, "ft-epochs", def.Epochs, "finetune: maximum fine-tuning epochs (after the head-only warm-up that --epochs bounds)")
	fs.Float64Var(&ft.LRHead, "ft-lr-head", def.LRHead, "finetune: Adam learning rate of the head while fine-tuning")
	fs.Float64Var(&ft.LRBody, "ft-lr", def.LRBody, "finetune: Adam learning rate of the pretrained layers")
	fs.Float64Var(&ft.Anchor, "ft-anchor", def.Anchor, "finetune: L2 pull of the fine-tuned weights towards the pretrained ones")
	fs.IntVar(&ft.Patience, "ft-patience", def.Patience, "finetune: epochs without a better monitored validation figure before stopping (0 = off)")
	fs.Float64Var(&ft.LabelSmoothing, "ft-label-smoothing", def.LabelSmoothing, "finetune: label smoothing of the fine-tuning targets")
	fs.Float64Var(&ft.Mixup, "ft-mixup", def.Mixup, "finetune: mix each training view with a random other one (activations and targets) by a share drawn from Beta(ALPHA, ALPHA); 0 = off, e.g. 0.2")
	fs.StringVar(&ft.Schedule, "ft-schedule", def.Schedule, "finetune: learning rates over the --ft-epochs bound: constant, or cosine (both rates fall along half a cosine wave to 0 at the last batch)")
	fs.Float64Var(&ft.EMA, "ft-ema", def.EMA, "finetune: validate and keep an exponential moving average of the fine-tuned parameters with this decay per batch instead of the last batch's values; 0 = off, e.g. 0.998")
	fs.StringVar(&ft.Monitor, "ft-monitor", def.Monitor, "finetune: validation figure that picks the epoch: val_loss or val_accuracy")
	fs.StringArrayVar(&f.data.Oversample, "oversample", nil, "finetune: NAME=K lists every training view of source NAME K times per epoch (repeatable), e.g. sxsw=2 to weight the real photos most like a webcam")
}

func runTrain(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "train", "[flags]",
		"rpscam train                                    # fine-tune block_13 .. Conv_1 + head -> models/rps_head.params, models/rps_mobilenetv2.onnx",
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
	j := &f.job
	if err := j.Settle(f.data, fs.Changed); err != nil {
		return err
	}
	j.Began = time.Now()
	if err := j.ListData(f.data); err != nil {
		return err
	}
	var err error
	if j.Backbone, err = model.LoadChosen(model.BackboneChoice{Weights: f.weights, Shared: f.data.Shared}); err != nil {
		return err
	}
	j.Reproduce = train.ReproduceLine(trainFlagValues(fs), map[string]string{"weights": j.Backbone.Source.Weights.Name}, train.RecipeFlags(j.Mode)...)
	j.Command = "rpscam train " + strings.Join(args, " ")
	j.Log, j.Progress = env.stdout, env.stderr
	if j.Mode == "finetune" {
		// Go's default GOGC=100 lets the heap grow to twice the live data
		// before collecting. When fine-tuning held its activations on the
		// heap, 25 brought the block_13 recipe's peak (rerun from its
		// cache, activations then float32) from 15.3 to 10.7 GB at 0% of
		// the CPU by gctrace. They are now read from the mapped cache file
		// (train.Cache), so this bounds only what stays on the heap: the
		// vectors computed since the cache's last save, the index, ONNX
		// Runtime's Go-side buffers. A GOGC the user set wins.
		if os.Getenv("GOGC") == "" {
			defer debug.SetGCPercent(debug.SetGCPercent(25))
		}
		return train.FineTune(*j)
	}
	return train.HeadOnly(*j)
}

// trainFlagValues lists fs's flags in --help order as train.ReproduceLine
// reads them.
func trainFlagValues(fs *pflag.FlagSet) []train.Flag {
	var flags []train.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		values := []string{f.Value.String()}
		if slice, ok := f.Value.(pflag.SliceValue); ok {
			values = slice.GetSlice()
		}
		flags = append(flags, train.Flag{Name: f.Name, Values: values, Bool: f.Value.Type() == "bool", Changed: f.Changed})
	})
	return flags
}
