package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/model"
)

// HeadOnly runs the head recipe (the tutorial's): features of the frozen
// backbone, cached, then a dense head (run), and writes the params, record,
// model and curve. A run with LeaveOut set is a check and writes none of
// them. An empty BackbonePath is backbonePath of the backbone's weights.
func HeadOnly(j Job) error {
	b := j.Backbone
	if j.BackbonePath == "" {
		j.BackbonePath = backbonePath(b.Source.Weights)
	}
	if _, err := os.Stat(j.BackbonePath); errors.Is(err, os.ErrNotExist) {
		m, err := model.BuildONNX(b, nil, map[string]string{model.MetaBackboneWeights: b.Source.Weights.Name})
		if err != nil {
			return err
		}
		if err := model.WriteONNX(j.BackbonePath, m); err != nil {
			return err
		}
		fmt.Fprintf(j.Progress, "train: built %s from %s\n", j.BackbonePath, b.Source.File)
	}
	backboneSHA, err := model.FileSHA256(j.BackbonePath)
	if err != nil {
		return err
	}
	var cache *Cache
	ex, augCfg, done, err := j.extractor(j.BackbonePath, infer.FeaturesName, func(aug AugmentConfig) (VectorCache, error) {
		cache, err = OpenCache(j.CacheDir, backboneSHA, aug)
		return cache, err
	})
	if err != nil {
		return err
	}
	defer done()
	defer cache.Close()
	headParams := len(Labels)*model.FeatureSize + len(Labels)
	printSummary(j.Log, b.ParamCount(), headParams, j.Fit.Dropout)
	out, err := run(j.Config, ex, j.Log)
	if err != nil {
		return err
	}
	val := newRecordVal(out.ValLoss, out.ValAccuracy, out.ValBySource)
	printValidation(j.Log, val)
	j.printTimes("features", out.FeatureTime, out.FitTime, 100*time.Millisecond)
	if err := j.writeCurve(out.History); err != nil {
		return err
	}
	if out.LeftOut != nil {
		fmt.Fprintf(j.Log, "left-out source %s: accuracy %.4f on %d images; recall", out.LeftOut.Source, out.LeftOut.Accuracy, out.LeftOut.N)
		for c, r := range out.LeftOut.Recall {
			fmt.Fprintf(j.Log, " %s %.4f", Labels[c], r)
		}
		fmt.Fprintln(j.Log, "\n(--leave-out is a check: no parameters, record or model written)")
		return nil
	}
	date := time.Now().UTC().Format(time.RFC3339)
	recipe := fmt.Sprintf("head-only: frozen MobileNet-v2, %d views/image, dropout %g, Adam lr %g, batch %d, wd %g, seed %d", j.Views, j.Fit.Dropout, j.Fit.LearningRate, j.Fit.BatchSize, j.Fit.WeightDecay, j.Seed)
	params := &model.Params{Labels: labelList(), HeadW: out.Head.W, HeadB: out.Head.B, Meta: modelMeta(b, date, out.Sources, recipe, val)}
	if err := model.WriteParams(j.Out.Params, params); err != nil {
		return err
	}
	paramsSHA, err := model.FileSHA256(j.Out.Params)
	if err != nil {
		return err
	}
	rec := j.newRecord(date)
	rec.Augment, rec.Sources = augCfg, out.Sources
	rec.Backbone.ONNXSHA256 = backboneSHA
	rec.Summary = recordSummary{Total: b.ParamCount() + headParams, Trainable: headParams, Frozen: b.ParamCount()}
	rec.History, rec.Validation, rec.TrainVectors = out.History, val, out.TrainExamples
	rec.Seconds = recordTimes{Features: out.FeatureTime.Seconds(), Fit: out.FitTime.Seconds(), Total: time.Since(j.Began).Seconds()}
	rec.Params = recordParams{Path: j.Out.Params, SHA256: paramsSHA, WeightsSHA256: params.WeightsSHA256()}
	rec.Tolerance = "same machine and library: identical parameters; other CPUs or ONNX Runtime builds change features in the last float bits, giving head weights within 1e-3 and the same test accuracies within 0.3 points"
	return j.writeOutputs(rec, params)
}

// printSummary prints the tutorial's model summary.
func printSummary(w io.Writer, frozen, head int, dropout float64) {
	fmt.Fprintf(w, "Model: \"rps_mobilenetv2\"\n%s\n%-36s %-16s %12s\n%s\n", strings.Repeat("_", 66), "Layer (type)", "Output Shape", "Param #", strings.Repeat("=", 66))
	fmt.Fprintf(w, "%-36s %-16s %12s\n", "mobilenet_v2_1.00_224 (frozen)", "(None, 1280)", commas(frozen))
	fmt.Fprintf(w, "%-36s %-16s %12s\n", fmt.Sprintf("dropout (Dropout %.2g)", dropout), "(None, 1280)", "0")
	fmt.Fprintf(w, "%-36s %-16s %12s\n", "dense (Dense, softmax)", fmt.Sprintf("(None, %d)", len(Labels)), commas(head))
	fmt.Fprintf(w, "%s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s\n", strings.Repeat("=", 66), commas(frozen+head), commas(head), commas(frozen), strings.Repeat("_", 66))
}
