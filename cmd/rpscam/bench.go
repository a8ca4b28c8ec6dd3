package main

import (
	"encoding/json"
	"fmt"

	"github.com/rpscam/rpscam/bench"
	"github.com/rpscam/rpscam/session"
)

func runBench(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "bench", "--input SOURCE [flags]",
		"rpscam bench --input out/demo.mp4 --frames 500",
		"rpscam bench --input out/demo.mp4 --frames 500 --json > bench.json",
		"rpscam bench --input out/demo.mp4 --output /tmp/annotated.mp4   # also measure H.264 encoding",
		"rpscam bench --input 0 --frames 300 --threads 2",
		"rpscam bench --compare --input out/demo.mp4   # ONNX Runtime fp32/int8, OpenCV DNN, CUDA: one table")
	sf := newSessionFlags(fs).addSourceFlags("").addModelFlags(true)
	frames := fs.IntP("frames", "n", 500, "frames to measure, after the warm-up")
	warmup := fs.Int("warmup", 20, "frames processed first and left out of the numbers")
	iters := fs.Int("infer-iters", 1000, "inferences in the model-only loop after the pipeline run")
	output := fs.StringP("output", "o", "", "also encode the annotated frames to this video, so the output stage includes encoding (default: the output stage is empty and overlay is drawn but not encoded)")
	asJSON := fs.Bool("json", false, "write the report as one JSON object on stdout")
	cf := addCompareFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cf.job != "" {
		return compareChild(env, cf.job)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: the source goes in --input", fs.Args())
	}
	if sf.input == "" {
		return usagef("--input is required: a video file (rpscam democlip makes one), camera index, URL or pipeline")
	}
	if *frames < 1 || *warmup < 0 || *iters < 1 {
		return usagef("--frames and --infer-iters must be at least 1, --warmup not negative")
	}

	ctx, stop := signalContext()
	defer stop()
	if cf.compare {
		return compareCmd(ctx, env, cf, sf, compareRun{input: sf.input, warmup: *warmup, frames: *frames, iters: *iters, asJSON: *asJSON})
	}
	cfg, err := sf.config(env)
	if err != nil {
		return err
	}
	started := func(s *session.Session) {
		if !*asJSON {
			fmt.Fprintf(env.stderr, "bench: %s; %d warm-up + %d frames\n", s.Describe(), *warmup, *frames)
		}
	}
	r, err := bench.Run(ctx, cfg, bench.Options{Warmup: *warmup, Frames: *frames, InferIters: *iters, Output: *output, Started: started})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	r.Print(env.stdout)
	return nil
}
