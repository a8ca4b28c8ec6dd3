package main

import (
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/train"
	"github.com/rpscam/rpscam/train/evaluate"
)

// evalFlags are rpscam eval's flags: what to score and how to report it
// (evaluate.Options) and the model to run.
type evalFlags struct {
	evaluate.Options
	ortLib    string
	precision string
	batch     int
	threads   int
	// setFlags are the flags given, so one that would do nothing in the
	// chosen mode is refused rather than silently ignored.
	setFlags map[string]bool
}

func parseEvalFlags(env *cliEnv, args []string) (*evalFlags, error) {
	fs := newFlagSet(env, "eval", "--data DIR [--data DIR ...] [flags]  |  --per-source (--sources-in DIR | --data DIR ...) [flags]",
		"rpscam eval --data ../shared/data/rps-cgi/test",
		"rpscam eval --data ../shared/data/rps-real/sxsw/test --json out/sxsw.json --confusion out/sxsw-confusion.png",
		"rpscam eval --data ../shared/data/rps-real/drgfreeman --heldout   # only the files training never sees",
		"rpscam eval --validation --model /tmp/soup.onnx                 # the images rpscam train validates on",
		"rpscam eval --sources-in ../shared/data/eval-only --json out/eval-only.json   # one row per person, worst first",
		"rpscam eval --per-source --data ../shared/data/rps-real/subhih/test --data ../shared/data/rps-real/sxsw/test",
		"rpscam eval --tests                                              # every training source's test part, one row each")
	f := &evalFlags{}
	fs.StringArrayVar(&f.Dirs, "data", nil, "folder holding rock/ paper/ scissors/ and optionally none/ (class folders may sit deeper, e.g. DIR/test/rock); repeatable; with --per-source each is one source")
	fs.BoolVar(&f.PerSource, "per-source", false, "one table row per source (each --data folder, each subfolder of --sources-in), worst gesture accuracy first, then the mean over sources and the pooled totals")
	fs.StringArrayVar(&f.SourcesIn, "sources-in", nil, "with --per-source (implied): every subfolder of this folder is one source, e.g. ../shared/data/eval-only; repeatable")
	fs.StringVar(&f.Model, "model", defaultModel, "ONNX model to evaluate")
	fs.StringVar(&f.precision, "precision", "auto", precisionUsage)
	fs.Float64Var(&f.Threshold, "threshold", 0.6, "below this top probability a label is uncertain (0..1), as in the video commands: a none image labelled none or uncertain shows no gesture")
	fs.Float64Var(&f.Target, "source-target", 0.9, "with --per-source: count and name the sources whose gesture accuracy is below this (0..1)")
	fs.BoolVar(&f.HeldOut, "heldout", false, "keep only the files rpscam train holds out of hold-out sources (drgfreeman's, parikshitkumar1's and signdigits' fixed 20%)")
	fs.BoolVar(&f.Tests, "tests", false, "one row per training source's test part (rpscam train's default sources: upstream test splits and fixed held-out parts, never trained on), as --per-source")
	fs.BoolVar(&f.Validation, "validation", false, "score the validation split of rpscam train's default sources (the images that choose epochs and recipes) instead of --data")
	fs.StringVar(&f.Shared, "shared", "", "with --validation or --heldout: shared data folder (default $RPSCAM_SHARED, else ../shared)")
	def := train.DefaultConfig(nil) // rpscam train's defaults, so both name the same split
	fs.Uint64Var(&f.SplitSeed, "split-seed", def.SplitSeed, "with --validation: the --split-seed rpscam train used")
	fs.Float64Var(&f.ValFraction, "val-fraction", def.ValFraction, "with --validation: the validation share rpscam train used")
	fs.StringVar(&f.JSON, "json", "", "write the report as one JSON object to this file (\"-\" for stdout)")
	fs.StringVar(&f.ConfusionPNG, "confusion", "", "write the confusion matrix as a PNG (with --per-source: pooled over the sources)")
	fs.IntVar(&f.Worst, "worst", 10, "how many of the most confident mistakes to list (single report)")
	fs.IntVar(&f.Samples, "samples", 9, "how many tutorial-style \"Actual / Predicted\" lines to print (single report)")
	fs.IntVar(&f.batch, "batch", 16, "images per ONNX Runtime call")
	fs.IntVar(&f.threads, "threads", 2, "ONNX Runtime threads")
	fs.StringVar(&f.ortLib, "ort-lib", "", "ONNX Runtime library (default $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the setup location)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected arguments %q (folders go after --data or --sources-in)", fs.Args())
	}
	f.setFlags = map[string]bool{}
	fs.Visit(func(fl *pflag.Flag) { f.setFlags[fl.Name] = true })
	// --sources-in only makes sense as a table, so it asks for one itself.
	f.PerSource = f.PerSource || len(f.SourcesIn) > 0 || f.Tests
	return f, f.check()
}

// check validates the flags before anything is read.
func (f *evalFlags) check() error {
	switch {
	case f.Validation && (len(f.Dirs) > 0 || f.PerSource):
		return usagef("--validation scores rpscam train's validation split: drop --data, --per-source and --sources-in, or drop --validation")
	case f.Tests && (f.Validation || f.HeldOut || len(f.Dirs) > 0 || len(f.SourcesIn) > 0):
		return usagef("--tests scores the default sources' test parts (held-out parts included): drop --data, --sources-in, --heldout and --validation, or drop --tests")
	case f.Validation && f.HeldOut:
		return usagef("--heldout picks from --data folders; --validation has no held-out part")
	case f.Validation && (f.ValFraction <= 0 || f.ValFraction >= 1):
		return usagef("--val-fraction %g: use a share between 0 and 1, e.g. 0.15 (rpscam train's default)", f.ValFraction)
	case f.PerSource && !f.Tests && len(f.Dirs) == 0 && len(f.SourcesIn) == 0:
		return usagef("--per-source needs sources: pass --sources-in DIR (every subfolder of DIR is a source, e.g. ../shared/data/eval-only) or one --data folder per source")
	case !f.Validation && !f.Tests && len(f.Dirs) == 0 && len(f.SourcesIn) == 0:
		return usagef("no --data folder: pass one or more folders of rock/ paper/ scissors/ (none/) images, --sources-in DIR, or --validation")
	case f.PerSource && (f.setFlags["worst"] || f.setFlags["samples"]):
		return usagef("--worst and --samples shape the single report; the --per-source table has neither: drop them, or drop --per-source and --sources-in")
	case !f.PerSource && f.setFlags["source-target"]:
		return usagef("--source-target counts sources in the --per-source table: add --per-source, or drop it")
	case f.batch < 1:
		return usagef("--batch %d: want 1 or more", f.batch)
	case !(f.Threshold >= 0 && f.Threshold <= 1):
		return usagef("--threshold %v is outside 0..1", f.Threshold)
	case !(f.Target > 0 && f.Target <= 1):
		return usagef("--source-target %v is outside 0..1: use a share, e.g. 0.9 for 90%%", f.Target)
	}
	return nil
}

func runEval(env *cliEnv, args []string) error {
	f, err := parseEvalFlags(env, args)
	if err != nil {
		return err
	}
	var de *evaluate.DataError
	if err := f.run(env); errors.As(err, &de) {
		return usageError{err}
	} else {
		return err
	}
}

func (f *evalFlags) run(env *cliEnv) error {
	imgs, dirs, sources, err := f.Images()
	if err != nil {
		return err
	}
	if _, err := os.Stat(f.Model); err != nil {
		return usagef("model %s: %v (run scripts/setup.sh or rpscam train, or pass --model)", f.Model, err)
	}
	choice, err := infer.ResolvePrecision(f.Model, true, f.precision)
	if err != nil {
		return exitError(err)
	}
	f.Model, f.Precision = choice.Path, choice.String()
	runner, err := infer.LoadBatchRunner(f.Model, infer.ProbabilitiesName, f.batch, infer.WithThreads(f.threads), infer.WithLibrary(f.ortLib))
	if err != nil {
		return err
	}
	defer runner.Close()
	labels := runner.Contract().Labels
	if len(labels) == 0 {
		labels = slices.Clone(train.Labels[:])
	}
	items, err := evaluate.LabelImages(imgs, labels)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return usagef("no labelled images left in %s", strings.Join(dirs, ", "))
	}
	prog := train.NewProgress(env.stderr, "eval", len(items), term.IsTerminal(env.stderr))
	preds, err := evaluate.Predict(runner, items, f.batch, prog.Update)
	if err != nil {
		return err
	}
	if f.PerSource {
		return f.WriteSourceTable(env.stdout, labels, evaluate.GroupBySource(sources, items, preds), preds)
	}
	return f.WriteReport(env.stdout, labels, dirs, preds)
}
