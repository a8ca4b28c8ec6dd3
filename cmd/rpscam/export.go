package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/model"
)

func runExport(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "export", "--params FILE [flags]",
		"rpscam export                                   # models/rps_head.params -> models/rps_mobilenetv2.onnx",
		"rpscam export --params /tmp/head.params --out /tmp/rps.onnx",
		"rpscam export --meta note=experiment-3")
	params := fs.String("params", "models/rps_head.params", "trained head (and fine-tuned layers) written by rpscam train")
	out := fs.String("out", "models/rps_mobilenetv2.onnx", "ONNX file to write")
	w := addWeightsFlags(fs)
	extra := fs.StringArray("meta", nil, "extra metadata key=value (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if _, err := os.Stat(*params); err != nil {
		return usagef("params %s: %v (rpscam train writes it; or pass --params)", *params, errors.Unwrap(err))
	}
	p, err := model.ReadParams(*params)
	if err != nil {
		return err
	}
	// The head only fits the features it was trained on: default to the
	// weights the params name, and refuse others.
	var want *model.Weights
	if name := p.Meta[model.MetaBackboneWeights]; name != "" {
		wt, err := model.WeightsByName(name)
		if err != nil {
			return fmt.Errorf("%s: %w", *params, err)
		}
		want = &wt
	}
	b, err := w.load(want)
	if err != nil {
		return err
	}
	meta := map[string]string{model.MetaBackboneWeights: b.Source.Weights.Name}
	for _, kv := range *extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("--meta %q: want key=value", kv)
		}
		meta[k] = v
	}
	m, err := model.BuildONNX(b, p, meta)
	if err != nil {
		return err
	}
	if err := writeModel(*out, m); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "export: %s + %s -> %s: classes %s, %d fine-tuned layers, outputs %s\n",
		b.Source.File, *params, *out, strings.Join(p.Labels, ","), len(p.Layers), outputNames(m.Graph.Outputs))
	return nil
}

func outputNames(vs []onnx.ValueInfo) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return strings.Join(names, ",")
}
