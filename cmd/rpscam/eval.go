package main

import (
	"encoding/json"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/train"
	"github.com/rpscam/rpscam/train/evaluate"
)

// evalFlags are rpscam eval's flags.
type evalFlags struct {
	dirs, sourcesIn       []string
	model, shared, ortLib string
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

// evalSource is one row of the per-source table: a folder of class folders.
type evalSource struct {
	name, dir string
}

func runEval(env *cliEnv, args []string) error {
	f, err := parseEvalFlags(env, args)
	if err != nil {
		return err
	}
	imgs, dirs, sources, err := f.images(env)
	if err != nil {
		return err
	}
	if _, err := os.Stat(f.model); err != nil {
		return usagef("model %s: %v (run scripts/setup.sh or rpscam train, or pass --model)", f.model, err)
	}
	runner, err := infer.LoadBatchRunner(f.model, infer.ProbabilitiesName, f.batch, infer.WithThreads(f.threads), infer.WithLibrary(f.ortLib))
	if err != nil {
		return err
	}
	defer runner.Close()
	labels := runner.Contract().Labels
	if len(labels) == 0 {
		labels = slices.Clone(train.Labels[:])
	}
	items, err := labelImages(imgs, labels)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return usagef("no labelled images left in %s", strings.Join(dirs, ", "))
	}
	preds, err := predict(env, runner, items, f.batch)
	if err != nil {
		return err
	}
	if f.perSource {
		return f.writeSourceTable(env, labels, sources, items, preds)
	}
	return f.writeReport(env, labels, dirs, preds)
}

// images lists what to score: the validation split, the --data folders, or
// with --per-source every source's folder, each image tagged with its
// source. dirs name the folders for the report's header.
func (f *evalFlags) images(env *cliEnv) (imgs []labelledImage, dirs []string, sources []evalSource, err error) {
	if f.validation {
		imgs, dirs, err = validationImages(env, f.shared, f.splitSeed, f.valFrac)
		return imgs, dirs, nil, err
	}
	if f.tests {
		return testImages(f.shared)
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
	if sources, err = listSources(f.sourcesIn, f.dirs); err != nil {
		return nil, nil, nil, err
	}
	for _, s := range sources {
		list, err := sourceImages(s)
		if err != nil {
			return nil, nil, nil, err
		}
		kept, err := f.keep(list, s.name, s.dir)
		if err != nil {
			return nil, nil, nil, err
		}
		imgs = append(imgs, kept...)
		dirs = append(dirs, s.dir)
	}
	return imgs, dirs, sources, nil
}

// keep applies --heldout to the images listed from dir and tags them with
// their per-source row.
func (f *evalFlags) keep(list []capture.LabeledImage, group, dir string) ([]labelledImage, error) {
	heldOut := func(string) bool { return true }
	if f.heldOut {
		var err error
		if heldOut, err = f.heldOutRule(dir); err != nil {
			return nil, err
		}
	}
	var out []labelledImage
	for _, im := range list {
		if heldOut(im.Path) {
			out = append(out, labelledImage{path: im.Path, class: im.Class, group: group})
		}
	}
	return out, nil
}

// heldOutRule says which files of dir rpscam train never trains on: a
// default source's own held-out part (drgfreeman's hashed 20% of files,
// parikshitkumar1's last frames, signdigits' hashed 20% of students), or
// for any other folder the file-name hash that --source folders get.
func (f *evalFlags) heldOutRule(dir string) (func(string) bool, error) {
	shared, err := sharedDir(f.shared)
	if err != nil {
		return train.HeldOut, nil
	}
	exs, ok, err := train.HeldOutPart(shared, dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return train.HeldOut, nil
	}
	held := map[string]bool{}
	for _, ex := range exs {
		abs, _ := filepath.Abs(ex.Path)
		held[abs] = true
	}
	return func(path string) bool {
		abs, _ := filepath.Abs(path)
		return held[abs]
	}, nil
}

// classFolders are the folder names a source's images sit in: rpscam's
// classes.
var classFolders = train.Labels

// sourceImages lists one source's images, all of which must be in class
// folders: an image directly in the source folder has no truth to score.
func sourceImages(s evalSource) ([]capture.LabeledImage, error) {
	list, err := capture.ListImages(s.dir)
	if err != nil {
		return nil, usagef("source %s: %v", s.name, err)
	}
	for _, im := range list {
		if im.Class == "" {
			return nil, usagef("source %s (%s) holds images outside class folders, e.g. %s: put them in %s/ subfolders, or pass the folder above the sources to --sources-in",
				s.name, s.dir, im.Path, strings.Join(classFolders[:], "/ "))
		}
	}
	return list, nil
}

// listSources turns every subfolder of each --sources-in folder, then each
// --data folder, into a named source.
func listSources(parents, dirs []string) ([]evalSource, error) {
	var out []evalSource
	for _, parent := range parents {
		subs, err := subfolders(parent)
		if err != nil {
			return nil, err
		}
		out = append(out, subs...)
	}
	for _, d := range dirs {
		out = append(out, evalSource{name: sourceName(d), dir: d})
	}
	return uniqueNames(out), nil
}

// subfolders are parent's non-hidden folders as sources, sorted by name.
func subfolders(parent string) ([]evalSource, error) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil, usagef("--sources-in %s: %v (pass the folder whose subfolders are the sources, e.g. ../shared/data/eval-only)", parent, err)
	}
	var out []evalSource
	var classes []string
	for _, e := range entries {
		dir := filepath.Join(parent, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue // SOURCES.tsv and other files beside the sources
		}
		if isClassFolder(e.Name()) {
			classes = append(classes, e.Name())
		}
		out = append(out, evalSource{name: e.Name(), dir: dir})
	}
	if len(classes) > 0 {
		return nil, usagef("--sources-in %s: its subfolders are class folders (%s), so it is one source: pass it as --per-source --data %s, or pass the folder above it to --sources-in",
			parent, strings.Join(classes, ", "), parent)
	}
	if len(out) == 0 {
		return nil, usagef("--sources-in %s has no subfolders: pass the folder whose subfolders are the sources (each holding rock/ paper/ scissors/ none/), e.g. ../shared/data/eval-only", parent)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func isClassFolder(name string) bool {
	for _, c := range classFolders {
		if name == c {
			return true
		}
	}
	return false
}

// splitFolders are names that say which part of a source a folder is, not
// whose it is: such a folder is named with its parent (subhih/test).
var splitFolders = map[string]bool{"test": true, "train": true, "val": true, "valid": true, "validation": true}

func sourceName(dir string) string {
	clean := filepath.Clean(dir)
	base := filepath.Base(clean)
	if splitFolders[strings.ToLower(base)] {
		return filepath.Base(filepath.Dir(clean)) + "/" + base
	}
	return base
}

// uniqueNames names sources that share a name by their paths instead, so
// no two rows look alike.
func uniqueNames(srcs []evalSource) []evalSource {
	count := map[string]int{}
	for _, s := range srcs {
		count[s.name]++
	}
	for i, s := range srcs {
		if count[s.name] > 1 {
			srcs[i].name = filepath.Clean(s.dir)
		}
	}
	return srcs
}

// evalItem is one image with its model class index (or
// evaluate.NoneImage) and per-source row.
type evalItem struct {
	path, source, group string
	class               int
}

// labelImages maps class folder names to the model's outputs. A none/
// folder under a model without a none class is still scored, by
// uncertainty only, so old models can be measured on new data.
func labelImages(imgs []labelledImage, labels []string) ([]evalItem, error) {
	index := map[string]int{}
	for i, l := range labels {
		index[l] = i
	}
	if _, ok := index[infer.NoHandLabel]; !ok {
		index[infer.NoHandLabel] = evaluate.NoneImage
	}
	items := make([]evalItem, 0, len(imgs))
	for _, im := range imgs {
		c, ok := index[im.class]
		if !ok {
			return nil, usagef("%s is in folder %q, which is not one of the model's classes (%s): put images in class folders", im.path, im.class, strings.Join(labels, ", "))
		}
		items = append(items, evalItem{path: im.path, source: im.source, group: im.group, class: c})
	}
	return items, nil
}

// predict runs the model on every item in batches through the live path's
// preprocessing (the same code as infer.Classifier).
func predict(env *cliEnv, runner *infer.BatchRunner, items []evalItem, batch int) ([]evaluate.Prediction, error) {
	pre, err := infer.NewPreprocessor(runner.Contract())
	if err != nil {
		return nil, err
	}
	defer pre.Close()
	size := pre.Size()
	prog := train.NewProgress(env.stderr, "eval", len(items), term.IsTerminal(env.stderr))
	preds := make([]evaluate.Prediction, 0, len(items))
	buf := make([]uint8, batch*size)
	k := runner.OutputDim()
	for start := 0; start < len(items); start += batch {
		part := items[start:min(start+batch, len(items))]
		for i, it := range part {
			if err := preprocessFile(pre, it.path, buf[i*size:(i+1)*size]); err != nil {
				return nil, err
			}
		}
		probs, err := runner.Run(buf[:len(part)*size], len(part))
		if err != nil {
			return nil, err
		}
		for i, it := range part {
			preds = append(preds, evaluate.Prediction{Path: it.path, Source: it.source, Actual: it.class, Probs: probs[i*k : (i+1)*k]})
		}
		prog.Update(start + len(part))
	}
	return preds, nil
}

func preprocessFile(pre *infer.Preprocessor, path string, dst []uint8) error {
	img, err := capture.ReadImage(path)
	if err != nil {
		return err
	}
	defer img.Close()
	if err := pre.IntoUint8(img, image.Rectangle{}, dst); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// scoredOnly drops none images that a model without a none class cannot
// be right or wrong on, leaving what the confusion matrix counts.
func scoredOnly(preds []evaluate.Prediction) []evaluate.Prediction {
	out := make([]evaluate.Prediction, 0, len(preds))
	for _, p := range preds {
		if p.Actual != evaluate.NoneImage {
			out = append(out, p)
		}
	}
	return out
}

// writeReport is the single report: accuracy, per-class table, confusion
// matrix, mistakes, samples, and the none figures when they apply.
func (f *evalFlags) writeReport(env *cliEnv, labels, dirs []string, preds []evaluate.Prediction) error {
	scored := scoredOnly(preds)
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
		fmt.Fprintf(env.stdout, "\n%s", evaluate.SampleLines(labels, sampleSpread(scored, f.samples), f.samples))
	}
	if err := f.writeConfusion(env, rep, filepath.Base(dirs[0])); err != nil {
		return err
	}
	type jsonReport struct {
		evaluate.Report
		Model     string            `json:"model"`
		Data      []string          `json:"data"`
		HeldOut   bool              `json:"heldout_only"`
		Split     string            `json:"split,omitempty"`
		Threshold *float64          `json:"threshold,omitempty"`
		None      *evaluate.Figures `json:"gestures_and_none,omitempty"`
	}
	out := jsonReport{Report: rep, Model: f.model, Data: dirs, HeldOut: f.heldOut}
	if f.validation {
		out.Split = "validation"
	}
	if showNone {
		out.Threshold, out.None = &f.threshold, &figs
	}
	return writeEvalJSON(env, f.jsonOut, out)
}

// writeSourceTable is --per-source: the table, worst source first.
func (f *evalFlags) writeSourceTable(env *cliEnv, labels []string, sources []evalSource, items []evalItem, preds []evaluate.Prediction) error {
	groups := make([]evaluate.SourcePredictions, len(sources))
	row := map[string]int{}
	for i, s := range sources {
		groups[i] = evaluate.SourcePredictions{Name: s.name, Data: s.dir}
		row[s.name] = i
	}
	for i, it := range items {
		g := &groups[row[it.group]]
		g.Preds = append(g.Preds, preds[i])
	}
	table, err := evaluate.NewSourceTable(labels, groups, f.threshold, f.target)
	if err != nil {
		return err
	}
	part := map[bool]string{true: " (held-out part)"}[f.heldOut]
	fmt.Fprintf(env.stdout, "model %s on %d sources%s: %d images (uncertain: top probability below %.2f)\n\n", f.model, len(sources), part, len(preds), f.threshold)
	table.WriteText(env.stdout)
	rep, err := evaluate.Score(labels, scoredOnly(preds), 0)
	if err != nil {
		return err
	}
	if err := f.writeConfusion(env, rep, fmt.Sprintf("pooled over %d sources", len(sources))); err != nil {
		return err
	}
	type jsonTable struct {
		evaluate.SourceTable
		Model   string `json:"model"`
		HeldOut bool   `json:"heldout_only"`
		// Confusion is pooled over the sources, [actual][predicted],
		// without the none images of a model that has no none class.
		Confusion [][]int `json:"pooled_confusion"`
	}
	return writeEvalJSON(env, f.jsonOut, jsonTable{SourceTable: table, Model: f.model, HeldOut: f.heldOut, Confusion: rep.Confusion})
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

// labelledImage is one image to score, with its class folder's name, for
// the validation split its training source, and with --per-source its row.
type labelledImage struct {
	path, class, source, group string
}

// validationImages lists the validation split of rpscam train's default
// sources with the same code and seed that train splits them with, so a
// recipe or a parameter average can be chosen on exactly those images.
// testImages lists the test part of every default training source, each a
// row of the per-source table.
func testImages(sharedFlag string) (imgs []labelledImage, dirs []string, sources []evalSource, err error) {
	shared, err := sharedDir(sharedFlag)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, t := range train.DefaultTestSets(shared) {
		exs, err := t.Examples()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("test set %s: %w", t.Name, err)
		}
		sources = append(sources, evalSource{name: t.Name, dir: t.Src.Dir})
		dirs = append(dirs, t.Src.Dir)
		for _, ex := range exs {
			imgs = append(imgs, labelledImage{path: ex.Path, class: train.Labels[ex.Class], group: t.Name})
		}
	}
	return imgs, dirs, sources, nil
}

func validationImages(env *cliEnv, sharedFlag string, splitSeed uint64, valFrac float64) ([]labelledImage, []string, error) {
	shared, err := sharedDir(sharedFlag)
	if err != nil {
		return nil, nil, err
	}
	cfg := train.DefaultConfig(train.DefaultSources(shared))
	cfg.SplitSeed, cfg.ValFraction = splitSeed, valFrac
	sp, err := train.SplitSources(cfg, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	var dirs []string
	for _, s := range cfg.Sources {
		dirs = append(dirs, s.Dir)
	}
	out := make([]labelledImage, len(sp.Validation))
	for i, ex := range sp.Validation {
		out[i] = labelledImage{path: ex.Path, class: train.Labels[ex.Class], source: ex.Source}
	}
	return out, dirs, nil
}

// sampleSpread picks n predictions spread evenly over the list, so the
// sample lines show every class rather than the first folder's files.
func sampleSpread(preds []evaluate.Prediction, n int) []evaluate.Prediction {
	if n >= len(preds) {
		return preds
	}
	out := make([]evaluate.Prediction, n)
	for i := range out {
		out[i] = preds[i*len(preds)/n]
	}
	return out
}
