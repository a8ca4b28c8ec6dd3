package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/quantize"
)

func runQuantize(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "quantize", "[flags]",
		"rpscam quantize                                 # models/rps_mobilenetv2.onnx -> models/rps_mobilenetv2_int8.onnx",
		"rpscam quantize --calib 100 --method percentile --out /tmp/int8.onnx",
		"rpscam quantize --params /tmp/head.params --model /tmp/rps.onnx --out /tmp/rps_int8.onnx")
	var cfg quantize.Config
	var method, jsonOut, shared string
	fs.StringVar(&cfg.Model, "model", defaultModel, "the float model, as rpscam export built it from --params")
	fs.StringVar(&cfg.Params, "params", "models/rps_head.params", "the trained parameters the float model was built from")
	fs.StringVar(&cfg.Out, "out", defaultInt8Model, "int8 ONNX file to write")
	fs.IntVar(&cfg.Calib, "calib", quantize.DefaultCalibration, "training images to calibrate the activation ranges on")
	fs.StringVar(&method, "method", string(quantize.DefaultMethod), "activation ranges: percentile (0.01% of a sample cut off each end) or minmax (smallest to largest value seen)")
	fs.BoolVar(&cfg.SkipEval, "no-eval", false, "skip the comparison with the float model (faster; --precision auto then never picks the int8 model)")
	fs.StringVar(&shared, "shared", "", "shared data folder (default $RPSCAM_SHARED, else ../shared next to the repository)")
	fs.IntVar(&cfg.Batch, "batch", 16, "images per ONNX Runtime call")
	fs.IntVar(&cfg.Threads, "threads", 0, "ONNX Runtime threads (0: one per physical core)")
	fs.StringVar(&cfg.Library, "ort-lib", "", "ONNX Runtime library (default $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the setup location)")
	fs.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file (\"-\" for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	m, err := quantize.ParseMethod(method)
	if err != nil {
		return usagef("--method: %v", err)
	}
	cfg.Method = m
	if cfg.Shared, err = shareddata.Dir(shared); err != nil {
		return err
	}
	cfg.Log = env.stderr
	rep, err := quantize.Run(cfg)
	var ce *quantize.ConfigError
	if errors.As(err, &ce) {
		return usagef("--%s", ce.Error())
	}
	if err != nil {
		return exitError(err)
	}
	printQuantize(env.stdout, rep)
	if jsonOut != "" {
		return writeJSONTo(env, jsonOut, rep)
	}
	return nil
}

func printQuantize(w io.Writer, rep *quantize.Report) {
	s := rep.Summary
	fmt.Fprintf(w, "quantize: %s: %d convolutions int8 (per-channel symmetric weights, %d pair-safe), %d adds; uint8 activations, %s ranges from %d training images; input: the uint8 image at scale %.6g, zero point %d\n",
		rep.Out, s.Convs, s.PairSafeConvs, s.Adds, rep.Method, rep.Calib, s.InputParams.Scale, s.InputParams.ZeroPoint)
	fmt.Fprintf(w, "file: %.2f MB (float model %.2f MB)\n", float64(rep.Bytes)/1e6, float64(rep.FloatBytes)/1e6)
	verdict := "every convolution runs on integer kernels"
	if !rep.Fusion.Fused() {
		verdict = fmt.Sprintf("NOT fused: %d float convolutions left", rep.Fusion.FloatConvs)
	}
	fmt.Fprintf(w, "ONNX Runtime's optimized graph: %s (%s)\n", verdict, rep.Fusion)
	if len(rep.Sets) > 0 {
		fmt.Fprintf(w, "%-22s %6s %8s %8s %8s\n", "set", "images", "fp32", "int8", "same")
		for _, f := range rep.Sets {
			fmt.Fprintf(w, "%-22s %6d %7.2f%% %7.2f%% %7.2f%%\n", f.Name, f.Images, 100*f.FP32, 100*f.INT8, 100*f.Agreement)
		}
	}
	fmt.Fprintf(w, "accuracy bar (within %.1f points of fp32 everywhere, same prediction on >= %.0f%%): %s\n",
		100*quantize.Bar.MaxDrop, 100*quantize.Bar.MinAgreement, rep.Bar)
	fmt.Fprintf(w, "took %s\n", rep.Took.Round(100_000_000))
}

// writeJSONTo writes v as indented JSON to path ("-": stdout).
func writeJSONTo(env *cliEnv, path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = env.stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
