package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"runtime"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/latency"
	"github.com/rpscam/rpscam/internal/procstat"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/session"
	"github.com/rpscam/rpscam/sink"
)

// benchReport is what bench prints and writes with --json.
type benchReport struct {
	Model    string `json:"model"`
	Provider string `json:"provider"`
	Threads  int    `json:"threads"` // per model instance, as requested; 0 is ONNX Runtime's default
	Workers  int    `json:"workers"` // model instances, in the pipeline and in the model-only loop alike
	Input    string `json:"input"`
	Source   struct {
		Width  int     `json:"width"`
		Height int     `json:"height"`
		FPS    float64 `json:"fps"`
		Live   bool    `json:"live"`
	} `json:"source"`
	Output  string `json:"output,omitempty"` // the encoded file, when --output was given
	Codec   string `json:"codec,omitempty"`
	Warmup  int    `json:"warmup"`
	Frames  int    `json:"frames"` // measured frames, after the warm-up
	Dropped uint64 `json:"dropped"`
	// FPS is end to end: measured frames over the time from the output of the
	// last warm-up frame to the output of the last frame.
	FPS float64 `json:"fps"`
	// InferFPS is the model alone: InferIters runs on one preprocessed frame,
	// after the pipeline run, in the same process with the same settings.
	InferFPS    float64                `json:"infer_fps"`
	InferP50Ms  float64                `json:"infer_p50_ms"`
	InferIters  int                    `json:"infer_iters"`
	Ratio       float64                `json:"fps_over_infer_fps"`
	Stages      map[string]stageMillis `json:"stages"`
	StageOrder  []string               `json:"stage_order"`
	LatencyMs   stageMillis            `json:"latency_ms"`  // per frame, read to output
	CPUPercent  float64                `json:"cpu_percent"` // 100 = one core busy
	PeakRSSMB   float64                `json:"peak_rss_mb"`
	Go          string                 `json:"go"`
	OpenCV      string                 `json:"opencv"`
	ONNXRuntime string                 `json:"onnxruntime"`
	Machine     procstat.Machine       `json:"machine"`
	Smoothing   string                 `json:"smoothing"`
	Notes       []string               `json:"notes,omitempty"`
}

type stageMillis struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func millis(s latency.Summary) stageMillis {
	return stageMillis{P50: latency.Millis(s.P50), P90: latency.Millis(s.P90), P99: latency.Millis(s.P99), Max: latency.Millis(s.Max), Mean: latency.Millis(s.Mean)}
}

func runBench(env *cliEnv, args []string) error {
	return exitError(bench(env, args))
}

func bench(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "bench", "--input SOURCE [flags]",
		"rpscam bench --input out/demo.mp4 --frames 500",
		"rpscam bench --input out/demo.mp4 --frames 500 --json > bench.json",
		"rpscam bench --input out/demo.mp4 --output /tmp/annotated.mp4   # also measure H.264 encoding",
		"rpscam bench --input 0 --frames 300 --threads 2")
	sf := addSourceFlags(fs, "")
	mf := addModelFlags(fs, true)
	frames := fs.IntP("frames", "n", 500, "frames to measure, after the warm-up")
	warmup := fs.Int("warmup", 20, "frames processed first and left out of the numbers")
	iters := fs.Int("infer-iters", 1000, "inferences in the model-only loop after the pipeline run")
	output := fs.StringP("output", "o", "", "also encode the annotated frames to this video, so the output stage includes encoding (default: the output stage is empty and overlay is drawn but not encoded)")
	asJSON := fs.Bool("json", false, "write the report as one JSON object on stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
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
	cfg, err := sessionConfig(env, mf, sf)
	if err != nil {
		return err
	}
	cfg.Warmup, cfg.MaxFrames = *warmup, *warmup+*frames
	s, err := session.Open(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	info := s.Info()

	var sinks []pipeline.Sink
	var rec *sink.Recorder
	if *output != "" {
		if rec, err = sink.NewRecorder(*output, info.FPS, info.Width, info.Height); err != nil {
			return err
		}
		defer rec.Close()
		sinks = append(sinks, rec)
	}
	// probe takes the CPU reading at the end of the warm-up and keeps one
	// frame (unannotated size and type are what matter) for the model-only loop.
	probe := &benchProbe{warmup: *warmup}
	defer probe.close()
	sinks = append(sinks, probe)
	if !*asJSON {
		fmt.Fprintf(env.stderr, "bench: %s; %d warm-up + %d frames\n", s.Describe(), *warmup, *frames)
	}
	if probe.cpuStart, err = procstat.Now(); err != nil {
		return err
	}
	st, err := s.Run(ctx, sinks...)
	if err != nil {
		return err
	}
	cpuEnd, err := procstat.Now()
	if err != nil {
		return err
	}
	if rec != nil {
		if err := rec.Close(); err != nil {
			return fmt.Errorf("finishing %s: %w", rec.Path(), err)
		}
	}
	if st.Measured == 0 {
		return fmt.Errorf("no frames measured: the source gave %d frames, all in the %d-frame warm-up; use a longer clip or a smaller --warmup", st.Frames, *warmup)
	}
	if !probe.kept {
		return errors.New("no frame kept for the inference-only loop")
	}
	inferLoop, err := inferenceOnly(s.Models(), probe.frame, cfg.ROI, *iters)
	if err != nil {
		return err
	}

	r := benchReport{
		Model:       s.Config().Model,
		Provider:    s.Provider(),
		Threads:     s.Config().Threads,
		Workers:     s.Config().Workers,
		ONNXRuntime: s.RuntimeVersion(),
		Input:       info.Spec,
		Warmup:      *warmup,
		Frames:      st.Measured,
		Dropped:     st.Dropped,
		FPS:         st.FPS,
		InferIters:  *iters,
		Stages:      map[string]stageMillis{},
		LatencyMs:   millis(st.Latency),
		CPUPercent:  procstat.CPUPercent(probe.cpuStart, cpuEnd),
		Go:          runtime.Version(),
		OpenCV:      gocv.OpenCVVersion(),
		Machine:     procstat.DescribeMachine(),
		Smoothing:   s.Smoothing(),
	}
	r.Source.Width, r.Source.Height, r.Source.FPS, r.Source.Live = info.Width, info.Height, info.FPS, info.Live
	if rec != nil {
		r.Output, r.Codec = rec.Path(), rec.Codec()
	} else {
		r.Notes = append(r.Notes, "no --output: the output stage encodes nothing; overlay drawing is measured in the overlay stage")
	}
	if st.Measured < *frames {
		r.Notes = append(r.Notes, fmt.Sprintf("the source ended after %d measured frames of the %d asked", st.Measured, *frames))
	}
	for stg := pipeline.Stage(0); stg < pipeline.NumStages; stg++ {
		r.Stages[stg.String()] = millis(st.Stages[stg])
		r.StageOrder = append(r.StageOrder, stg.String())
	}
	if inferLoop.Total > 0 {
		r.InferFPS = float64(inferLoop.Runs) / inferLoop.Total.Seconds()
		r.InferIters = inferLoop.Runs
		r.InferP50Ms = latency.Millis(inferLoop.Summary.P50)
		r.Ratio = r.FPS / r.InferFPS
	}
	if rss, err := procstat.PeakRSS(); err == nil {
		r.PeakRSSMB = float64(rss) / (1 << 20)
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printBench(env, &r)
	return nil
}

// benchProbe is a sink that marks the end of the warm-up.
type benchProbe struct {
	warmup   int
	cpuStart procstat.Sample
	frame    gocv.Mat
	kept     bool
}

func (b *benchProbe) close() {
	if b.kept {
		b.frame.Close()
	}
}

func (b *benchProbe) Consume(a *pipeline.Annotated) error {
	if a.Index == b.warmup-1 {
		if s, err := procstat.Now(); err == nil {
			b.cpuStart = s
		}
	}
	if !b.kept {
		b.frame, b.kept = a.Mat.Clone(), true
	}
	return nil
}

type inferLoopResult struct {
	Total   time.Duration // wall time of the whole loop
	Runs    int
	Summary latency.Summary
}

// inferenceOnly preprocesses frame once and runs every model instance on it
// concurrently, as the pipeline does with --workers, n runs in all. FPS is runs
// over wall time, so it is the model's own throughput with the same instances
// and threads on the same machine, with nothing else competing for the cores.
func inferenceOnly(instances []*infer.Classifier, frame gocv.Mat, roi image.Rectangle, n int) (inferLoopResult, error) {
	input := make([]byte, instances[0].InputBytes())
	if err := instances[0].Preprocess(frame, roi, input); err != nil {
		return inferLoopResult{}, fmt.Errorf("inference-only loop: %w", err)
	}
	per := (n + len(instances) - 1) / len(instances)
	durations := make([][]time.Duration, len(instances))
	errs := make([]error, len(instances))
	var wg sync.WaitGroup
	start := time.Now()
	for i, inst := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < per; j++ {
				r, err := inst.Infer(input)
				if err != nil {
					errs[i] = err
					return
				}
				durations[i] = append(durations[i], r.Inference)
			}
		}()
	}
	wg.Wait()
	total := time.Since(start)
	var samples latency.Samples
	for i := range instances {
		if errs[i] != nil {
			return inferLoopResult{}, fmt.Errorf("inference-only loop: %w", errs[i])
		}
		for _, d := range durations[i] {
			samples.Add(d)
		}
	}
	return inferLoopResult{Total: total, Runs: per * len(instances), Summary: samples.Summary()}, nil
}

func printBench(env *cliEnv, r *benchReport) {
	w := env.stdout
	fmt.Fprintf(w, "model     %s (%s, threads %d, workers %d)\n", r.Model, r.Provider, r.Threads, r.Workers)
	fmt.Fprintf(w, "input     %s (%dx%d)\n", r.Input, r.Source.Width, r.Source.Height)
	if r.Output != "" {
		fmt.Fprintf(w, "output    %s (%s)\n", r.Output, r.Codec)
	}
	fmt.Fprintf(w, "machine   %s, %d CPUs; Go %s, OpenCV %s, ONNX Runtime %s\n\n", r.Machine.CPUModel, r.Machine.LogicalCPUs, r.Go, r.OpenCV, r.ONNXRuntime)
	fmt.Fprintf(w, "%-12s %8s %8s %8s %8s   (ms, %d frames after %d warm-up)\n", "stage", "p50", "p90", "p99", "max", r.Frames, r.Warmup)
	for _, name := range r.StageOrder {
		s := r.Stages[name]
		fmt.Fprintf(w, "%-12s %8.2f %8.2f %8.2f %8.2f\n", name, s.P50, s.P90, s.P99, s.Max)
	}
	fmt.Fprintf(w, "%-12s %8.2f %8.2f %8.2f %8.2f\n\n", "latency", r.LatencyMs.P50, r.LatencyMs.P90, r.LatencyMs.P99, r.LatencyMs.Max)
	fmt.Fprintf(w, "end-to-end FPS      %.1f\n", r.FPS)
	fmt.Fprintf(w, "inference-only FPS  %.1f (p50 %.2f ms over %d runs)\n", r.InferFPS, r.InferP50Ms, r.InferIters)
	fmt.Fprintf(w, "ratio               %.2f\n", r.Ratio)
	fmt.Fprintf(w, "dropped frames      %d\n", r.Dropped)
	fmt.Fprintf(w, "CPU                 %.0f%% (100%% = one core)\n", r.CPUPercent)
	fmt.Fprintf(w, "peak RSS            %.0f MB\n", r.PeakRSSMB)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
