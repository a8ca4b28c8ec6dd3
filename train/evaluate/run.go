package evaluate

import (
	"io"
	"os"
	"slices"
	"strings"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/train"
)

// Check refuses options that contradict each other or are out of range,
// before anything is read; given says which settings were set (rpscam
// eval's flag names: one that would do nothing is refused rather than
// ignored). Errors are a *DataError naming the flags.
func (o *Options) Check(given func(flag string) bool) error {
	switch {
	case o.Validation && (len(o.Dirs) > 0 || o.PerSource):
		return dataErrorf("--validation scores rpscam train's validation split: drop --data, --per-source and --sources-in, or drop --validation")
	case o.Tests && (o.Validation || o.HeldOut || len(o.Dirs) > 0 || len(o.SourcesIn) > 0):
		return dataErrorf("--tests scores the default sources' test parts (held-out parts included): drop --data, --sources-in, --heldout and --validation, or drop --tests")
	case o.Validation && o.HeldOut:
		return dataErrorf("--heldout picks from --data folders; --validation has no held-out part")
	case o.Validation && (o.ValFraction <= 0 || o.ValFraction >= 1):
		return dataErrorf("--val-fraction %g: use a share between 0 and 1, e.g. 0.15 (rpscam train's default)", o.ValFraction)
	case o.PerSource && !o.Tests && len(o.Dirs) == 0 && len(o.SourcesIn) == 0:
		return dataErrorf("--per-source needs sources: pass --sources-in DIR (every subfolder of DIR is a source, e.g. ../shared/data/eval-only) or one --data folder per source")
	case !o.Validation && !o.Tests && len(o.Dirs) == 0 && len(o.SourcesIn) == 0:
		return dataErrorf("no --data folder: pass one or more folders of rock/ paper/ scissors/ (none/) images, --sources-in DIR, or --validation")
	case o.PerSource && (given("worst") || given("samples")):
		return dataErrorf("--worst and --samples shape the single report; the --per-source table has neither: drop them, or drop --per-source and --sources-in")
	case o.Worst < 0:
		return dataErrorf("--worst %d: want 0 or more mistakes to list (0 lists none)", o.Worst)
	case o.Samples < 0:
		return dataErrorf("--samples %d: want 0 or more sample lines (0 prints none)", o.Samples)
	case !o.PerSource && given("source-target"):
		return dataErrorf("--source-target counts sources in the --per-source table: add --per-source, or drop it")
	case !(o.Threshold >= 0 && o.Threshold <= 1):
		return dataErrorf("--threshold %v is outside 0..1", o.Threshold)
	case !(o.Target > 0 && o.Target <= 1):
		return dataErrorf("--source-target %v is outside 0..1: use a share, e.g. 0.9 for 90%%", o.Target)
	}
	return nil
}

// Runtime is how Run runs the model.
type Runtime struct {
	Precision string // fp32, int8 or auto: the build of Options.Model (infer.ResolvePrecision)
	Library   string // ONNX Runtime; "" finds it
	Threads   int
	Batch     int // images per call, 1 or more
}

// Run scores the images o names with the model o.Model in the build rt
// picks and writes the report (or with PerSource the table) to w, a
// progress bar to progress; with JSON "-" w gets the JSON alone and the
// report goes to progress. Images that cannot be read are skipped and
// counted in the report; none readable at all is an error. Errors the
// caller fixes are a *DataError, or those of infer.ResolvePrecision.
func (o Options) Run(rt Runtime, w, progress io.Writer) error {
	if rt.Batch < 1 {
		return dataErrorf("--batch %d: want 1 or more", rt.Batch)
	}
	imgs, dirs, sources, err := o.Images()
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.Model); err != nil {
		return dataErrorf("model %s: %v (run scripts/setup.sh or rpscam train, or pass --model)", o.Model, err)
	}
	choice, err := infer.ResolvePrecision(o.Model, true, rt.Precision)
	if err != nil {
		return err
	}
	o.Model, o.Precision = choice.Path, choice.String()
	runner, err := infer.LoadBatchRunner(o.Model, infer.ProbabilitiesName, rt.Batch, infer.WithThreads(rt.Threads), infer.WithLibrary(rt.Library))
	if err != nil {
		return err
	}
	defer runner.Close()
	labels := runner.Contract().Labels
	if len(labels) == 0 {
		labels = slices.Clone(train.Labels[:])
	}
	items, err := LabelImages(imgs, labels)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return dataErrorf("no labelled images left in %s", strings.Join(dirs, ", "))
	}
	bar := train.NewProgress(progress, "eval", len(items), term.IsTerminal(progress))
	preds, scored, skipped, err := predict(runner, items, rt.Batch, bar.Update)
	if err != nil {
		return err
	}
	if len(preds) == 0 {
		return dataErrorf("none of the %d images in %s could be read (e.g. %s): check the files, or pass other --data folders", len(items), strings.Join(dirs, ", "), skipped[0].Error)
	}
	if skipped == nil {
		skipped = []Skipped{} // the JSON's list, empty rather than null
	}
	text := w
	if o.JSON == "-" {
		// stdout then holds nothing but the JSON, so that it pipes into a
		// JSON reader; the people reading the report see it on stderr.
		text = progress
	}
	if o.PerSource {
		listed := map[string]int{}
		for _, it := range items {
			listed[it.Group]++
		}
		groups := groupBySource(sources, scored, preds)
		for _, g := range groups {
			if len(g.Preds) == 0 && listed[g.Name] > 0 { // a row of zeros would read as a score
				return dataErrorf("source %s (%s): none of its %d images could be read: check its files, or leave the source out", g.Name, g.Data, listed[g.Name])
			}
		}
		return o.WriteSourceTable(text, w, labels, groups, preds, skipped)
	}
	return o.WriteReport(text, w, labels, dirs, preds, skipped)
}
