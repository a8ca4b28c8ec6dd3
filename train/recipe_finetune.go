package train

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/model"
	"github.com/rpscam/rpscam/train/tail"
)

// FineTune runs the fine-tuning recipe: the trunk's activations, cached;
// a head warm-up on the pretrained tail's pooled features; then the tuned
// layers and the head together (tail.Fit). It writes the params (tuned
// layer weights as float16), record, model and curve; a run with LeaveOut
// set is a check and writes none of them.
func FineTune(j Job) error {
	ft := j.FineTune
	layers, trainable, blocks, err := tail.Tune(ft.Tune)
	if err != nil {
		return err
	}
	b := j.Backbone
	trunkEnd, err := tail.TrunkEnd(b, blocks)
	if err != nil {
		return err
	}
	if j.TrunkPath == "" {
		j.TrunkPath = trunkPath(b.Source.Weights, trunkEnd)
	}
	printFineTuneSummary(j.Log, b, layers, len(Labels)*model.FeatureSize+len(Labels), j.Fit.Dropout)
	trunkSHA, err := j.buildTrunk(trunkEnd)
	if err != nil {
		return err
	}
	var cache *Cache
	ex, augCfg, done, err := j.extractor(j.TrunkPath, model.ActivationName, func(aug AugmentConfig) (VectorCache, error) {
		cache, err = openActivationCache(j.CacheDir, trunkSHA, aug)
		return cache, err
	})
	if err != nil {
		return err
	}
	defer done()
	defer cache.Close()
	ex.Half = true
	perView, err := tail.InputLen(b, blocks)
	if err != nil {
		return err
	}
	acts, err := extractActivations(j.Config, j.Tests, ex, perView, availableMemory(), j.Log)
	if err != nil {
		return err
	}
	fmt.Fprintf(j.Log, "activations: %d training vectors, cache %s (%d entries), %s\n", acts.Train.Len(), cache.Path(), cache.Len(), acts.Time.Round(time.Second))
	r := &fineTuneRun{Job: j, acts: acts, layers: layers, trainable: trainable, trunkEnd: trunkEnd, trunkSHA: trunkSHA, augCfg: augCfg}
	return r.fit(blocks)
}

// buildTrunk writes the trunk ONNX when it is missing or was cut at
// another layer, and returns its sha256.
func (j *Job) buildTrunk(trunkEnd string) (string, error) {
	b := j.Backbone
	m, err := model.BuildONNX(b, nil, map[string]string{model.MetaBackboneWeights: b.Source.Weights.Name}, model.Trunk(trunkEnd))
	if err != nil {
		return "", &RecipeError{err}
	}
	data, err := m.Marshal()
	if err != nil {
		return "", err
	}
	if old, err := os.ReadFile(j.TrunkPath); err != nil || string(old) != string(data) {
		if err := os.MkdirAll(filepath.Dir(j.TrunkPath), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(j.TrunkPath, data, 0o644); err != nil {
			return "", err
		}
		fmt.Fprintf(j.Progress, "train: built %s (MobileNet-v2 up to %s) from %s\n", j.TrunkPath, trunkEnd, b.Source.File)
	}
	return model.FileSHA256(j.TrunkPath)
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

// fineTuneRun is one FineTune after the activations: the tail's
// parameters and sessions, and what the record needs.
type fineTuneRun struct {
	Job
	acts              *activations
	layers, trainable []string
	trunkEnd          string
	trunkSHA          string
	augCfg            AugmentConfig
	dims              tail.Dims
	p                 tail.Params
	eval, sess        *tail.Session
	trainSet          FeatureSet
	weights           []float32 // per training row; nil: all alike
	warmHist, hist    []EpochStats
	term              bool
}

func (r *fineTuneRun) fit(blocks int) error {
	r.trainSet = r.acts.Train.Repeat(r.FineTune.Oversample)
	var err error
	if r.p, r.dims, err = tail.FromBackbone(r.Backbone, nil, len(Labels), blocks); err != nil {
		return err
	}
	if got := r.acts.Train.Rows().RowLen(0); got != r.dims.InputLen() {
		side := r.dims.InputSide()
		return fmt.Errorf("trunk %s gives %d values per view, the tail after %s takes %dx%dx%d: rebuild it (delete the file)", r.TrunkPath, got, r.trunkEnd, side, side, r.dims.InputChannels())
	}
	if r.eval, err = tail.NewSession(r.dims, nil, tail.WithThreads(r.Threads)); err != nil {
		return err
	}
	defer r.eval.Close()
	if r.sess, err = tail.NewSession(r.dims, r.trainable, tail.WithThreads(r.Threads)); err != nil {
		return err
	}
	defer r.sess.Close()
	r.term = term.IsTerminal(r.Progress)
	fitStart := time.Now()
	if err := r.warmUp(fitStart); err != nil {
		return err
	}
	r.testLine()
	if err := r.tune(); err != nil {
		return err
	}
	fitTime := time.Since(fitStart)
	val, tests, err := r.score()
	if err != nil {
		return err
	}
	if r.LeaveOut != "" {
		if _, err := r.report("left-out source "+r.LeaveOut, r.acts.LeftOut); err != nil {
			return err
		}
		r.printTimes("activations", r.acts.Time, fitTime, time.Second)
		fmt.Fprintln(r.Log, "(--leave-out is a check: no parameters, record or model written)")
		return nil
	}
	r.printTimes("activations", r.acts.Time, fitTime, time.Second)
	if err := r.writeCurve(r.hist); err != nil {
		return err
	}
	return r.write(val, tests, fitTime)
}

// warmUp fits the head alone on the pretrained tail's pooled features, so
// that fine-tuning starts from a sensible classifier instead of pushing
// random-head gradients into the pretrained layers, and puts it into the
// tail's parameters.
func (r *fineTuneRun) warmUp(fitStart time.Time) error {
	trainPooled, err := r.pooled("pooled features (training views)", r.trainSet)
	if err != nil {
		return err
	}
	valPooled, err := r.pooled("pooled features (validation)", r.acts.Validation)
	if err != nil {
		return err
	}
	head, err := NewHead(r.dims.Features, r.dims.Classes, r.Seed)
	if err != nil {
		return err
	}
	warm := r.Fit
	warm.Seed = r.Seed
	// The warm-up trains on the pooled features of the same rows, so it
	// takes the same weights (nil: all alike) as the fine-tuning after it.
	r.weights = r.trainSet.Batch(r.Fit.BalanceClasses).Weight
	valSet := Batch{X: valPooled, Y: r.acts.Validation.Y}
	r.warmHist, err = Fit(head, Batch{X: trainPooled, Y: r.trainSet.Y, Weight: r.weights}, valSet, warm,
		func() float64 { return time.Since(fitStart).Seconds() })
	if err != nil {
		return err
	}
	last := r.warmHist[len(r.warmHist)-1]
	wl, wa := head.Evaluate(valSet)
	if r.acts.Validation.Len() > 0 {
		fmt.Fprintf(r.Log, "head warm-up: %d epochs, val_loss %.4f val_accuracy %.4f\n", last.Epoch, wl, wa)
	} else {
		fmt.Fprintf(r.Log, "head warm-up: %d epochs, loss %.4f accuracy %.4f (no validation)\n", last.Epoch, last.Loss, last.Accuracy)
	}
	// Head.W is [classes][features]; the tail's head is [features][classes].
	d := r.dims
	for c := 0; c < d.Classes; c++ {
		for f := 0; f < d.Features; f++ {
			r.p[tail.HeadW][f*d.Classes+c] = head.W[c*d.Features+f]
		}
	}
	copy(r.p[tail.HeadB], head.B)
	return nil
}

// pooled is the pretrained tail's pooled features of a set.
func (r *fineTuneRun) pooled(name string, fs FeatureSet) ([][]float32, error) {
	prog := NewProgress(r.Progress, name, fs.Len(), r.term)
	var out [][]float32
	const chunk = 256
	n := r.dims.Features
	for s := 0; s < fs.Len(); s += chunk {
		part := fs.Slice(s, min(s+chunk, fs.Len()))
		_, pooled, err := tail.PredictPooled(r.eval, r.p, part.Rows(), 64)
		if err != nil {
			return nil, err
		}
		for i := range part.Len() {
			out = append(out, pooled[i*n:(i+1)*n:(i+1)*n])
		}
		prog.Update(s + part.Len())
	}
	return out, nil
}

// testLine scores the test splits for the log only: the epoch is chosen
// on validation, never on these.
func (r *fineTuneRun) testLine() {
	if len(r.acts.TestOrder) == 0 {
		return
	}
	fmt.Fprint(r.Log, "  (log only, not used for selection) test accuracy:")
	for _, name := range r.acts.TestOrder {
		fs := r.acts.Tests[name]
		if probs, err := tail.Predict(r.eval, r.p, fs.Rows(), 64); err == nil {
			_, acc := tail.Score(probs, fs.Y, r.dims.Classes)
			fmt.Fprintf(r.Log, " %s %.4f", name, acc)
		}
	}
	fmt.Fprintln(r.Log)
}

// tune trains the tuned layers and the head together.
func (r *fineTuneRun) tune() error {
	ft := r.FineTune
	var prog *Progress
	epochStart := time.Now()
	cfg := tail.FitConfig{Trainable: r.trainable, Epochs: ft.Epochs, BatchSize: r.Fit.BatchSize, LRHead: ft.LRHead, LRBody: ft.LRBody,
		Dropout: r.Fit.Dropout, WeightDecay: r.Fit.WeightDecay, AnchorDecay: ft.Anchor, Patience: ft.Patience, Seed: r.Seed,
		LabelSmoothing: ft.LabelSmoothing, Mixup: ft.Mixup, Cosine: ft.Schedule == "cosine", EMA: ft.EMA, MonitorAccuracy: ft.Monitor == "val_accuracy",
		OnBatch: func(epoch, batch, n int) {
			if batch == 1 {
				prog = NewProgress(r.Progress, fmt.Sprintf("fine-tune epoch %d/%d", epoch, ft.Epochs), n, r.term)
			}
			prog.Update(batch)
		},
		OnEpoch: func(s tail.Stats) {
			secs := time.Since(epochStart).Seconds()
			epochStart = time.Now()
			r.printEpoch(s, secs)
			r.testLine()
			r.hist = append(r.hist, EpochStats{Epoch: s.Epoch, Epochs: s.Epochs, Loss: s.Loss, Accuracy: s.Accuracy, ValLoss: s.ValLoss,
				ValAccuracy: s.ValAccuracy, Best: s.Best, Seconds: secs, StoppedEarly: s.Early, Restored: s.Restored})
		}}
	_, err := tail.Fit(r.sess, r.eval, r.p, tail.Data{X: r.trainSet.Rows(), Y: r.trainSet.Y, Weight: r.weights}, tail.Data{X: r.acts.Validation.Rows(), Y: r.acts.Validation.Y}, cfg)
	return err
}

// printEpoch is a fine-tuning epoch's Keras-like log line.
func (r *fineTuneRun) printEpoch(s tail.Stats, secs float64) {
	best := ""
	if s.Best {
		best = " *"
	}
	fmt.Fprintf(r.Log, "Epoch %d/%d - %.0fs - loss: %.4f - accuracy: %.4f", s.Epoch, s.Epochs, secs, s.Loss, s.Accuracy)
	if !math.IsNaN(s.ValLoss) {
		fmt.Fprintf(r.Log, " - val_loss: %.4f - val_accuracy: %.4f%s", s.ValLoss, s.ValAccuracy, best)
	}
	fmt.Fprintln(r.Log)
	if s.Early {
		fmt.Fprintf(r.Log, "early stopping: no better val_loss for %d epochs", r.FineTune.Patience)
	}
	if s.Restored {
		fmt.Fprintln(r.Log, "; restored the weights of the best epoch")
	} else if s.Early {
		fmt.Fprintln(r.Log)
	}
}

// predict scores a set with the trained tail.
func (r *fineTuneRun) predict(fs FeatureSet) (loss, acc float64, probs []float32, err error) {
	probs, err = tail.Predict(r.eval, r.p, fs.Rows(), 64)
	if err != nil {
		return 0, 0, nil, err
	}
	loss, acc = tail.Score(probs, fs.Y, r.dims.Classes)
	return loss, acc, probs, nil
}

// score prints and returns the validation figures and the test splits'.
func (r *fineTuneRun) score() (*recordVal, map[string]recordTest, error) {
	valLoss, valAcc, valProbs, err := r.predict(r.acts.Validation)
	if err != nil {
		return nil, nil, err
	}
	k := r.dims.Classes
	counts := map[string][2]int{}
	for i, ex := range r.acts.Validation.Examples {
		c := counts[ex.Source]
		c[1]++
		if nn.Argmax(valProbs[i*k:(i+1)*k]) == r.acts.Validation.Y[i] {
			c[0]++
		}
		counts[ex.Source] = c
	}
	bySrc := map[string]float64{}
	for s, c := range counts {
		bySrc[s] = float64(c[0]) / float64(c[1])
	}
	val := newRecordVal(valLoss, valAcc, bySrc)
	printValidation(r.Log, val)
	tests := map[string]recordTest{}
	for _, name := range r.acts.TestOrder {
		rec, err := r.report("test "+name, r.acts.Tests[name])
		if err != nil {
			return nil, nil, err
		}
		tests[name] = rec
	}
	return val, tests, nil
}

// report prints a set's accuracy and per-class recall.
func (r *fineTuneRun) report(name string, fs FeatureSet) (recordTest, error) {
	_, acc, probs, err := r.predict(fs)
	if err != nil {
		return recordTest{}, err
	}
	k := r.dims.Classes
	rec := recordTest{N: len(fs.Y), Accuracy: acc, Recall: map[string]float64{}}
	for c, label := range Labels {
		n, right := 0, 0
		for i, y := range fs.Y {
			if y == c {
				n++
				if nn.Argmax(probs[i*k:(i+1)*k]) == c {
					right++
				}
			}
		}
		if n > 0 {
			rec.Recall[label] = float64(right) / float64(n)
		}
	}
	fmt.Fprintf(r.Log, "%s: accuracy %.4f on %d images; recall", name, acc, rec.N)
	for _, label := range Labels {
		if v, ok := rec.Recall[label]; ok {
			fmt.Fprintf(r.Log, " %s %.3f", label, v)
		}
	}
	fmt.Fprintln(r.Log)
	return rec, nil
}

// write writes the params, record and model.
func (r *fineTuneRun) write(val *recordVal, tests map[string]recordTest, fitTime time.Duration) error {
	b, ft := r.Backbone, r.FineTune
	headW, headB, tuned, err := tail.ToModel(r.p, r.dims, r.layers...)
	if err != nil {
		return err
	}
	date := time.Now().UTC().Format(time.RFC3339)
	recipe := fmt.Sprintf("finetune %s: %shead warm-up (dropout %g, Adam lr %g), then %s + head, Adam lr %g (layers) / %g (head), anchor L2 %g, label smoothing %g, %s%s%s%sbest %s, %d views/image, batch %d, seed %d",
		ft.Tune, oversampleText(ft.Oversample, "", ", ", " oversampled; "), r.Fit.Dropout, r.Fit.LearningRate, strings.Join(r.layers, "+"), ft.LRBody, ft.LRHead, ft.Anchor, ft.LabelSmoothing, unlessZero(ft.Mixup, "mixup Beta(%g), "), ifOn(ft.Schedule != "constant", ft.Schedule+" learning-rate schedule, "), unlessZero(ft.EMA, "parameter EMA %g, "), ifOn(r.Fit.BalanceClasses, "class-balanced loss, "), ft.Monitor, r.Views, r.Fit.BatchSize, r.Seed)
	params := &model.Params{Labels: labelList(), HeadW: headW, HeadB: headB, Layers: tuned, Meta: modelMeta(b, date, r.acts.Splits.Sources, recipe, val)}
	// Float16 layer weights keep the committed file small (Conv_1 is 409,600
	// weights); the round trip changes each weight by at most 2^-11 relative.
	if err := model.WriteParams(r.Out.Params, params, model.Float16Layers()); err != nil {
		return err
	}
	if params, err = model.ReadParams(r.Out.Params); err != nil {
		return err
	}
	paramsSHA, err := model.FileSHA256(r.Out.Params)
	if err != nil {
		return err
	}
	tunedCount := 0
	for _, lp := range tuned {
		tunedCount += len(lp.Weights) + len(lp.Bias)
	}
	headParams := len(headW) + len(headB)
	rec := r.newRecord(date)
	rec.FineTune = &recordFineTune{Tune: ft.Tune, Layers: r.layers, TrunkEnd: r.trunkEnd, TrunkSHA256: r.trunkSHA, Epochs: ft.Epochs, LRHead: ft.LRHead, LRLayers: ft.LRBody,
		Anchor: ft.Anchor, Patience: ft.Patience, LabelSmoothing: ft.LabelSmoothing, Mixup: ft.Mixup, Schedule: ft.Schedule, EMA: ft.EMA, Monitor: ft.Monitor, Oversample: ft.Oversample, WarmUp: r.warmHist, ParamsEncoding: "fine-tuned layer weights float16, head and biases float32"}
	rec.Augment, rec.Sources = r.augCfg, r.acts.Splits.Sources
	rec.Summary = recordSummary{Total: b.ParamCount() + headParams, Trainable: tunedCount + headParams, Frozen: b.ParamCount() - tunedCount}
	rec.History, rec.Validation, rec.Tests, rec.TrainVectors = r.hist, val, tests, r.acts.Train.Len()
	rec.Seconds = recordTimes{Features: r.acts.Time.Seconds(), Fit: fitTime.Seconds(), Total: time.Since(r.Began).Seconds()}
	rec.Params = recordParams{Path: r.Out.Params, SHA256: paramsSHA, WeightsSHA256: params.WeightsSHA256()}
	rec.Tolerance = "a rerun from the same activation cache repeats the parameters exactly, and so does a first run on this machine (the cache rounds activations to float16 before they are used); activations computed on another CPU or ONNX Runtime build differ in their last bits, which moves the parameters: expect accuracies within about 1 point (the measurement is under Reproduce in models/README.md)"
	return r.writeOutputs(rec, params)
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
	fmt.Fprintf(w, "%-42s %-16s %12s\n", "dense (Dense, softmax)", fmt.Sprintf("(None, %d)", len(Labels)), commas(head))
	fmt.Fprintf(w, "%s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s\n", strings.Repeat("=", 72),
		commas(frozen+tuned+head), commas(tuned+head), commas(frozen), strings.Repeat("_", 72))
}
