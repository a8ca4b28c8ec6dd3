package quantize

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/samefile"
	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/model"
	"github.com/rpscam/rpscam/train"
	"github.com/rpscam/rpscam/train/evaluate"
)

// Metadata keys the int8 model adds to the float model's.
const (
	metaPrecision    = infer.MetaPrecision    // "int8"
	metaQuantization = "quantization"         // how it was made
	metaFloatModel   = "float_model"          // "<file> sha256:<hex>" of the float model it was made from
	metaAccuracyBar  = infer.MetaInt8Accuracy // "met: ...", "missed: ..." (see maxAccuracyDrop) or "not measured ..."
)

// The accuracy bar an int8 model must meet to be chosen automatically: on
// every evaluation set at most maxAccuracyDrop below the float model, and the
// same prediction as the float model on at least minAgreement of all images.
const (
	maxAccuracyDrop = 0.005
	minAgreement    = 0.99
)

// DefaultMethod is the calibration that agreed best with fp32 on the
// validation split and the six test sets (models/README.md).
const DefaultMethod = Percentile

// DefaultCalibration is how many training images calibrate by default.
const DefaultCalibration = 300

// ConfigError is a Config value that must be fixed; Field names the flag.
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Config is one quantization of a trained model.
type Config struct {
	Shared string // shared data folder: backbone weights, training and test images; "" finds it (shareddata.Dir)
	Params string // trained parameters (models/rps_head.params)
	// Model is the float model Params builds (models/rps_mobilenetv2.onnx):
	// the int8 model is compared with it, and must be made from the same
	// parameters, so its bytes are checked against a fresh build.
	Model   string
	Out     string // the int8 model to write
	Calib   int    // calibration images (training split), DefaultCalibration when 0
	Method  Method // DefaultMethod when empty
	Batch   int    // images per ONNX Runtime call (16 when 0)
	Threads int    // ONNX Runtime threads (0: its default)
	Library string // ONNX Runtime library (see ort.FindLibrary)
	// SkipEval leaves out the comparison with the float model; the model's
	// metaAccuracyBar then says it was not measured, so auto never picks it.
	SkipEval bool
	Log      io.Writer // progress lines; nil for none
}

// SetFigures compare the two models on one evaluation set.
type SetFigures struct {
	Name       string  `json:"name"`
	Images     int     `json:"images"`
	FP32       float64 `json:"fp32_accuracy"`
	INT8       float64 `json:"int8_accuracy"`
	Agreement  float64 `json:"agreement"` // share of images with the same predicted class
	Disagree   int     `json:"disagree"`
	Validation bool    `json:"validation,omitempty"`
}

// Report is what Run did and measured.
type Report struct {
	Out        string       `json:"out"`
	Bytes      int64        `json:"bytes"`
	FloatBytes int64        `json:"float_bytes"`
	Method     Method       `json:"method"`
	Calib      int          `json:"calibration_images"`
	Summary    Summary      `json:"summary"`
	Fusion     Fusion       `json:"fusion"`
	Sets       []SetFigures `json:"sets,omitempty"`
	Agreement  float64      `json:"agreement"` // pooled over every set
	BarMet     bool         `json:"bar_met"`
	Bar        string       `json:"bar"` // metaAccuracyBar's value
	Took       time.Duration
}

// Check refuses out-of-range values (a ConfigError naming the field)
// without reading anything, so a caller can report them before its own
// checks; Run checks them again.
func (c Config) Check() error { return c.defaults() }

func (c *Config) defaults() error {
	if c.Calib == 0 {
		c.Calib = DefaultCalibration
	}
	if c.Calib < 1 {
		return &ConfigError{"calib", fmt.Errorf("%d images: want 1 or more (default %d)", c.Calib, DefaultCalibration)}
	}
	if c.Method == "" {
		c.Method = DefaultMethod
	}
	if _, err := parseMethod(string(c.Method)); err != nil {
		return &ConfigError{"method", err}
	}
	if c.Batch == 0 {
		c.Batch = 16
	}
	if c.Batch < 1 {
		return &ConfigError{"batch", fmt.Errorf("%d: want 1 or more", c.Batch)}
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return nil
}

// Run quantizes the model cfg.Params builds: calibrate on training images,
// transform to QDQ, check that ONNX Runtime fuses it to integer kernels,
// compare it with the float model on the validation split and every test
// set, and write it to cfg.Out with the float model's metadata plus the
// metaPrecision, metaQuantization, metaFloatModel and metaAccuracyBar keys.
func Run(cfg Config) (*Report, error) {
	start := time.Now()
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var err error
	if cfg.Shared, err = shareddata.Dir(cfg.Shared); err != nil {
		return nil, err
	}
	floatModel, floatSum, err := buildFloat(cfg)
	if err != nil {
		return nil, err
	}
	lib, err := ort.FindLibrary(cfg.Library)
	if err != nil {
		return nil, err
	}
	if _, err := ort.Init(lib); err != nil {
		return nil, err
	}
	fp32, err := infer.LoadBatchRunner(cfg.Model, infer.ProbabilitiesName, cfg.Batch, infer.WithLibrary(lib), infer.WithThreads(cfg.Threads))
	if err != nil {
		return nil, err
	}
	defer fp32.Close()
	pre, err := infer.NewPreprocessor(fp32.Contract())
	if err != nil {
		return nil, err
	}
	defer pre.Close()

	images, err := calibrationImages(cfg.Shared, cfg.Calib)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "quantize: calibrating on %d training images (%s)\n", len(images), cfg.Method)
	data := make([]uint8, len(images)*pre.Size())
	for i, path := range images {
		if err := evaluate.PreprocessFile(pre, path, data[i*pre.Size():(i+1)*pre.Size()]); err != nil {
			return nil, err
		}
	}
	stats, err := calibrate(floatModel, data, len(images), cfg.Batch, cfg.Threads)
	if err != nil {
		return nil, err
	}
	// Pair-safe weights cost little precision and keep the model exact on
	// CPUs without VNNI, where full-range weights overflow and lose accuracy
	// (README, "Weights safe for AVX2 without VNNI"; see pairSafe).
	q, sum, err := transformModel(floatModel, stats.Ranges(cfg.Method), pairSafe())
	if err != nil {
		return nil, err
	}
	q.Metadata[metaPrecision] = "int8"
	q.Metadata[metaQuantization] = fmt.Sprintf("static QDQ: int8 weights symmetric per output channel (pair-safe for AVX2 without VNNI), uint8 activations, %s ranges from %d training images", cfg.Method, len(images))
	q.Metadata[metaFloatModel] = filepath.Base(cfg.Model) + " sha256:" + floatSum
	q.Metadata[metaAccuracyBar] = "not measured (rpscam quantize --no-eval)"
	rep := &Report{Out: cfg.Out, Method: cfg.Method, Calib: len(images), Summary: sum, Bar: q.Metadata[metaAccuracyBar]}

	// Written once to measure it, then again with the figures in its metadata.
	if err := model.WriteONNX(cfg.Out, q); err != nil {
		return nil, err
	}
	if rep.Fusion, err = checkFusion(cfg.Out, cfg.Threads); err != nil {
		return nil, fmt.Errorf("quantize: checking ONNX Runtime's optimized graph: %w", err)
	}
	if !cfg.SkipEval {
		if err := compare(cfg, fp32, pre, rep); err != nil {
			return nil, err
		}
		q.Metadata[metaAccuracyBar] = rep.Bar
		if err := model.WriteONNX(cfg.Out, q); err != nil {
			return nil, err
		}
	}
	if st, err := os.Stat(cfg.Out); err == nil {
		rep.Bytes = st.Size()
	}
	if st, err := os.Stat(cfg.Model); err == nil {
		rep.FloatBytes = st.Size()
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// buildFloat builds the float model from cfg.Params as rpscam export does
// and checks that cfg.Model is that model.
func buildFloat(cfg Config) (*onnx.Model, string, error) {
	p, err := model.ReadParams(cfg.Params)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", &ConfigError{"params", fmt.Errorf("%s does not exist: rpscam train writes it (or pass --params)", cfg.Params)}
		}
		return nil, "", err
	}
	w := model.WeightsTF2
	if name := p.Meta[model.MetaBackboneWeights]; name != "" {
		if w, err = model.WeightsByName(name); err != nil {
			return nil, "", fmt.Errorf("%s: %w", cfg.Params, err)
		}
	}
	b, err := model.LoadBackbone(model.DefaultTFLitePath(cfg.Shared, w))
	if err != nil {
		return nil, "", err
	}
	m, err := model.BuildONNX(b, p, map[string]string{model.MetaBackboneWeights: b.Source.Weights.Name})
	if err != nil {
		return nil, "", err
	}
	built, err := m.Marshal()
	if err != nil {
		return nil, "", err
	}
	have, err := os.ReadFile(cfg.Model)
	if err != nil {
		return nil, "", &ConfigError{"model", fmt.Errorf("%w: run rpscam export (scripts/setup.sh does) to build the float model first", err)}
	}
	if !bytes.Equal(have, built) {
		out := exportTarget(cfg.Model, cfg.Params)
		return nil, "", &ConfigError{"model", fmt.Errorf("%s is not the model %s builds (exported with other parameters or --meta, or not an ONNX model at all): pass the matching --params, or run rpscam export --params %s --out %s and pass --model %s",
			cfg.Model, cfg.Params, cfg.Params, out, out)}
	}
	sum := sha256.Sum256(built)
	return m, hex.EncodeToString(sum[:]), nil
}

// exportTarget is the file the fix for a --model that --params does not
// build tells rpscam export to write: named after the parameters, and never
// the given model, which may be the user's own file and not even a model.
func exportTarget(model, params string) string {
	out := strings.TrimSuffix(params, filepath.Ext(params)) + ".onnx"
	if samefile.Same(out, model) {
		out = strings.TrimSuffix(model, filepath.Ext(model)) + "_rebuilt.onnx"
	}
	return out
}

// calibrationImages are the first n of rpscam train's shuffled training
// split: never validation, test or eval-only images.
func calibrationImages(shared string, n int) ([]string, error) {
	cfg := train.DefaultConfig(train.DefaultSources(shared))
	sp, err := train.SplitSources(cfg, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("calibration images: %w", err)
	}
	if n > len(sp.Train) {
		return nil, &ConfigError{"calib", fmt.Errorf("%d images asked for, the training split has %d", n, len(sp.Train))}
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = sp.Train[i].Path
	}
	return paths, nil
}

// compare runs both models on the validation split and every test set
// (each image decoded and preprocessed once) and fills rep's figures and bar.
func compare(cfg Config, fp32 *infer.BatchRunner, pre *infer.Preprocessor, rep *Report) error {
	int8r, err := infer.LoadBatchRunner(cfg.Out, infer.ProbabilitiesName, cfg.Batch, infer.WithLibrary(cfg.Library), infer.WithThreads(cfg.Threads))
	if err != nil {
		return fmt.Errorf("quantize: the int8 model does not load: %w", err)
	}
	defer int8r.Close()
	sets, err := evaluationSets(cfg.Shared)
	if err != nil {
		return err
	}
	labels := fp32.Contract().Labels
	var agree, total int
	var missed []string
	for _, s := range sets {
		items, err := evaluate.LabelImages(s.images, labels)
		if err != nil {
			return err
		}
		f, err := compareSet(fp32, int8r, pre, items, cfg.Batch)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		f.Name, f.Validation = s.name, s.validation
		fmt.Fprintf(cfg.Log, "quantize: %-22s %5d images  fp32 %6.2f%%  int8 %6.2f%%  same prediction %6.2f%%\n",
			f.Name, f.Images, 100*f.FP32, 100*f.INT8, 100*f.Agreement)
		rep.Sets = append(rep.Sets, f)
		agree += f.Images - f.Disagree
		total += f.Images
		if f.FP32-f.INT8 > maxAccuracyDrop+1e-12 {
			missed = append(missed, fmt.Sprintf("%s %.2f%% vs fp32 %.2f%%", f.Name, 100*f.INT8, 100*f.FP32))
		}
	}
	if total > 0 {
		rep.Agreement = float64(agree) / float64(total)
	}
	if rep.Agreement < minAgreement {
		missed = append(missed, fmt.Sprintf("same prediction on %.2f%% < %.0f%%", 100*rep.Agreement, 100*minAgreement))
	}
	worst := rep.Sets[0]
	for _, f := range rep.Sets {
		if f.FP32-f.INT8 > worst.FP32-worst.INT8 {
			worst = f
		}
	}
	if len(missed) == 0 {
		rep.BarMet = true
		rep.Bar = fmt.Sprintf("met: within %.1f points of fp32 on %d sets (largest drop %.2f points, %s), same prediction on %.2f%% of %d images",
			100*maxAccuracyDrop, len(rep.Sets), 100*(worst.FP32-worst.INT8), worst.Name, 100*rep.Agreement, total)
	} else {
		rep.Bar = "missed: " + strings.Join(missed, "; ")
	}
	return nil
}

type evalSet struct {
	name       string
	images     []evaluate.Image
	validation bool
}

// evaluationSets are rpscam train's validation split and the test part of
// every training source (never eval-only).
func evaluationSets(shared string) ([]evalSet, error) {
	def := train.DefaultConfig(nil)
	val, _, err := evaluate.ValidationImages(shared, def.SplitSeed, def.ValFraction)
	if err != nil {
		return nil, err
	}
	sets := []evalSet{{name: "validation", images: val, validation: true}}
	tests, _, sources, err := evaluate.TestImages(shared)
	if err != nil {
		return nil, err
	}
	for _, src := range sources {
		s := evalSet{name: src.Name}
		for _, im := range tests {
			if im.Group == src.Name {
				s.images = append(s.images, im)
			}
		}
		sets = append(sets, s)
	}
	return sets, nil
}

func compareSet(fp32, int8r *infer.BatchRunner, pre *infer.Preprocessor, items []evaluate.Item, batch int) (SetFigures, error) {
	size := pre.Size()
	buf := make([]uint8, batch*size)
	k := fp32.OutputDim()
	f := SetFigures{Images: len(items)}
	var rightF, rightQ, scored int
	for start := 0; start < len(items); start += batch {
		part := items[start:min(start+batch, len(items))]
		for i, it := range part {
			if err := evaluate.PreprocessFile(pre, it.Path, buf[i*size:(i+1)*size]); err != nil {
				return f, err
			}
		}
		pf, err := fp32.Run(buf[:len(part)*size], len(part))
		if err != nil {
			return f, err
		}
		pf = append([]float32(nil), pf...) // the runner reuses its output
		pq, err := int8r.Run(buf[:len(part)*size], len(part))
		if err != nil {
			return f, err
		}
		for i, it := range part {
			a, b := argmax(pf[i*k:(i+1)*k]), argmax(pq[i*k:(i+1)*k])
			if a != b {
				f.Disagree++
			}
			if it.Class >= 0 {
				scored++
				if a == it.Class {
					rightF++
				}
				if b == it.Class {
					rightQ++
				}
			}
		}
	}
	if scored > 0 {
		f.FP32, f.INT8 = float64(rightF)/float64(scored), float64(rightQ)/float64(scored)
	}
	if f.Images > 0 {
		f.Agreement = float64(f.Images-f.Disagree) / float64(f.Images)
	}
	return f, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
