package teach

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/model"
	"github.com/rpscam/rpscam/train"
)

// Defaults of Config's zero fields.
const (
	DefaultMinPerClass = 10
	DefaultHoldOut     = 0.2
	DefaultEpochs      = 40
	DefaultGeneral     = 120
	featureBatch       = 16
	userSource         = "user"
)

// withDefaults fills cfg's zero fields and checks the paths it names.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Base == "" {
		return cfg, errors.New("teach: no base model given: pass the shipped model, e.g. models/rps_mobilenetv2.onnx")
	}
	if _, err := os.Stat(cfg.Base); err != nil {
		return cfg, fmt.Errorf("teach: base model: %w (run scripts/setup.sh, or pass the model to start from)", unwrapPath(err))
	}
	if cfg.Params == "" {
		cfg.Params = filepath.Join(filepath.Dir(cfg.Base), "rps_head.params")
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(filepath.Dir(cfg.Base), "cache")
	}
	if cfg.MinPerClass <= 0 {
		cfg.MinPerClass = DefaultMinPerClass
	}
	switch {
	case cfg.HoldOut == 0:
		cfg.HoldOut = DefaultHoldOut
	case cfg.HoldOut < 0:
		cfg.HoldOut = 0
	case cfg.HoldOut >= 1:
		return cfg, fmt.Errorf("teach: hold-out share %g: want less than 1 (e.g. 0.2)", cfg.HoldOut)
	}
	if cfg.Epochs <= 0 {
		cfg.Epochs = DefaultEpochs
	}
	if !(cfg.Anchor >= 0 && cfg.Anchor <= 10) { // NaN too
		return cfg, fmt.Errorf("teach: anchor %g: want 0 (off) up to 10, e.g. 0.01", cfg.Anchor)
	}
	if cfg.General == 0 {
		cfg.General = DefaultGeneral
	}
	lib, err := ort.FindLibrary(cfg.Library)
	if err != nil {
		return cfg, err
	}
	cfg.Library = lib
	if len(cfg.Classes) == 0 {
		if cfg.Classes, err = modelLabels(cfg.Base, cfg.Library); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// Train fits a new head on the samples (their newest cfg.HoldOut of each
// class held out), mixed with the general training data, and writes the
// taught model to cfg.Out. progress (may be nil) is called from the calling
// goroutine. Cancelling ctx stops it between batches; nothing is written
// then, and a failed write leaves any earlier cfg.Out in place.
func Train(ctx context.Context, cfg Config, progress func(Progress)) (*Result, error) {
	start := time.Now()
	if cfg.Out == "" {
		return nil, errors.New("teach: no output model given: pass where the taught model goes, e.g. --out models/taught.onnx")
	}
	if filepath.Clean(cfg.Out) == filepath.Clean(cfg.Base) {
		return nil, fmt.Errorf("teach: the taught model would replace the base model %s: write it elsewhere (e.g. models/taught.onnx)", cfg.Base)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &run{ctx: ctx, cfg: cfg, progress: progress, start: start}
	return r.train()
}

// Prepare computes and caches the general data's features that Train mixes
// in (cfg's Base, Shared, CacheDir and General; the classes default to the
// base model's labels), so that the first Train after setup takes seconds.
// It returns how many were computed now (0: all were cached).
func Prepare(ctx context.Context, cfg Config, progress func(Progress)) (computed int, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return 0, err
	}
	r := &run{ctx: ctx, cfg: cfg, progress: progress, start: time.Now()}
	general, err := r.generalExamples()
	if err != nil {
		return 0, err
	}
	if _, err := r.features(general, nil, nil, nil); err != nil {
		return 0, err
	}
	return r.generalComputed, nil
}

// run is one Train call.
type run struct {
	ctx      context.Context
	cfg      Config
	progress func(Progress)
	start    time.Time
	params   *model.Params
	res      Result
	// generalComputed counts the general features computed (not cached).
	generalComputed int
}

func (r *run) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, format+"\n", args...)
	}
}

func (r *run) report(stage string, done, total int, began time.Time) {
	if r.progress == nil {
		return
	}
	p := Progress{Stage: stage, Done: done, Total: total, Elapsed: time.Since(began)}
	if done > 0 && done < total {
		p.ETA = time.Duration(float64(p.Elapsed) / float64(done) * float64(total-done))
	}
	r.progress(p)
}

func (r *run) train() (*Result, error) {
	cfg := r.cfg
	s, err := OpenSamples(cfg.Samples, cfg.Classes)
	if err != nil {
		return nil, err
	}
	lists, err := s.list()
	if err != nil {
		return nil, err
	}
	for _, c := range cfg.Classes {
		if n := len(lists[c]); n < cfg.MinPerClass {
			return nil, &SamplesError{Class: c, Have: n, Need: cfg.MinPerClass}
		}
	}
	if r.params, err = r.baseParams(); err != nil {
		return nil, err
	}
	trainEx, heldEx := r.split(lists)
	testEx, err := r.testExamples()
	if err != nil {
		return nil, err
	}
	general, err := r.generalExamples()
	if err != nil {
		return nil, err
	}
	feats, err := r.features(general, trainEx, heldEx, testEx)
	if err != nil {
		return nil, err
	}
	head, err := r.fit(feats.general, feats.train)
	if err != nil {
		return nil, err
	}
	r.score(head, feats, lists)
	if err := r.export(head); err != nil {
		return nil, err
	}
	r.res.Took = time.Since(r.start)
	return &r.res, nil
}

// baseParams reads the base model's parameters and checks they are the
// base model's: the same labels and head width.
func (r *run) baseParams() (*model.Params, error) {
	p, err := model.ReadParams(r.cfg.Params)
	if err != nil {
		return nil, fmt.Errorf("teach: the base model's parameters %s: %w (they are committed as models/rps_head.params; pass --params for another base)", r.cfg.Params, unwrapPath(err))
	}
	if p.Features() != model.FeatureSize {
		return nil, fmt.Errorf("teach: %s has a %d-wide head, the backbone's features are %d wide", r.cfg.Params, p.Features(), model.FeatureSize)
	}
	labels, err := modelLabels(r.cfg.Base, r.cfg.Library)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(labels, p.Labels) {
		return nil, fmt.Errorf("teach: %s has labels %s but the base model %s has %s: pass the parameters the base model was exported from (--params)",
			r.cfg.Params, strings.Join(p.Labels, ","), r.cfg.Base, strings.Join(labels, ","))
	}
	return p, nil
}

// split holds out each class's newest samples as one block of consecutive
// frames: neighbouring frames are near-copies, so a random pick would score
// the model on frames it has all but seen.
func (r *run) split(lists map[string][]string) (trainEx, heldEx []train.Example) {
	for ci, c := range r.cfg.Classes {
		paths := lists[c]
		held := int(math.Ceil(float64(len(paths)) * r.cfg.HoldOut))
		for i, p := range paths {
			ex := train.Example{Path: p, Class: ci, Source: userSource}
			if i >= len(paths)-held {
				heldEx = append(heldEx, ex)
			} else {
				trainEx = append(trainEx, ex)
			}
		}
	}
	r.res.Trained, r.res.HeldOut = len(trainEx), len(heldEx)
	return trainEx, heldEx
}

// testExamples lists cfg.Test's class folders (the classes taught only).
func (r *run) testExamples() ([]train.Example, error) {
	r.res.TestBefore, r.res.TestAfter = math.NaN(), math.NaN()
	if r.cfg.Test == "" {
		return nil, nil
	}
	var out []train.Example
	for ci, c := range r.cfg.Classes {
		names, err := listImages(filepath.Join(r.cfg.Test, c))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("teach: test folder: %w", unwrapPath(err))
		}
		for _, n := range names {
			out = append(out, train.Example{Path: filepath.Join(r.cfg.Test, c, n), Class: ci, Source: "test"})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("teach: test folder %s holds no images in %s/ folders", r.cfg.Test, strings.Join(r.cfg.Classes, "/, "))
	}
	r.res.TestN = len(out)
	return out, nil
}

// generalExamples picks up to cfg.General images per class from the train
// part of every default training source (never their test parts, never
// eval-only), spread evenly over each class folder, for the classes taught.
func (r *run) generalExamples() ([]train.Example, error) {
	if r.cfg.General < 0 {
		return nil, nil
	}
	if r.cfg.Shared == "" {
		return nil, errors.New("teach: no shared data folder: pass it (../shared) for the general data mixed in, or turn mixing off")
	}
	var out []train.Example
	for _, src := range train.DefaultSources(r.cfg.Shared) {
		trainPart, _, err := src.List()
		if err != nil {
			return nil, fmt.Errorf("teach: general data: %w (is --shared %s the shared data folder?)", err, r.cfg.Shared)
		}
		byClass := map[int][]train.Example{}
		for _, ex := range trainPart {
			byClass[ex.Class] = append(byClass[ex.Class], ex)
		}
		for ci, c := range r.cfg.Classes {
			from := byClass[train.ClassIndex(c)]
			n := min(len(from), r.cfg.General)
			for k := range n {
				ex := from[k*len(from)/n]
				ex.Class = ci
				out = append(out, ex)
			}
		}
	}
	return out, nil
}

// featureSets are the feature vectors Train works on.
type featureSets struct {
	general, train, held, test train.FeatureSet
}

// features runs the base model's feature output on every example, the
// general ones from the cache (computed and cached on the first run).
func (r *run) features(general, trainEx, heldEx, testEx []train.Example) (featureSets, error) {
	cfg := r.cfg
	runner, err := infer.LoadBatchRunner(cfg.Base, infer.FeaturesName, featureBatch, infer.WithLibrary(cfg.Library), infer.WithDevice(infer.DeviceCPU))
	if err != nil {
		return featureSets{}, err
	}
	defer runner.Close()
	if runner.OutputDim() != model.FeatureSize {
		return featureSets{}, fmt.Errorf("teach: %s's features output is %d wide, want %d: start from an rpscam model", cfg.Base, runner.OutputDim(), model.FeatureSize)
	}
	sha, err := model.FileSHA256(cfg.Base)
	if err != nil {
		return featureSets{}, err
	}
	cache, err := train.OpenCache(cfg.CacheDir, sha, train.AugmentConfig{})
	if err != nil {
		return featureSets{}, err
	}
	defer cache.Close()
	contract := runner.Contract()
	ex := &train.Extractor{
		Runner: ctxRunner{ctx: r.ctx, FeatureRunner: runner},
		NewPre: func() (train.Preprocessor, error) { return infer.NewPreprocessor(contract) },
		Read:   capture.ReadImage,
		Batch:  featureBatch,
	}
	var out featureSets
	stage := func(name string, examples []train.Example, dst *train.FeatureSet) error {
		began := time.Now()
		pc := &progressCache{Cache: cache, total: len(examples), report: func(done, total int) { r.report(name, done, total, began) }}
		ex.Cache = pc
		fs, err := ex.Features(examples, 1)
		if err != nil {
			if r.ctx.Err() != nil {
				return fmt.Errorf("teach: interrupted while computing %s features: %w (nothing was written; the running model is unchanged)", name, r.ctx.Err())
			}
			return fmt.Errorf("teach: %s features: %w", name, err)
		}
		if name == "general" {
			r.generalComputed = pc.computed
		}
		if pc.computed > 0 && name == "general" {
			r.res.GeneralTook = time.Since(began)
			r.logf("teach: general features of %d images computed in %s and cached in %s", pc.computed, r.res.GeneralTook.Round(100*time.Millisecond), cfg.CacheDir)
		}
		*dst = fs
		return nil
	}
	if err := stage("general", general, &out.general); err != nil {
		return out, err
	}
	if err := cache.Save(); err != nil {
		r.logf("teach: warning: feature cache not saved (%v); the next run computes them again", err)
	}
	user := slices.Concat(trainEx, heldEx, testEx)
	var all train.FeatureSet
	if err := stage("features", user, &all); err != nil {
		return out, err
	}
	if err := cache.Save(); err != nil {
		r.logf("teach: warning: feature cache not saved (%v)", err)
	}
	cut := func(from, n int) train.FeatureSet {
		return train.FeatureSet{X: all.X[from : from+n], Y: all.Y[from : from+n], Examples: all.Examples[from : from+n]}
	}
	out.train = cut(0, len(trainEx))
	out.held = cut(len(trainEx), len(heldEx))
	out.test = cut(len(trainEx)+len(heldEx), len(testEx))
	r.res.General = len(general)
	return out, nil
}

// ctxRunner stops feature extraction when ctx is cancelled.
type ctxRunner struct {
	ctx context.Context
	train.FeatureRunner
}

func (c ctxRunner) Run(images []uint8, n int) ([]float32, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	return c.FeatureRunner.Run(images, n)
}

// progressCache counts the vectors computed (Put) for progress, and saves
// only when told to by its owner, once per stage.
type progressCache struct {
	*train.Cache
	total, computed, hits int
	report                func(done, total int)
}

func (p *progressCache) Get(key string) ([]float32, bool) {
	v, ok := p.Cache.Get(key)
	if ok {
		p.hits++
	}
	return v, ok
}

func (p *progressCache) Put(key string, v []float32) {
	p.Cache.Put(key, v)
	p.computed++
	p.report(p.hits+p.computed, p.total)
}

func (p *progressCache) Save() error { return nil }

// fit trains the new head: the user's samples and the general images each
// carry half the loss, every class equally within each, so a few dozen
// frames of one person count as much as thousands of general ones without
// erasing them. It starts from the base head's rows for classes it has.
func (r *run) fit(general, user train.FeatureSet) (*train.Head, error) {
	classes := len(r.cfg.Classes)
	head, err := train.NewHead(model.FeatureSize, classes, r.cfg.Seed)
	if err != nil {
		return nil, err
	}
	for ci, c := range r.cfg.Classes {
		if bi := slices.Index(r.params.Labels, c); bi >= 0 {
			copy(head.W[ci*head.In:(ci+1)*head.In], r.params.HeadW[bi*head.In:(bi+1)*head.In])
			head.B[ci] = r.params.HeadB[bi]
		}
	}
	var b train.Batch
	add := func(fs train.FeatureSet, share float64) {
		if len(fs.X) == 0 {
			return
		}
		w := fs.Batch(true).Weight // each (source, class) of the set equal
		var sum float64
		for _, v := range w {
			sum += float64(v)
		}
		for i := range fs.X {
			b.X = append(b.X, fs.X[i])
			b.Y = append(b.Y, fs.Y[i])
			b.Weight = append(b.Weight, float32(share/sum)*w[i])
		}
	}
	add(user, 0.8)
	add(general, 0.2)
	if len(general.X) == 0 {
		for i := range b.Weight {
			b.Weight[i] *= 2
		}
	}
	// Fit takes a weighted mean: scale the weights to mean 1 so the step
	// sizes are the tutorial's.
	for i := range b.Weight {
		b.Weight[i] *= float32(len(b.Weight))
	}
	began := time.Now()
	total := 0
	fc := train.FitConfig{
		Epochs: r.cfg.Epochs, BatchSize: 64, LearningRate: 1e-3, Dropout: 0.2, WeightDecay: 1e-4, Seed: r.cfg.Seed,
		OnBatch: func(epoch, batch, batches int) {
			total = r.cfg.Epochs * batches
			r.report("fit", (epoch-1)*batches+batch, total, began)
		},
		Stop: func() error { return r.ctx.Err() },
	}
	if r.cfg.Anchor > 0 {
		fc.WeightDecay, fc.DecayTowards = r.cfg.Anchor, slices.Clone(head.W)
	}
	if _, err := train.Fit(head, b, train.Batch{}, fc, func() float64 { return time.Since(began).Seconds() }); err != nil {
		if r.ctx.Err() != nil {
			return nil, fmt.Errorf("teach: interrupted while fitting: %w (nothing was written; the running model is unchanged)", r.ctx.Err())
		}
		return nil, fmt.Errorf("teach: fitting the head: %w", err)
	}
	r.logf("teach: head fitted on %d user samples and %d general images in %s", len(user.X), len(general.X), time.Since(began).Round(10*time.Millisecond))
	return head, nil
}

// score measures the base head and the new one on the held-out samples and
// the test set.
func (r *run) score(head *train.Head, f featureSets, lists map[string][]string) {
	classes := r.cfg.Classes
	base := r.params
	baseProbs := make([]float32, len(base.Labels))
	newProbs := make([]float32, len(classes))
	baseHead := &train.Head{In: model.FeatureSize, Classes: len(base.Labels), W: base.HeadW, B: base.HeadB}
	right := func(fs train.FeatureSet, i int) (before, after bool) {
		baseHead.Probs(fs.X[i], baseProbs)
		head.Probs(fs.X[i], newProbs)
		y := fs.Y[i]
		return base.Labels[nn.Argmax(baseProbs)] == classes[y], nn.Argmax(newProbs) == y
	}
	r.res.Classes = slices.Clone(classes)
	r.res.PerClass = make([]ClassResult, len(classes))
	for ci, c := range classes {
		r.res.PerClass[ci] = ClassResult{Class: c, Samples: len(lists[c])}
	}
	var nb, na int
	for i := range f.held.X {
		b, a := right(f.held, i)
		pc := &r.res.PerClass[f.held.Y[i]]
		pc.HeldOut++
		if b {
			nb++
			pc.Before++
		}
		if a {
			na++
			pc.After++
		}
	}
	for i := range r.res.PerClass {
		pc := &r.res.PerClass[i]
		if pc.HeldOut > 0 {
			pc.Before /= float64(pc.HeldOut)
			pc.After /= float64(pc.HeldOut)
		} else {
			pc.Before, pc.After = math.NaN(), math.NaN()
		}
	}
	r.res.Before, r.res.After = ratio(nb, len(f.held.X)), ratio(na, len(f.held.X))
	if len(f.test.X) > 0 {
		nb, na = 0, 0
		for i := range f.test.X {
			b, a := right(f.test, i)
			if b {
				nb++
			}
			if a {
				na++
			}
		}
		r.res.TestBefore, r.res.TestAfter = ratio(nb, len(f.test.X)), ratio(na, len(f.test.X))
	}
}

func ratio(n, of int) float64 {
	if of == 0 {
		return math.NaN()
	}
	return float64(n) / float64(of)
}

// export writes the taught model: the base's backbone and fine-tuned layers
// with the new head and labels, its input contract and metadata unchanged.
func (r *run) export(head *train.Head) error {
	began := time.Now()
	r.report("export", 0, 3, began)
	cfg := r.cfg
	weights, err := model.WeightsByName(r.params.Meta[model.MetaBackboneWeights])
	if err != nil {
		return fmt.Errorf("teach: %s: %w", cfg.Params, err)
	}
	tflite := model.DefaultTFLitePath(cfg.Shared, weights)
	b, err := model.LoadBackbone(tflite)
	if err != nil {
		return fmt.Errorf("teach: backbone weights: %w (pass the shared data folder that holds %s)", err, filepath.Base(tflite))
	}
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("teach: interrupted before writing the model: %w (nothing was written; the running model is unchanged)", err)
	}
	r.report("export", 1, 3, began)
	meta := map[string]string{}
	for k, v := range r.params.Meta {
		meta[k] = v
	}
	delete(meta, "validation_accuracy")
	delete(meta, "validation_loss")
	meta["taught_from"] = filepath.Base(cfg.Base)
	meta["taught_samples"] = fmt.Sprintf("%d trained, %d held out", r.res.Trained, r.res.HeldOut)
	meta["taught_at"] = time.Now().UTC().Format(time.RFC3339)
	p := &model.Params{Labels: slices.Clone(cfg.Classes), HeadW: head.W, HeadB: head.B, Layers: r.params.Layers, Meta: meta}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("teach: %w", err)
	}
	m, err := model.BuildONNX(b, p, map[string]string{model.MetaBackboneWeights: b.Source.Weights.Name})
	if err != nil {
		return fmt.Errorf("teach: %w", err)
	}
	r.report("export", 2, 3, began)
	if err := model.WriteONNX(cfg.Out, m); err != nil {
		// Only a full disk is fixed by freeing space; anything else (a
		// folder in the way, no permission) by another place to write.
		fix := "choose another --out"
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			fix = "free some space or choose another --out"
		}
		return fmt.Errorf("teach: writing the taught model %s: %w (%s; the samples and the running model are unchanged)", cfg.Out, unwrapPath(err), fix)
	}
	r.report("export", 3, 3, began)
	r.res.Model = cfg.Out
	return nil
}
