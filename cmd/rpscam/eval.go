package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/train"
	"github.com/rpscam/rpscam/train/evaluate"
)

// evalFlags are rpscam eval's flags.
type evalFlags struct {
	dirs, sourcesIn       []string
	model, shared, ortLib string
	precision             string
	// choice is the model build --precision picked (run sets it).
	choice                infer.PrecisionChoice
	jsonOut, confusion    string
	heldOut, validation   bool
	perSource, tests      bool
	splitSeed             uint64
	valFrac               float64
	threshold, target     float64
	worst, samples, batch int
	threads               int
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
	fs.StringArrayVar(&f.dirs, "data", nil, "folder holding rock/ paper/ scissors/ and optionally none/ (class folders may sit deeper, e.g. DIR/test/rock); repeatable; with --per-source each is one source")
	fs.BoolVar(&f.perSource, "per-source", false, "one table row per source (each --data folder, each subfolder of --sources-in), worst gesture accuracy first, then the mean over sources and the pooled totals")
	fs.StringArrayVar(&f.sourcesIn, "sources-in", nil, "with --per-source (implied): every subfolder of this folder is one source, e.g. ../shared/data/eval-only; repeatable")
	fs.StringVar(&f.model, "model", "models/rps_mobilenetv2.onnx", "ONNX model to evaluate")
	fs.StringVar(&f.precision, "precision", "auto", precisionUsage)
	fs.Float64Var(&f.threshold, "threshold", 0.6, "below this top probability a label is uncertain (0..1), as in the video commands: a none image labelled none or uncertain shows no gesture")
	fs.Float64Var(&f.target, "source-target", 0.9, "with --per-source: count and name the sources whose gesture accuracy is below this (0..1)")
	fs.BoolVar(&f.heldOut, "heldout", false, "keep only the files rpscam train holds out of hold-out sources (drgfreeman's, parikshitkumar1's and signdigits' fixed 20%)")
	fs.BoolVar(&f.tests, "tests", false, "one row per training source's test part (rpscam train's default sources: upstream test splits and fixed held-out parts, never trained on), as --per-source")
	fs.BoolVar(&f.validation, "validation", false, "score the validation split of rpscam train's default sources (the images that choose epochs and recipes) instead of --data")
	fs.StringVar(&f.shared, "shared", "", "with --validation or --heldout: shared data folder (default $RPSCAM_SHARED, else ../shared)")
	def := train.DefaultConfig(nil) // rpscam train's defaults, so both name the same split
	fs.Uint64Var(&f.splitSeed, "split-seed", def.SplitSeed, "with --validation: the --split-seed rpscam train used")
	fs.Float64Var(&f.valFrac, "val-fraction", def.ValFraction, "with --validation: the validation share rpscam train used")
	fs.StringVar(&f.jsonOut, "json", "", "write the report as one JSON object to this file (\"-\" for stdout)")
	fs.StringVar(&f.confusion, "confusion", "", "write the confusion matrix as a PNG (with --per-source: pooled over the sources)")
	fs.IntVar(&f.worst, "worst", 10, "how many of the most confident mistakes to list (single report)")
	fs.IntVar(&f.samples, "samples", 9, "how many tutorial-style \"Actual / Predicted\" lines to print (single report)")
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
	f.perSource = f.perSource || len(f.sourcesIn) > 0 || f.tests
	return f, f.check()
}

// check validates the flags before anything is read.
func (f *evalFlags) check() error {
	switch {
	case f.validation && (len(f.dirs) > 0 || f.perSource):
		return usagef("--validation scores rpscam train's validation split: drop --data, --per-source and --sources-in, or drop --validation")
	case f.tests && (f.validation || f.heldOut || len(f.dirs) > 0 || len(f.sourcesIn) > 0):
		return usagef("--tests scores the default sources' test parts (held-out parts included): drop --data, --sources-in, --heldout and --validation, or drop --tests")
	case f.validation && f.heldOut:
		return usagef("--heldout picks from --data folders; --validation has no held-out part")
	case f.validation && (f.valFrac <= 0 || f.valFrac >= 1):
		return usagef("--val-fraction %g: use a share between 0 and 1, e.g. 0.15 (rpscam train's default)", f.valFrac)
	case f.perSource && !f.tests && len(f.dirs) == 0 && len(f.sourcesIn) == 0:
		return usagef("--per-source needs sources: pass --sources-in DIR (every subfolder of DIR is a source, e.g. ../shared/data/eval-only) or one --data folder per source")
	case !f.validation && !f.tests && len(f.dirs) == 0 && len(f.sourcesIn) == 0:
		return usagef("no --data folder: pass one or more folders of rock/ paper/ scissors/ (none/) images, --sources-in DIR, or --validation")
	case f.perSource && (f.setFlags["worst"] || f.setFlags["samples"]):
		return usagef("--worst and --samples shape the single report; the --per-source table has neither: drop them, or drop --per-source and --sources-in")
	case !f.perSource && f.setFlags["source-target"]:
		return usagef("--source-target counts sources in the --per-source table: add --per-source, or drop it")
	case f.batch < 1:
		return usagef("--batch %d: want 1 or more", f.batch)
	case !(f.threshold >= 0 && f.threshold <= 1):
		return usagef("--threshold %v is outside 0..1", f.threshold)
	case !(f.target > 0 && f.target <= 1):
		return usagef("--source-target %v is outside 0..1: use a share, e.g. 0.9 for 90%%", f.target)
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
	imgs, dirs, sources, err := f.images()
	if err != nil {
		return err
	}
	if _, err := os.Stat(f.model); err != nil {
		return usagef("model %s: %v (run scripts/setup.sh or rpscam train, or pass --model)", f.model, err)
	}
	if f.choice, err = resolvePrecision(f.model, true, f.precision); err != nil {
		return exitError(err)
	}
	f.model = f.choice.Path
	runner, err := infer.LoadBatchRunner(f.model, infer.ProbabilitiesName, f.batch, infer.WithThreads(f.threads), infer.WithLibrary(f.ortLib))
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
	if f.perSource {
		return f.writeSourceTable(env, labels, evaluate.GroupBySource(sources, items, preds), preds)
	}
	return f.writeReport(env, labels, dirs, preds)
}

// images lists what to score: the validation split, the --data folders, or
// with --per-source every source's folder, each image tagged with its
// source. dirs name the folders for the report's header.
func (f *evalFlags) images() (imgs []evaluate.Image, dirs []string, sources []evaluate.Source, err error) {
	if f.validation || f.tests {
		shared, err := shareddata.Dir(f.shared)
		if err != nil {
			return nil, nil, nil, err
		}
		if f.tests {
			return evaluate.TestImages(shared)
		}
		imgs, dirs, err = evaluate.ValidationImages(shared, f.splitSeed, f.valFrac)
		return imgs, dirs, nil, err
	}
	if !f.perSource {
		for _, dir := range f.dirs {
			list, err := capture.ListImages(dir)
			if err != nil {
				return nil, nil, nil, usageError{err}
			}
			kept, err := f.keep(list, "", dir)
			if err != nil {
				return nil, nil, nil, err
			}
			imgs = append(imgs, kept...)
		}
		return imgs, f.dirs, nil, nil
	}
	if sources, err = evaluate.ListSources(f.sourcesIn, f.dirs); err != nil {
		return nil, nil, nil, err
	}
	for _, s := range sources {
		list, err := evaluate.SourceImages(s)
		if err != nil {
			return nil, nil, nil, err
		}
		kept, err := f.keep(list, s.Name, s.Dir)
		if err != nil {
			return nil, nil, nil, err
		}
		imgs = append(imgs, kept...)
		dirs = append(dirs, s.Dir)
	}
	return imgs, dirs, sources, nil
}

// keep applies --heldout to the images listed from dir and tags them with
// their per-source row.
func (f *evalFlags) keep(list []capture.LabeledImage, group, dir string) ([]evaluate.Image, error) {
	if !f.heldOut {
		return evaluate.Tag(list, group, nil), nil
	}
	shared, err := shareddata.Dir(f.shared)
	if err != nil {
		shared = "" // no shared folder: the file-name hash
	}
	heldOut, err := evaluate.HeldOutRule(shared, dir)
	if err != nil {
		return nil, err
	}
	return evaluate.Tag(list, group, heldOut), nil
}

// writeReport is the single report: accuracy, per-class table, confusion
// matrix, mistakes, samples, and the none figures when they apply.
func (f *evalFlags) writeReport(env *cliEnv, labels, dirs []string, preds []evaluate.Prediction) error {
	scored := evaluate.ScoredOnly(preds)
	rep, err := evaluate.Score(labels, scored, f.worst)
	if err != nil {
		return err
	}
	figs, err := evaluate.Tally(labels, preds, f.threshold)
	if err != nil {
		return err
	}
	// The none lines appear only where they say something, so a 3-class
	// model on gesture folders prints exactly what it always did.
	showNone := evaluate.HasNone(labels) || figs.NoneImages > 0
	part := map[bool]string{true: " (held-out part)"}[f.heldOut]
	if f.validation {
		part = fmt.Sprintf(" (validation split, split seed %d, fraction %g)", f.splitSeed, f.valFrac)
	}
	fmt.Fprintf(env.stdout, "model %s on %s%s: %d images\n\n", f.model, strings.Join(dirs, ", "), part, rep.N)
	rep.WriteText(env.stdout)
	if showNone {
		fmt.Fprintln(env.stdout)
		figs.WriteNoneText(env.stdout, labels, f.threshold)
	}
	if f.samples > 0 {
		fmt.Fprintf(env.stdout, "\n%s", evaluate.SampleLines(labels, evaluate.SampleSpread(scored, f.samples), f.samples))
	}
	if err := f.writeConfusion(env, rep, filepath.Base(dirs[0])); err != nil {
		return err
	}
	type jsonReport struct {
		evaluate.Report
		Model     string            `json:"model"`
		Precision string            `json:"precision"`
		Data      []string          `json:"data"`
		HeldOut   bool              `json:"heldout_only"`
		Split     string            `json:"split,omitempty"`
		Threshold *float64          `json:"threshold,omitempty"`
		None      *evaluate.Figures `json:"gestures_and_none,omitempty"`
	}
	out := jsonReport{Report: rep, Model: f.model, Precision: f.choice.String(), Data: dirs, HeldOut: f.heldOut}
	if f.validation {
		out.Split = "validation"
	}
	if showNone {
		out.Threshold, out.None = &f.threshold, &figs
	}
	return writeEvalJSON(env, f.jsonOut, out)
}

// writeSourceTable is --per-source: the table, worst source first.
func (f *evalFlags) writeSourceTable(env *cliEnv, labels []string, groups []evaluate.SourcePredictions, preds []evaluate.Prediction) error {
	table, err := evaluate.NewSourceTable(labels, groups, f.threshold, f.target)
	if err != nil {
		return err
	}
	part := map[bool]string{true: " (held-out part)"}[f.heldOut]
	fmt.Fprintf(env.stdout, "model %s on %d sources%s: %d images (uncertain: top probability below %.2f)\n\n", f.model, len(groups), part, len(preds), f.threshold)
	table.WriteText(env.stdout)
	rep, err := evaluate.Score(labels, evaluate.ScoredOnly(preds), 0)
	if err != nil {
		return err
	}
	if err := f.writeConfusion(env, rep, fmt.Sprintf("pooled over %d sources", len(groups))); err != nil {
		return err
	}
	type jsonTable struct {
		evaluate.SourceTable
		Model     string `json:"model"`
		Precision string `json:"precision"`
		HeldOut   bool   `json:"heldout_only"`
		// Confusion is pooled over the sources, [actual][predicted],
		// without the none images of a model that has no none class.
		Confusion [][]int `json:"pooled_confusion"`
	}
	return writeEvalJSON(env, f.jsonOut, jsonTable{SourceTable: table, Model: f.model, Precision: f.choice.String(), HeldOut: f.heldOut, Confusion: rep.Confusion})
}

// writeConfusion writes --confusion, when given.
func (f *evalFlags) writeConfusion(env *cliEnv, rep evaluate.Report, title string) error {
	if f.confusion == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(f.confusion), 0o755); err != nil {
		return err
	}
	if err := rep.WriteConfusionPNG(f.confusion, title); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "\nconfusion matrix: %s\n", f.confusion)
	return nil
}

// writeEvalJSON writes v indented to path ("-" for stdout; "" writes nothing).
func writeEvalJSON(env *cliEnv, path string, v any) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = env.stdout.Write(data)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
