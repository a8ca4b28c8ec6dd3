package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/model"
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
	return &fineTuneFlags{
		trunk:    fs.String("trunk", "", "finetune: frozen trunk ONNX, MobileNet-v2 up to the first tuned layer's input, whose 7x7x160 activation is cached per view (built here when missing; default models/mobilenet_v2_trunk[-WEIGHTS][-END].onnx)"),
		tests:    fs.Bool("tests", true, "finetune: score the shared test splits (cgi test, sxsw test, drgfreeman held-out) after training"),
		tune:     fs.String("tune", "block15", "finetune: layers trained with the head: conv1 (Conv_1), block16 (block_16 and Conv_1), block15 (block_15 too; its trunk ends at block_14_add, a cache of its own) or block14 (block_14 too; trunk to block_13_project)"),
		epochs:   fs.Int("ft-epochs", 3, "finetune: maximum fine-tuning epochs (after the head-only warm-up that --epochs bounds)"),
		lrHead:   fs.Float64("ft-lr-head", 2e-4, "finetune: Adam learning rate of the head while fine-tuning"),
		lrBody:   fs.Float64("ft-lr", 1e-4, "finetune: Adam learning rate of the pretrained layers"),
		anchor:   fs.Float64("ft-anchor", 1e-3, "finetune: L2 pull of the fine-tuned weights towards the pretrained ones"),
		patience: fs.Int("ft-patience", 3, "finetune: epochs without a better monitored validation figure before stopping (0 = off)"),
		smooth:   fs.Float64("ft-label-smoothing", 0.1, "finetune: label smoothing of the fine-tuning targets"),
		mixup:    fs.Float64("ft-mixup", 0, "finetune: mix each training view with a random other one (activations and targets) by a share drawn from Beta(ALPHA, ALPHA); 0 = off, e.g. 0.2"),
		schedule: fs.String("ft-schedule", "constant", "finetune: learning rates over the --ft-epochs bound: constant, or cosine (both rates fall along half a cosine wave to 0 at the last batch)"),
		ema:      fs.Float64("ft-ema", 0, "finetune: validate and keep an exponential moving average of the fine-tuned parameters with this decay per batch instead of the last batch's values; 0 = off, e.g. 0.998"),
		monitor:  fs.String("ft-monitor", "val_loss", "finetune: validation figure that picks the epoch: val_loss or val_accuracy"),
		over:     fs.StringArray("oversample", nil, "finetune: NAME=K lists every training view of source NAME K times per epoch (repeatable), e.g. sxsw=2 to weight the real photos most like a webcam"),
	}
}

type fineTuneArgs struct {
	shared                               *string
	seed, splitSeed, augSeed             uint64
	views                                int
	valFrac                              float64
	trainShare                           map[string]float64 // --train-share
	leaveOut, cacheDir, ortLib           string
	threads                              int
	paramsOut, recordOut, onnxOut, curve string
	began                                time.Time
	args                                 []string
	reproduce                            string // the Reproduce line, made from the parsed flags
	fit                                  train.FitConfig
}

// validate checks the fine-tuning flags before anything is loaded or built.
func (ft *fineTuneFlags) validate() error {
	if _, _, _, err := tuneLayers(*ft.tune); err != nil {
		return err
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

func runFineTune(env *cliEnv, ft *fineTuneFlags, b *model.Backbone, srcs []train.Source, a fineTuneArgs) error {
	if err := checkSourceNames("--oversample", sortedKeys(ft.overBy), srcs); err != nil {
		return err
	}
	layers, _, residual, err := tuneLayers(*ft.tune)
	if err != nil {
		return err
	}
	trunkEnd, err := tail.TrunkEnd(b, residual)
	if err != nil {
		return err
	}
	if *ft.trunk == "" {
		*ft.trunk = trunkPath(b.Source.Weights, trunkEnd)
	}
	printFineTuneSummary(env.stdout, b, layers, len(train.Labels)*model.FeatureSize+len(train.Labels), a.fit.Dropout)
	// The trunk: rebuilt whenever it is missing or was cut at another layer.
	trunkMeta := map[string]string{model.MetaBackboneWeights: b.Source.Weights.Name}
	m, err := model.BuildONNX(b, nil, trunkMeta, model.Trunk(trunkEnd))
	if err != nil {
		return usageError{err}
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(*ft.trunk); err != nil || string(old) != string(data) {
		if err := os.MkdirAll(filepath.Dir(*ft.trunk), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(*ft.trunk, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "train: built %s (MobileNet-v2 up to %s) from %s\n", *ft.trunk, trunkEnd, b.Source.File)
	}
	trunkSHA, err := fileSHA256(*ft.trunk)
	if err != nil {
		return err
	}
	runner, err := infer.LoadBatchRunner(*ft.trunk, model.ActivationName, 32, infer.WithThreads(a.threads), infer.WithLibrary(a.ortLib))
	if err != nil {
		return err
	}
	defer runner.Close()
	augCfg := train.DefaultAugment()
	aug, err := train.NewAugmenter(augCfg)
	if err != nil {
		return err
	}
	cache, err := train.OpenActivationCache(a.cacheDir, trunkSHA, augCfg)
	if err != nil {
		return err
	}
	defer cache.Close()
	ex := newExtractor(env, runner, aug, cache, a.augSeed)
	var tests []train.TestSet
	if *ft.tests && a.leaveOut == "" {
		dir, err := sharedDir(*a.shared)
		if err != nil {
			return err
		}
		tests = train.DefaultTestSets(dir)
	}
	cfg := train.Config{Sources: srcs, ValFraction: a.valFrac, Seed: a.seed, SplitSeed: a.splitSeed, Views: a.views, LeaveOut: a.leaveOut, TrainShare: a.trainShare, Fit: a.fit}
	acts, err := train.ExtractActivations(cfg, tests, ex, env.stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "activations: %d training vectors, cache %s (%d entries), %s\n", len(acts.Train.X), cache.Path(), cache.Len(), acts.Time.Round(time.Second))
	return fineTuneFit(env, ft, b, a, acts, trunkEnd, trunkSHA, augCfg)
}

// trunkPath names the trunk ONNX by weights and cut, so that switching
// --tune or --weights does not rebuild one file back and forth.
func trunkPath(w model.Weights, end string) string {
	name := "models/mobilenet_v2_trunk"
	if w != model.WeightsTF2 {
		name += "-" + w.Name
	}
	if end != "block_15_add" {
		name += "-" + end
	}
	return name + ".onnx"
}

// tuneLayers maps --tune to the backbone layers and tail parameters
// trained, and the number of residual blocks the tail computes.
func tuneLayers(tune string) (layers, params []string, residual int, err error) {
	switch tune {
	case "conv1":
		return []string{"Conv_1"}, append(append([]string{}, tail.Conv1Params...), tail.HeadParams...), 0, nil
	case "block16":
		return tail.TailLayers, tail.AllParams, 0, nil
	case "block15":
		return tail.LayersFor(1), tail.Dims{Residual: 1}.ParamNames(), 1, nil
	case "block14":
		return tail.LayersFor(2), tail.Dims{Residual: 2}.ParamNames(), 2, nil
	}
	return nil, nil, 0, usagef("--tune %q: use conv1 (Conv_1 + head), block16 (block_16 + Conv_1 + head), block15 (block_15 too) or block14 (block_14 and block_15 too)", tune)
}

func fineTuneFit(env *cliEnv, ft *fineTuneFlags, b *model.Backbone, a fineTuneArgs, acts *train.Activations, trunkEnd, trunkSHA string, augCfg train.AugmentConfig) error {
	layers, trainable, residual, err := tuneLayers(*ft.tune)
	if err != nil {
		return err
	}
	trainSet := acts.Train.Repeat(ft.overBy)
	p, dims, err := tail.FromBackbone(b, nil, len(train.Labels), residual)
	if err != nil {
		return err
	}
	if got := len(acts.Train.X[0]); got != dims.Size*dims.Size*dims.In {
		return fmt.Errorf("trunk %s gives %d values per view, the tail after %s takes %dx%dx%d: rebuild it (delete the file)", *ft.trunk, got, trunkEnd, dims.Size, dims.Size, dims.In)
	}
	eval, err := tail.NewSession(dims, nil, tail.WithThreads(a.threads))
	if err != nil {
		return err
	}
	defer eval.Close()
	sess, err := tail.NewSession(dims, trainable, tail.WithThreads(a.threads))
	if err != nil {
		return err
	}
	defer sess.Close()
	term := isTerminal(env.stderr)

	// 1. Head-only warm-up on the pretrained tail's pooled features, so that
	// fine-tuning starts from a sensible classifier instead of pushing
	// random-head gradients into the pretrained layers.
	fitStart := time.Now()
	pooledOf := func(name string, fs train.FeatureSet) ([][]float32, error) {
		prog := train.NewProgress(env.stderr, name, len(fs.X), term)
		var out [][]float32
		const chunk = 256
		for s := 0; s < len(fs.X); s += chunk {
			part := fs.X[s:min(s+chunk, len(fs.X))]
			_, pooled, err := tail.PredictPooled(eval, p, part, 64)
			if err != nil {
				return nil, err
			}
			for i := range part {
				out = append(out, pooled[i*dims.Features:(i+1)*dims.Features:(i+1)*dims.Features])
			}
			prog.Update(s + len(part))
		}
		return out, nil
	}
	trainPooled, err := pooledOf("pooled features (training views)", trainSet)
	if err != nil {
		return err
	}
	valPooled, err := pooledOf("pooled features (validation)", acts.Validation)
	if err != nil {
		return err
	}
	head, err := train.NewHead(dims.Features, dims.Classes, a.seed)
	if err != nil {
		return err
	}
	warm := a.fit
	warm.Seed = a.seed
	// The warm-up trains on the pooled features of the same rows, so it
	// takes the same weights (nil: all alike) as the fine-tuning below.
	weights := trainSet.Batch(a.fit.BalanceClasses).Weight
	warmHist, err := train.Fit(head, train.Batch{X: trainPooled, Y: trainSet.Y, Weight: weights}, train.Batch{X: valPooled, Y: acts.Validation.Y}, warm,
		func() float64 { return time.Since(fitStart).Seconds() })
	if err != nil {
		return err
	}
	last := warmHist[len(warmHist)-1]
	wl, wa := head.Evaluate(train.Batch{X: valPooled, Y: acts.Validation.Y})
	if len(acts.Validation.X) > 0 {
		fmt.Fprintf(env.stdout, "head warm-up: %d epochs, val_loss %.4f val_accuracy %.4f\n", last.Epoch, wl, wa)
	} else {
		fmt.Fprintf(env.stdout, "head warm-up: %d epochs, loss %.4f accuracy %.4f (no validation)\n", last.Epoch, last.Loss, last.Accuracy)
	}
	trainPooled, valPooled = nil, nil
	// train.Head.W is [classes][features]; the tail's head is [features][classes].
	for c := 0; c < dims.Classes; c++ {
		for f := 0; f < dims.Features; f++ {
			p[tail.HeadW][f*dims.Classes+c] = head.W[c*dims.Features+f]
		}
	}
	copy(p[tail.HeadB], head.B)
	// The test splits are scored for the log only: the epoch is chosen on
	// validation, never on these.
	testLine := func() {
		if len(acts.TestOrder) == 0 {
			return
		}
		fmt.Fprint(env.stdout, "  (log only, not used for selection) test accuracy:")
		for _, name := range acts.TestOrder {
			fs := acts.Tests[name]
			if probs, err := tail.Predict(eval, p, fs.X, 64); err == nil {
				_, acc := tail.Score(probs, fs.Y, dims.Classes)
				fmt.Fprintf(env.stdout, " %s %.4f", name, acc)
			}
		}
		fmt.Fprintln(env.stdout)
	}
	testLine()

	// 2. Fine-tuning.
	batches := 0
	var prog *train.Progress
	var hist []train.EpochStats
	epochStart := time.Now()
	cfg := tail.FitConfig{Trainable: trainable, Epochs: *ft.epochs, BatchSize: a.fit.BatchSize, LRHead: *ft.lrHead, LRBody: *ft.lrBody,
		Dropout: a.fit.Dropout, WeightDecay: a.fit.WeightDecay, AnchorDecay: *ft.anchor, Patience: *ft.patience, Seed: a.seed,
		LabelSmoothing: *ft.smooth, Mixup: *ft.mixup, Cosine: *ft.schedule == "cosine", EMA: *ft.ema, MonitorAccuracy: *ft.monitor == "val_accuracy",
		OnBatch: func(epoch, batch, n int) {
			if batch == 1 {
				prog = train.NewProgress(env.stderr, fmt.Sprintf("fine-tune epoch %d/%d", epoch, *ft.epochs), n, term)
				batches = n
			}
			prog.Update(batch)
		},
		OnEpoch: func(s tail.Stats) {
			secs := time.Since(epochStart).Seconds()
			epochStart = time.Now()
			best := ""
			if s.Best {
				best = " *"
			}
			fmt.Fprintf(env.stdout, "Epoch %d/%d - %.0fs - loss: %.4f - accuracy: %.4f", s.Epoch, s.Epochs, secs, s.Loss, s.Accuracy)
			if !math.IsNaN(s.ValLoss) {
				fmt.Fprintf(env.stdout, " - val_loss: %.4f - val_accuracy: %.4f%s", s.ValLoss, s.ValAccuracy, best)
			}
			fmt.Fprintln(env.stdout)
			if s.Early {
				fmt.Fprintf(env.stdout, "early stopping: no better val_loss for %d epochs", *ft.patience)
			}
			if s.Restored {
				fmt.Fprintln(env.stdout, "; restored the weights of the best epoch")
			} else if s.Early {
				fmt.Fprintln(env.stdout)
			}
			testLine()
			hist = append(hist, train.EpochStats{Epoch: s.Epoch, Epochs: s.Epochs, Loss: s.Loss, Accuracy: s.Accuracy, ValLoss: s.ValLoss,
				ValAccuracy: s.ValAccuracy, Best: s.Best, Seconds: secs, StoppedEarly: s.Early, Restored: s.Restored})
		}}
	_ = batches
	if _, err := tail.Fit(sess, eval, p, tail.Data{X: trainSet.X, Y: trainSet.Y, Weight: weights}, tail.Data{X: acts.Validation.X, Y: acts.Validation.Y}, cfg); err != nil {
		return err
	}
	fitTime := time.Since(fitStart)

	// 3. Scores.
	scoreSet := func(fs train.FeatureSet) (float64, float64, []float32, error) {
		probs, err := tail.Predict(eval, p, fs.X, 64)
		if err != nil {
			return 0, 0, nil, err
		}
		l, acc := tail.Score(probs, fs.Y, dims.Classes)
		return l, acc, probs, nil
	}
	valLoss, valAcc, valProbs, err := scoreSet(acts.Validation)
	if err != nil {
		return err
	}
	bySrc := map[string]float64{}
	counts := map[string][2]int{}
	for i, ex := range acts.Validation.Examples {
		c := counts[ex.Source]
		c[1]++
		if nn.Argmax(valProbs[i*dims.Classes:(i+1)*dims.Classes]) == acts.Validation.Y[i] {
			c[0]++
		}
		counts[ex.Source] = c
	}
	for s, c := range counts {
		bySrc[s] = float64(c[0]) / float64(c[1])
	}
	val := newRecordVal(valLoss, valAcc, bySrc)
	printValidation(env.stdout, val)
	tests := map[string]recordTest{}
	report := func(name string, fs train.FeatureSet) error {
		_, acc, probs, err := scoreSet(fs)
		if err != nil {
			return err
		}
		rec := recordTest{N: len(fs.Y), Accuracy: acc, Recall: map[string]float64{}}
		for c, label := range train.Labels {
			n, right := 0, 0
			for i, y := range fs.Y {
				if y == c {
					n++
					if nn.Argmax(probs[i*dims.Classes:(i+1)*dims.Classes]) == c {
						right++
					}
				}
			}
			if n > 0 {
				rec.Recall[label] = float64(right) / float64(n)
			}
		}
		tests[strings.TrimPrefix(name, "test ")] = rec
		fmt.Fprintf(env.stdout, "%s: accuracy %.4f on %d images; recall", name, acc, rec.N)
		for _, label := range train.Labels {
			if r, ok := rec.Recall[label]; ok {
				fmt.Fprintf(env.stdout, " %s %.3f", label, r)
			}
		}
		fmt.Fprintln(env.stdout)
		return nil
	}
	for _, name := range acts.TestOrder {
		if err := report("test "+name, acts.Tests[name]); err != nil {
			return err
		}
	}
	if a.leaveOut != "" {
		if err := report("left-out source "+a.leaveOut, acts.LeftOut); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "time: activations %s, fit %s, total %s\n", acts.Time.Round(time.Second), fitTime.Round(time.Second), time.Since(a.began).Round(time.Second))
		fmt.Fprintln(env.stdout, "(--leave-out is a check: no parameters, record or model written)")
		return nil
	}
	fmt.Fprintf(env.stdout, "time: activations %s, fit %s, total %s\n", acts.Time.Round(time.Second), fitTime.Round(time.Second), time.Since(a.began).Round(time.Second))
	if a.curve != "" {
		if err := os.MkdirAll(filepath.Dir(a.curve), 0o755); err != nil {
			return err
		}
		if err := train.WriteCurvePNG(a.curve, hist); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "training curve: %s\n", a.curve)
	}

	// 4. Parameters, record, model.
	headW, headB, tuned, err := tail.ToModel(p, dims, layers...)
	if err != nil {
		return err
	}
	date := time.Now().UTC().Format(time.RFC3339)
	var srcDesc []string
	for _, s := range acts.Splits.Sources {
		srcDesc = append(srcDesc, fmt.Sprintf("%s:%d", s.Name, s.Train+s.Validation))
	}
	recipe := fmt.Sprintf("finetune %s: %shead warm-up (dropout %g, Adam lr %g), then %s + head, Adam lr %g (layers) / %g (head), anchor L2 %g, label smoothing %g, %s%s%s%sbest %s, %d views/image, batch %d, seed %d",
		*ft.tune, oversampleText(ft.overBy, "", ", ", " oversampled; "), a.fit.Dropout, a.fit.LearningRate, strings.Join(layers, "+"), *ft.lrBody, *ft.lrHead, *ft.anchor, *ft.smooth, unlessZero(*ft.mixup, "mixup Beta(%g), "), ifOn(*ft.schedule != "constant", *ft.schedule+" learning-rate schedule, "), unlessZero(*ft.ema, "parameter EMA %g, "), ifOn(a.fit.BalanceClasses, "class-balanced loss, "), *ft.monitor, a.views, a.fit.BatchSize, a.seed)
	meta := map[string]string{
		model.MetaBackboneWeights: b.Source.Weights.Name,
		"training_date":           date,
		"training_data":           strings.Join(srcDesc, ","),
		"training_recipe":         recipe,
	}
	val.addMeta(meta)
	params := &model.Params{Labels: train.Labels, HeadW: headW, HeadB: headB, Layers: tuned, Meta: meta}
	// Float16 layer weights keep the committed file small (Conv_1 is 409,600
	// weights); the round trip changes each weight by at most 2^-11 relative.
	if err := model.WriteParams(a.paramsOut, params, model.Float16Layers()); err != nil {
		return err
	}
	if params, err = model.ReadParams(a.paramsOut); err != nil {
		return err
	}
	paramsSHA, err := fileSHA256(a.paramsOut)
	if err != nil {
		return err
	}
	tunedCount := 0
	for _, lp := range tuned {
		tunedCount += len(lp.Weights) + len(lp.Bias)
	}
	headParams := len(headW) + len(headB)
	frozen := b.ParamCount() - tunedCount
	rec := trainingRecord{
		Date: date, Mode: "finetune", Seed: a.seed, SplitSeed: a.splitSeed, AugSeed: a.augSeed, Views: a.views, ValFraction: a.valFrac,
		Fit: recordFit{Epochs: a.fit.Epochs, BatchSize: a.fit.BatchSize, LearningRate: a.fit.LearningRate, Dropout: a.fit.Dropout, WeightDecay: a.fit.WeightDecay, Patience: a.fit.Patience, BalanceClasses: a.fit.BalanceClasses},
		FineTune: &recordFineTune{Tune: *ft.tune, Layers: layers, TrunkEnd: trunkEnd, TrunkSHA256: trunkSHA, Epochs: *ft.epochs, LRHead: *ft.lrHead, LRLayers: *ft.lrBody,
			Anchor: *ft.anchor, Patience: *ft.patience, LabelSmoothing: *ft.smooth, Mixup: *ft.mixup, Schedule: *ft.schedule, EMA: *ft.ema, Monitor: *ft.monitor, Oversample: ft.overBy, WarmUp: warmHist, ParamsEncoding: "fine-tuned layer weights float16, head and biases float32"},
		Augment: augCfg, Sources: acts.Splits.Sources, HoldOutPercent: train.HoldOutPercent,
		Backbone:       recordBackbone{File: b.Source.File, SHA256: b.Source.SHA256, Weights: b.Source.Weights.Name},
		Summary:        recordSummary{Total: b.ParamCount() + headParams, Trainable: tunedCount + headParams, Frozen: frozen},
		History:        hist,
		Validation:     val,
		Tests:          tests,
		TrainVectors:   len(acts.Train.X),
		Seconds:        recordTimes{Features: acts.Time.Seconds(), Fit: fitTime.Seconds(), Total: time.Since(a.began).Seconds()},
		Params:         recordParams{Path: a.paramsOut, SHA256: paramsSHA},
		Reproduce:      a.reproduce,
		Tolerance:      "a rerun from the same activation cache repeats the parameters exactly, and so does a first run on this machine (the cache rounds activations to float16 before they are used); activations computed on another CPU or ONNX Runtime build differ in their last bits, which moves the parameters: expect accuracies within about 1 point (the measurement is under Reproduce in models/README.md)",
		GoVersion:      runtime.Version(),
		Host:           fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		Command:        "rpscam train " + strings.Join(a.args, " "),
		SharedLicenses: train.DataLicenses,
	}
	if err := writeJSON(a.recordOut, rec); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s (sha256 %s…) and %s\n", a.paramsOut, paramsSHA[:12], a.recordOut)
	if a.onnxOut != "" {
		m, err := model.BuildONNX(b, params, nil)
		if err != nil {
			return err
		}
		if err := writeModel(a.onnxOut, m); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "wrote %s: measure it with rpscam eval --data ../shared/data/rps-cgi/test\n", a.onnxOut)
	}
	return nil
}

// printFineTuneSummary prints the model summary with the fine-tuned layers
// counted as trainable.
func printFineTuneSummary(w io.Writer, b *model.Backbone, layers []string, head int, dropout float64) {
	tuned := 0
	for _, name := range layers {
		tuned += b.Layers[b.LayerIndex(name)].ParamCount()
	}
	frozen := b.ParamCount() - tuned
	fmt.Fprintf(w, "Model: \"rps_mobilenetv2\" (fine-tuned)\n%s\n%-42s %-16s %12s\n%s\n", strings.Repeat("_", 72), "Layer (type)", "Output Shape", "Param #", strings.Repeat("=", 72))
	fmt.Fprintf(w, "%-42s %-16s %12s\n", "mobilenet_v2 trunk (frozen)", "", commas(frozen))
	for _, name := range layers {
		l := b.Layers[b.LayerIndex(name)]
		fmt.Fprintf(w, "%-42s %-16s %12s\n", fmt.Sprintf("%s (%s, trainable)", name, l.Kind), fmt.Sprintf("(None, %d, %d, %d)", l.OutSize, l.OutSize, l.OutChannels), commas(l.ParamCount()))
	}
	fmt.Fprintf(w, "%-42s %-16s %12s\n", "global_average_pooling2d", "(None, 1280)", "0")
	fmt.Fprintf(w, "%-42s %-16s %12s\n", fmt.Sprintf("dropout (Dropout %.2g)", dropout), "(None, 1280)", "0")
	fmt.Fprintf(w, "%-42s %-16s %12s\n", "dense (Dense, softmax)", fmt.Sprintf("(None, %d)", len(train.Labels)), commas(head))
	fmt.Fprintf(w, "%s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s\n", strings.Repeat("=", 72),
		commas(frozen+tuned+head), commas(tuned+head), commas(frozen), strings.Repeat("_", 72))
}

// unlessZero formats an option that 0 turns off (mixup's alpha, the EMA
// decay) with format, or gives "" when it is off, so that records of
// recipes without it read as before.
func unlessZero(value float64, format string) string {
	if value == 0 {
		return ""
	}
	return fmt.Sprintf(format, value)
}

type recordFineTune struct {
	Tune           string             `json:"tune"`
	Layers         []string           `json:"layers"`
	TrunkEnd       string             `json:"trunk_end"`
	TrunkSHA256    string             `json:"trunk_onnx_sha256"`
	Epochs         int                `json:"max_epochs"`
	LRHead         float64            `json:"learning_rate_head"`
	LRLayers       float64            `json:"learning_rate_layers"`
	Anchor         float64            `json:"anchor_l2"`
	Patience       int                `json:"patience"`
	LabelSmoothing float64            `json:"label_smoothing"`
	Mixup          float64            `json:"mixup_alpha,omitempty"`
	Schedule       string             `json:"lr_schedule"`
	EMA            float64            `json:"ema_decay,omitempty"`
	Monitor        string             `json:"monitor"`
	Oversample     map[string]int     `json:"oversample,omitempty"`
	WarmUp         []train.EpochStats `json:"head_warmup_history"`
	ParamsEncoding string             `json:"params_encoding"`
}

type recordTest struct {
	N        int                `json:"n"`
	Accuracy float64            `json:"accuracy"`
	Recall   map[string]float64 `json:"recall"`
}

// oversampleText is the --oversample settings as "name=k" items, sorted,
// each after prefix, separated by sep and followed by suffix; "" when there
// are none.
func oversampleText(by map[string]int, prefix, sep, suffix string) string {
	if len(by) == 0 {
		return ""
	}
	var items []string
	for _, name := range sortedKeys(by) {
		items = append(items, fmt.Sprintf("%s%s=%d", prefix, name, by[name]))
	}
	return strings.Join(items, sep) + suffix
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
