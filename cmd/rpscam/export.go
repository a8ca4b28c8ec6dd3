package main

import (
	"fmt"
	"strings"

	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/model"
)

func runExport(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "export", "--params FILE [flags]",
		"rpscam export                                   # models/rps_head.params -> models/rps_mobilenetv2.onnx",
		"rpscam export --params /tmp/head.params --out /tmp/rps.onnx",
		"rpscam export --meta note=experiment-3",
		"rpscam export --params a.params --params b.params --params-out soup.params --out soup.onnx   # average two runs")
	params := fs.StringArray("params", []string{"models/rps_head.params"}, "trained head (and fine-tuned layers) written by rpscam train; repeat to average runs fine-tuned from the same backbone (a model soup)")
	paramsOut := fs.String("params-out", "", "also write the parameters (the average, with several --params) to this file")
	out := fs.String("out", defaultModel, "ONNX file to write")
	w := addWeightsFlags(fs)
	extra := fs.StringArray("meta", nil, "extra metadata key=value (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	sets, err := model.ReadRuns(*params)
	if err != nil {
		return err
	}
	p, err := model.AverageParams(sets...)
	if err != nil {
		return err
	}
	// The head only fits the features it was trained on: default to the
	// weights the params name, and refuse others.
	if w.Want, err = p.TrainedOn(); err != nil {
		return fmt.Errorf("%s: %w", *params, err)
	}
	b, err := model.LoadChosen(*w)
	if err != nil {
		return err
	}
	meta := map[string]string{model.MetaBackboneWeights: b.Source.Weights.Name}
	if len(sets) > 1 {
		if err := model.MarkAveraged(p, meta, *params); err != nil {
			return err
		}
	}
	for _, kv := range *extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usagef("--meta %q: want key=value", kv)
		}
		meta[k] = v
	}
	if *paramsOut != "" {
		if err := model.WriteParams(*paramsOut, p, model.Float16Layers()); err != nil {
			return err
		}
	}
	m, err := model.BuildONNX(b, p, meta)
	if err != nil {
		return err
	}
	if err := model.WriteONNX(*out, m); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "export: %s + %s -> %s: classes %s, %d fine-tuned layers, outputs %s\n",
		b.Source.File, strings.Join(*params, " + "), *out, strings.Join(p.Labels, ","), len(p.Layers), outputNames(m.Graph.Outputs))
	return nil
}

func outputNames(vs []onnx.ValueInfo) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return strings.Join(names, ",")
}
