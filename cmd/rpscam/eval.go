package main

import (
	"encoding/json"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/train"
	"github.com/rpscam/rpscam/train/evaluate"
)

func runEval(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "eval", "--data DIR [--data DIR ...] [flags]",
		"rpscam eval --data ../shared/data/rps-cgi/test",
		"rpscam eval --data ../shared/data/rps-real/sxsw/test --json out/sxsw.json --confusion out/sxsw-confusion.png",
		"rpscam eval --data ../shared/data/rps-real/drgfreeman --heldout   # only the files training never sees",
		"rpscam eval --validation --model /tmp/soup.onnx                 # the images rpscam train validates on")
	var dirs []string
	fs.StringArrayVar(&dirs, "data", nil, "folder holding rock/ paper/ scissors/ (class folders may sit deeper, e.g. DIR/test/rock); repeatable")
	modelPath := fs.String("model", "models/rps_mobilenetv2.onnx", "ONNX model to evaluate")
	heldOut := fs.Bool("heldout", false, "keep only the files rpscam train holds out of hold-out sources (drgfreeman's fixed 20%)")
	validation := fs.Bool("validation", false, "score the validation split of rpscam train's default sources (the images that choose epochs and recipes) instead of --data")
	shared := fs.String("shared", "", "with --validation: shared data folder (default $RPSCAM_SHARED, else ../shared)")
	def := train.DefaultConfig(nil) // rpscam train's defaults, so both name the same split
	splitSeed := fs.Uint64("split-seed", def.SplitSeed, "with --validation: the --split-seed rpscam train used")
	valFrac := fs.Float64("val-fraction", def.ValFraction, "with --validation: the validation share rpscam train used")
	jsonOut := fs.String("json", "", "write the report as one JSON object to this file (\"-\" for stdout)")
	confusion := fs.String("confusion", "", "write the confusion matrix as a PNG")
	worst := fs.Int("worst", 10, "how many of the most confident mistakes to list")
	samples := fs.Int("samples", 9, "how many tutorial-style \"Actual / Predicted\" lines to print")
	batch := fs.Int("batch", 16, "images per ONNX Runtime call")
	threads := fs.Int("threads", 2, "ONNX Runtime threads")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime library (default $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the setup location)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *validation && len(dirs) > 0:
		return usagef("--validation scores rpscam train's validation split: drop --data, or drop --validation")
	case *validation && *heldOut:
		return usagef("--heldout picks from --data folders; --validation has no held-out part")
	case *validation && (*valFrac <= 0 || *valFrac >= 1):
		return usagef("--val-fraction %g: use a share between 0 and 1, e.g. 0.15 (rpscam train's default)", *valFrac)
	case !*validation && len(dirs) == 0:
		return usagef("no --data folder: pass one or more folders of rock/ paper/ scissors/ images (or --validation)")
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q (folders go after --data)", fs.Args())
	}
	if *batch < 1 {
		return usagef("--batch %d: want 1 or more", *batch)
	}
	if _, err := os.Stat(*modelPath); err != nil {
		return usagef("model %s: %v (run scripts/setup.sh or rpscam train, or pass --model)", *modelPath, err)
	}
	runner, err := infer.LoadBatchRunner(*modelPath, infer.ProbabilitiesName, *batch, infer.WithThreads(*threads), infer.WithLibrary(*ortLib))
	if err != nil {
		return err
	}
	defer runner.Close()
	contract := runner.Contract()
	labels := contract.Labels
	if len(labels) == 0 {
		labels = train.Labels
	}
	index := map[string]int{}
	for i, l := range labels {
		index[l] = i
	}
	var imgs []labelledImage
	if *validation {
		if imgs, dirs, err = validationImages(env, *shared, *splitSeed, *valFrac); err != nil {
			return err
		}
	} else {
		list, err := capture.ListImages(dirs...)
		if err != nil {
			return usageError{err}
		}
		for _, im := range list {
			if !*heldOut || train.HeldOut(im.Path) {
				imgs = append(imgs, labelledImage{path: im.Path, class: im.Class})
			}
		}
	}
	type item struct {
		path, source string
		class        int
	}
	var items []item
	for _, im := range imgs {
		c, ok := index[im.class]
		if !ok {
			return usagef("%s is in folder %q, which is not one of the model's classes (%s): put images in class folders", im.path, im.class, strings.Join(labels, ", "))
		}
		items = append(items, item{im.path, im.source, c})
	}
	if len(items) == 0 {
		return usagef("no labelled images left in %s", strings.Join(dirs, ", "))
	}
	// The live path's preprocessing, the same code as infer.Classifier.
	pre, err := infer.NewPreprocessor(contract)
	if err != nil {
		return err
	}
	defer pre.Close()
	size := pre.Size()
	prog := train.NewProgress(env.stderr, "eval", len(items), isTerminal(env.stderr))
	preds := make([]evaluate.Prediction, 0, len(items))
	buf := make([]uint8, *batch*size)
	k := runner.OutputDim()
	for start := 0; start < len(items); start += *batch {
		part := items[start:min(start+*batch, len(items))]
		for i, it := range part {
			img, err := capture.ReadImage(it.path)
			if err != nil {
				return err
			}
			err = pre.IntoUint8(img, image.Rectangle{}, buf[i*size:(i+1)*size])
			img.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", it.path, err)
			}
		}
		probs, err := runner.Run(buf[:len(part)*size], len(part))
		if err != nil {
			return err
		}
		for i, it := range part {
			preds = append(preds, evaluate.Prediction{Path: it.path, Source: it.source, Actual: it.class, Probs: probs[i*k : (i+1)*k]})
		}
		prog.Update(start + len(part))
	}
	rep, err := evaluate.Score(labels, preds, *worst)
	if err != nil {
		return err
	}
	part := map[bool]string{true: " (held-out part)"}[*heldOut]
	if *validation {
		part = fmt.Sprintf(" (validation split, split seed %d, fraction %g)", *splitSeed, *valFrac)
	}
	fmt.Fprintf(env.stdout, "model %s on %s%s: %d images\n\n", *modelPath, strings.Join(dirs, ", "), part, rep.N)
	rep.WriteText(env.stdout)
	if *samples > 0 {
		fmt.Fprintf(env.stdout, "\n%s", evaluate.SampleLines(labels, sampleSpread(preds, *samples), *samples))
	}
	if *confusion != "" {
		if err := os.MkdirAll(filepath.Dir(*confusion), 0o755); err != nil {
			return err
		}
		if err := rep.WriteConfusionPNG(*confusion, filepath.Base(dirs[0])); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "\nconfusion matrix: %s\n", *confusion)
	}
	if *jsonOut != "" {
		type jsonReport struct {
			evaluate.Report
			Model   string   `json:"model"`
			Data    []string `json:"data"`
			HeldOut bool     `json:"heldout_only"`
			Split   string   `json:"split,omitempty"`
		}
		split := ""
		if *validation {
			split = "validation"
		}
		data, err := json.MarshalIndent(jsonReport{Report: rep, Model: *modelPath, Data: dirs, HeldOut: *heldOut, Split: split}, "", "  ")
		if err != nil {
			return err
		}
		data = append(data, '\n')
		if *jsonOut == "-" {
			_, err = env.stdout.Write(data)
			return err
		}
		if err := os.MkdirAll(filepath.Dir(*jsonOut), 0o755); err != nil {
			return err
		}
		return os.WriteFile(*jsonOut, data, 0o644)
	}
	return nil
}

// labelledImage is one image to score, with its class folder's name and,
// for the validation split, its training source.
type labelledImage struct {
	path, class, source string
}

// validationImages lists the validation split of rpscam train's default
// sources with the same code and seed that train splits them with, so a
// recipe or a parameter average can be chosen on exactly those images.
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
