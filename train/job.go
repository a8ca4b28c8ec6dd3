package train

import (
	"fmt"
	"io"
	"time"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/model"
)

// Job is one run of either recipe (rpscam train): the data and head
// recipe (Config), the fine-tuning recipe, the backbone, and where the
// run's files go.
type Job struct {
	Config
	Mode     string // "head" (frozen backbone) or "finetune"
	FineTune FineTuneConfig
	AugSeed  uint64 // augmented views; part of the cache key
	// MotionBlur is the share of augmented views smeared by a linear
	// motion (AugmentConfig.MotionBlurP, up to DefaultMotionBlurLen of the
	// side); 0, the default, keeps the committed recipe's views.
	MotionBlur float64
	Backbone   *model.Backbone
	// BackbonePath is the head recipe's feature-extractor ONNX, built from
	// Backbone when missing; TrunkPath the fine-tuning trunk, rebuilt when
	// missing or cut elsewhere ("": trunkPath of the weights and cut).
	BackbonePath, TrunkPath string
	Tests                   []TestSet // fine-tuning: scored for the log and record only
	CacheDir                string
	Threads                 int
	Library                 string // ONNX Runtime; "" finds it
	Out                     Outputs
	// Reproduce and Command are the record's command lines.
	Reproduce, Command string
	Began              time.Time
	Log                io.Writer // summary, epochs, results
	Progress           io.Writer // progress bars and build notes
}

// Outputs are a Job's files; Model and Curve may be "" to skip them.
type Outputs struct {
	Params, Record, Model, Curve string
}

// FineTuneConfig is the fine-tuning recipe on top of the Config's head
// warm-up.
type FineTuneConfig struct {
	Tune           string // conv1, block16, block15, block14, block13, block12 or block11 (tail.Tune)
	Epochs         int
	LRHead, LRBody float64
	Anchor         float64 // L2 pull towards the pretrained weights
	Patience       int
	LabelSmoothing float64
	Mixup          float64 // Beta alpha; 0 = off
	Schedule       string  // constant or cosine
	EMA            float64 // 0 = off
	Monitor        string  // val_loss or val_accuracy
	Oversample     map[string]int
}

// DefaultFineTune is the committed fine-tuning recipe: block_13 through
// Conv_1 (validation loss 0.1459 against 0.1542 from block_14, which had
// beaten block_15), two epochs (the --ft-epochs 3 run of the block_14 recipe
// chose epoch 2 on validation; the bound keeps a first run from an empty
// cache under 30 minutes on 2 cores).
func DefaultFineTune() FineTuneConfig {
	return FineTuneConfig{Tune: "block13", Epochs: 2, LRHead: 2e-4, LRBody: 1e-4, Anchor: 1e-3, Patience: 3, LabelSmoothing: 0.1, Schedule: "constant", Monitor: "val_loss"}
}

// RecipeDefaults is DefaultConfig as each recipe uses it. The head recipe
// (the tutorial's) keeps 4 views: its first run (the whole backbone per
// view) then fits in a few minutes; more views did not move the head-only
// test figures (see models/README.md). It weighs every image alike, as its
// figures in the model card were measured; class balancing was chosen for
// the fine-tuning recipe.
func RecipeDefaults(mode string) Config {
	cfg := DefaultConfig(nil)
	if mode == "head" {
		cfg.Views, cfg.Fit.BalanceClasses = 4, false
	}
	return cfg
}

// RecipeError is a recipe the backbone cannot follow (a trunk cut where it
// has no such layer): the caller's to fix.
type RecipeError struct{ Err error }

func (e *RecipeError) Error() string { return e.Err.Error() }
func (e *RecipeError) Unwrap() error { return e.Err }

// extractor loads the model at path (output: the vectors it gives; the
// whole backbone in head mode, the trunk when fine-tuning) and opens its
// cache: images decoded as classify and eval decode them, view 0 through
// the live camera path's preprocessing, the other views augmented by the
// default augmentation, vectors kept in the cache. done closes the model.
func (j *Job) extractor(path, output string, openCache func(AugmentConfig) (VectorCache, error)) (ex *Extractor, augCfg AugmentConfig, done func(), err error) {
	// No spinning: the next batch is decoded and augmented on another
	// goroutine while the model runs, and spinning ONNX Runtime threads
	// would take its core. The activations are the same either way.
	runner, err := infer.LoadBatchRunner(path, output, 32, infer.WithThreads(j.Threads), infer.WithLibrary(j.Library), infer.WithSpinning(false))
	if err != nil {
		return nil, augCfg, nil, err
	}
	augCfg = DefaultAugment()
	if j.MotionBlur > 0 {
		augCfg.MotionBlurP, augCfg.MotionBlurLen = j.MotionBlur, DefaultMotionBlurLen
	}
	aug, err := newAugmenter(augCfg)
	if err == nil {
		var cache VectorCache
		if cache, err = openCache(augCfg); err == nil {
			if c, ok := cache.(*Cache); ok && !c.Writable() {
				fmt.Fprintf(j.Log, "train: note: %s is being filled by another rpscam run (or cannot be written): this run computes what it lacks without saving it\n", c.Path())
			}
			contract := runner.Contract()
			return &Extractor{
				Runner:   runner,
				NewPre:   func() (Preprocessor, error) { return infer.NewPreprocessor(contract) },
				Read:     capture.ReadImage,
				Augment:  aug,
				Batch:    32,
				Cache:    cache,
				AugSeed:  j.AugSeed,
				Progress: j.Progress,
				Terminal: term.IsTerminal(j.Progress),
			}, augCfg, func() { runner.Close() }, nil
		}
	}
	runner.Close()
	return nil, augCfg, nil, err
}
