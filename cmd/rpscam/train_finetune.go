package main

import (
	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/train"
)

// addFineTuneFlags binds the fine-tuning flags into the job's FineTune
// recipe and the data request.
func (f *trainFlags) addFineTuneFlags(fs *pflag.FlagSet) {
	def, ft := train.DefaultFineTune(), &f.job.FineTune
	fs.StringVar(&f.job.TrunkPath, "trunk", "", "finetune: frozen trunk ONNX, MobileNet-v2 up to the first tuned layer's input, whose 7x7x160 activation is cached per view (built here when missing; default models/mobilenet_v2_trunk[-WEIGHTS][-END].onnx)")
	fs.BoolVar(&f.data.Tests, "tests", true, "finetune: score the shared test splits (cgi test, sxsw test, drgfreeman held-out) after training")
	fs.StringVar(&ft.Tune, "tune", def.Tune, "finetune: layers trained with the head: conv1 (Conv_1), block16 (block_16 and Conv_1), block15 (block_15 too; its trunk ends at block_14_add, a cache of its own) or block14 (block_14 too; trunk to block_13_project)")
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
