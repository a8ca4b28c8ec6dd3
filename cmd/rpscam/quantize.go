package main

import (
	"encoding/json"
	"os"

	"github.com/rpscam/rpscam/quantize"
)

func runQuantize(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "quantize", "[flags]",
		"rpscam quantize                                 # models/rps_mobilenetv2.onnx -> models/rps_mobilenetv2_int8.onnx",
		"rpscam quantize --calib 100 --method percentile --out /tmp/int8.onnx",
		"rpscam quantize --params /tmp/head.params --model /tmp/rps.onnx --out /tmp/rps_int8.onnx")
	var cfg quantize.Config
	var jsonOut string
	fs.StringVar(&cfg.Model, "model", defaultModel, "the float model, as rpscam export built it from --params")
	fs.StringVar(&cfg.Params, "params", "models/rps_head.params", "the trained parameters the float model was built from")
	fs.StringVar(&cfg.Out, "out", defaultInt8Model, "int8 ONNX file to write, in an existing folder")
	fs.IntVar(&cfg.Calib, "calib", quantize.DefaultCalibration, "training images to calibrate the activation ranges on")
	fs.StringVar((*string)(&cfg.Method), "method", string(quantize.DefaultMethod), "activation ranges: percentile (0.01% of a sample cut off each end) or minmax (smallest to largest value seen)")
	fs.BoolVar(&cfg.SkipEval, "no-eval", false, "skip the comparison with the float model (faster; --precision auto then never picks the int8 model)")
	fs.StringVar(&cfg.Shared, "shared", "", "shared data folder (default $RPSCAM_SHARED, else ../shared next to the repository)")
	fs.IntVar(&cfg.Batch, "batch", 16, "images per ONNX Runtime call")
	fs.IntVar(&cfg.Threads, "threads", 0, "ONNX Runtime threads (0: one per physical core)")
	fs.StringVar(&cfg.Library, "ort-lib", "", "ONNX Runtime library (default $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the setup location)")
	fs.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file in an existing folder (\"-\": to stdout, the text report then to stderr)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	// quantize.Config reads 0 as "the default" for callers that leave a
	// field unset; a flag set to 0 is a mistake, as --batch 0 is for eval.
	if cfg.Calib < 1 {
		return usagef("--calib %d: want 1 or more training images (default %d)", cfg.Calib, quantize.DefaultCalibration)
	}
	if cfg.Batch < 1 {
		return usagef("--batch %d: want 1 or more images per ONNX Runtime call (default 16)", cfg.Batch)
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	// Both files are written after minutes of calibration and comparison:
	// refuse now what would fail then.
	if err := checkOutputFile("out", cfg.Out); err != nil {
		return err
	}
	if err := checkOutputFile("json", jsonOut); err != nil {
		return err
	}
	cfg.Log = env.stderr
	rep, err := quantize.Run(cfg)
	if err != nil {
		return err
	}
	text := env.stdout
	if jsonOut == "-" {
		// stdout then holds nothing but the JSON, so that it pipes into a
		// JSON reader; the report goes to stderr with the progress lines.
		text = env.stderr
	}
	rep.WriteText(text)
	if jsonOut != "" {
		return writeJSONTo(env, jsonOut, rep)
	}
	return nil
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
