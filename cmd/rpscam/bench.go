package main

import (
	"errors"
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
	var o bench.Options
	fs.IntVarP(&o.Frames, "frames", "n", 500, "frames to measure, after the warm-up")
	fs.IntVar(&o.Warmup, "warmup", 20, "frames processed first and left out of the numbers")
	fs.IntVar(&o.InferIters, "infer-iters", 1000, "inferences in the model-only loop after the pipeline run")
	fs.StringVarP(&o.Output, "output", "o", "", "also encode the annotated frames to this video, so the output stage includes encoding (default: the output stage is empty and overlay is drawn but not encoded)")
	asJSON := fs.Bool("json", false, "write the report as one JSON object on stdout")
	cf := addCompareFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	if cf.job != "" {
		// A row's failure is judged here, where the error value is, by
		// the rule that gives plain bench's exit code.
		setup := func(err error) bool { return errors.As(exitError(err), new(usageError)) }
		return bench.MeasureJobFile(ctx, env.stdout, cf.job, setup)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: the source goes in --input", fs.Args())
	}
	if sf.input == "" {
		return usagef("--input is required: a video file (rpscam democlip makes one), camera index, URL or pipeline")
	}
	if o.Frames < 1 || o.Warmup < 0 || o.InferIters < 1 {
		return usagef("--frames and --infer-iters must be at least 1, --warmup not negative")
	}
	if cf.compare {
		cf.Warmup, cf.Frames, cf.InferIters = o.Warmup, o.Frames, o.InferIters
		return compareCmd(ctx, env, cf, sf, *asJSON)
	}
	cfg, err := sf.config(env)
	if err != nil {
		return err
	}
	o.Started = func(s *session.Session) {
		if !*asJSON {
			fmt.Fprintf(env.stderr, "bench: %s; %d warm-up + %d frames\n", s.Describe(), o.Warmup, o.Frames)
		}
	}
	r, err := bench.Run(ctx, cfg, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return encodeJSON(env.stdout, r)
	}
	r.Print(env.stdout)
	return nil
}
