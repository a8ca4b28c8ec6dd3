package main

import (
	"strconv"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/train"
	"github.com/rpscam/rpscam/train/tail"
)

type fineTuneFlags struct {
	trunk    *string
	tests    *bool
	tune     *string
	epochs   *int
	lrHead   *float64
	lrBody   *float64
	anchor   *float64
	patience *int
	smooth   *float64
	mixup    *float64
	schedule *string
	ema      *float64
	monitor  *string
	over     *[]string
	overBy   map[string]int // parsed --oversample
}

func addFineTuneFlags(fs *pflag.FlagSet) *fineTuneFlags {
	def := train.DefaultFineTune()
	return &fineTuneFlags{
		trunk:    fs.String("trunk", "", "finetune: frozen trunk ONNX, MobileNet-v2 up to the first tuned layer's input, whose 7x7x160 activation is cached per view (built here when missing; default models/mobilenet_v2_trunk[-WEIGHTS][-END].onnx)"),
		tests:    fs.Bool("tests", true, "finetune: score the shared test splits (cgi test, sxsw test, drgfreeman held-out) after training"),
		tune:     fs.String("tune", def.Tune, "finetune: layers trained with the head: conv1 (Conv_1), block16 (block_16 and Conv_1), block15 (block_15 too; its trunk ends at block_14_add, a cache of its own) or block14 (block_14 too; trunk to block_13_project)"),
		epochs:   fs.Int("ft-epochs", def.Epochs, "finetune: maximum fine-tuning epochs (after the head-only warm-up that --epochs bounds)"),
		lrHead:   fs.Float64("ft-lr-head", def.LRHead, "finetune: Adam learning rate of the head while fine-tuning"),
		lrBody:   fs.Float64("ft-lr", def.LRBody, "finetune: Adam learning rate of the pretrained layers"),
		anchor:   fs.Float64("ft-anchor", def.Anchor, "finetune: L2 pull of the fine-tuned weights towards the pretrained ones"),
		patience: fs.Int("ft-patience", def.Patience, "finetune: epochs without a better monitored validation figure before stopping (0 = off)"),
		smooth:   fs.Float64("ft-label-smoothing", def.LabelSmoothing, "finetune: label smoothing of the fine-tuning targets"),
		mixup:    fs.Float64("ft-mixup", def.Mixup, "finetune: mix each training view with a random other one (activations and targets) by a share drawn from Beta(ALPHA, ALPHA); 0 = off, e.g. 0.2"),
		schedule: fs.String("ft-schedule", def.Schedule, "finetune: learning rates over the --ft-epochs bound: constant, or cosine (both rates fall along half a cosine wave to 0 at the last batch)"),
		ema:      fs.Float64("ft-ema", def.EMA, "finetune: validate and keep an exponential moving average of the fine-tuned parameters with this decay per batch instead of the last batch's values; 0 = off, e.g. 0.998"),
		monitor:  fs.String("ft-monitor", def.Monitor, "finetune: validation figure that picks the epoch: val_loss or val_accuracy"),
		over:     fs.StringArray("oversample", nil, "finetune: NAME=K lists every training view of source NAME K times per epoch (repeatable), e.g. sxsw=2 to weight the real photos most like a webcam"),
	}
}

// validate checks the fine-tuning flags before anything is loaded or built.
func (ft *fineTuneFlags) validate() error {
	if _, _, _, err := tail.Tune(*ft.tune); err != nil {
		return usageError{err}
	}
	if *ft.monitor != "val_loss" && *ft.monitor != "val_accuracy" {
		return usagef("--ft-monitor %q: use val_loss or val_accuracy", *ft.monitor)
	}
	if *ft.schedule != "constant" && *ft.schedule != "cosine" {
		return usagef("--ft-schedule %q: use constant or cosine", *ft.schedule)
	}
	if *ft.ema < 0 || *ft.ema >= 1 {
		return usagef("--ft-ema %g: use 0 (off) up to below 1, e.g. 0.998", *ft.ema)
	}
	if *ft.smooth < 0 || *ft.smooth >= 1 {
		return usagef("--ft-label-smoothing %g: use 0 (off) up to below 1, e.g. 0.1", *ft.smooth)
	}
	if *ft.mixup < 0 {
		return usagef("--ft-mixup %g: use 0 (off) or a Beta alpha above 0, e.g. 0.2", *ft.mixup)
	}
	overBy, err := perSourceValues("--oversample", *ft.over, "NAME=K with a source name and a whole K from 1 to 20, e.g. sxsw=2", func(v string) (int, bool) {
		n, err := strconv.Atoi(v)
		return n, err == nil && n >= 1 && n <= 20
	})
	if err != nil {
		return err
	}
	ft.overBy = overBy
	if *ft.epochs < 1 || *ft.lrHead <= 0 || *ft.lrBody < 0 || *ft.anchor < 0 {
		return usagef("--ft-epochs %d, --ft-lr-head %g, --ft-lr %g, --ft-anchor %g: epochs and the head rate must be positive, the others non-negative", *ft.epochs, *ft.lrHead, *ft.lrBody, *ft.anchor)
	}
	return nil
}

func (ft *fineTuneFlags) config() train.FineTuneConfig {
	return train.FineTuneConfig{Tune: *ft.tune, Epochs: *ft.epochs, LRHead: *ft.lrHead, LRBody: *ft.lrBody, Anchor: *ft.anchor, Patience: *ft.patience,
		LabelSmoothing: *ft.smooth, Mixup: *ft.mixup, Schedule: *ft.schedule, EMA: *ft.ema, Monitor: *ft.monitor, Oversample: ft.overBy}
}

// testSets are the shared test splits --tests scores; none for a
// leave-one-source-out check.
func (ft *fineTuneFlags) testSets(shared, leaveOut string) ([]train.TestSet, error) {
	if !*ft.tests || leaveOut != "" {
		return nil, nil
	}
	dir, err := shareddata.Dir(shared)
	if err != nil {
		return nil, err
	}
	return train.DefaultTestSets(dir), nil
}
