package main

import (
	"github.com/rpscam/rpscam/train"
	"github.com/rpscam/rpscam/train/evaluate"
)

func runEval(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "eval", "--data DIR [--data DIR ...] [flags]  |  --per-source (--sources-in DIR | --data DIR ...) [flags]",
		"rpscam eval --data ../shared/data/rps-cgi/test",
		"rpscam eval --data ../shared/data/rps-real/sxsw/test --json out/sxsw.json --confusion out/sxsw-confusion.png",
		"rpscam eval --data ../shared/data/rps-real/drgfreeman --heldout   # only the files training never sees",
		"rpscam eval --validation --model /tmp/soup.onnx                 # the images rpscam train validates on",
		"rpscam eval --sources-in ../shared/data/eval-only --json out/eval-only.json   # one row per person, worst first",
		"rpscam eval --per-source --data ../shared/data/rps-real/subhih/test --data ../shared/data/rps-real/sxsw/test",
		"rpscam eval --tests                                              # every training source's test part, one row each")
	f, rt := &evaluate.Options{}, evaluate.Runtime{}
	fs.StringArrayVar(&f.Dirs, "data", nil, "folder holding rock/ paper/ scissors/ and optionally none/ (class folders may sit deeper, e.g. DIR/test/rock); repeatable; with --per-source each is one source")
	fs.BoolVar(&f.PerSource, "per-source", false, "one table row per source (each --data folder, each subfolder of --sources-in), worst gesture accuracy first, then the mean over sources and the pooled totals")
	fs.StringArrayVar(&f.SourcesIn, "sources-in", nil, "with --per-source (implied): every subfolder of this folder is one source, e.g. ../shared/data/eval-only; repeatable")
	fs.StringVar(&f.Model, "model", defaultModel, "ONNX model to evaluate")
	fs.StringVar(&rt.Precision, "precision", "auto", precisionUsage)
	fs.Float64Var(&f.Threshold, "threshold", 0.6, "below this top probability a label is uncertain (0..1), as in the video commands: a none image labelled none or uncertain shows no gesture")
	fs.Float64Var(&f.Target, "source-target", 0.9, "with --per-source: count and name the sources whose gesture accuracy is below this (0..1)")
	fs.BoolVar(&f.HeldOut, "heldout", false, "keep only the files rpscam train holds out of a hold-out source (drgfreeman's and signdigits' fixed 20%, parikshitkumar1's last frames): each --data must be one of those folders under the shared folder (see --shared)")
	fs.BoolVar(&f.Tests, "tests", false, "one row per training source's test part (rpscam train's default sources: upstream test splits and fixed held-out parts, never trained on), as --per-source")
	fs.BoolVar(&f.Validation, "validation", false, "score the validation split of rpscam train's default sources (the images that choose epochs and recipes) instead of --data")
	fs.StringVar(&f.Shared, "shared", "", "with --validation or --heldout: shared data folder (default $RPSCAM_SHARED, else ../shared)")
	def := train.DefaultConfig(nil) // rpscam train's defaults, so both name the same split
	fs.Uint64Var(&f.SplitSeed, "split-seed", def.SplitSeed, "with --validation: the --split-seed rpscam train used")
	fs.Float64Var(&f.ValFraction, "val-fraction", def.ValFraction, "with --validation: the validation share rpscam train used")
	fs.StringVar(&f.JSON, "json", "", "write the report as one JSON object to this file in an existing folder (\"-\": to stdout, the text report then to stderr)")
	fs.StringVar(&f.ConfusionPNG, "confusion", "", "write the confusion matrix as a PNG (.png; .jpg and .bmp work too) into an existing folder (with --per-source: pooled over the sources)")
	fs.IntVar(&f.Worst, "worst", 10, "how many of the most confident mistakes to list (single report)")
	fs.IntVar(&f.Samples, "samples", 9, "how many tutorial-style \"Actual / Predicted\" lines to print (single report)")
	fs.IntVar(&rt.Batch, "batch", 16, "images per ONNX Runtime call")
	fs.IntVar(&rt.Threads, "threads", 2, "ONNX Runtime threads")
	fs.StringVar(&rt.Library, "ort-lib", "", "ONNX Runtime library (default $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the setup location)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q (folders go after --data or --sources-in)", fs.Args())
	}
	// --sources-in only makes sense as a table, so it asks for one itself.
	f.PerSource = f.PerSource || len(f.SourcesIn) > 0 || f.Tests
	if err := f.Check(fs.Changed); err != nil {
		return err
	}
	// The files are written after the scoring: refuse what would fail then.
	if err := checkOutputFile("json", f.JSON); err != nil {
		return err
	}
	if err := checkOutputFile("confusion", f.ConfusionPNG); err != nil {
		return err
	}
	if f.ConfusionPNG != "" {
		if err := evaluate.CheckConfusionPath(f.ConfusionPNG); err != nil {
			return err
		}
	}
	return f.Run(rt, env.stdout, env.stderr)
}
