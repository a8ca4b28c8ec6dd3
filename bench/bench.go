// Package bench measures a session end to end (frames per second, per-stage
// and per-frame times, drops, CPU, peak memory) and the model alone on the
// same instances, for rpscam bench.
package bench

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"runtime"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/latency"
	"github.com/rpscam/rpscam/internal/procstat"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/session"
	"github.com/rpscam/rpscam/sink"
)

// Report is what a bench run measured, as rpscam bench prints it and writes
// it with --json.
type Report struct {
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
	InferP99Ms  float64                `json:"infer_p99_ms"`
	InferIters  int                    `json:"infer_iters"`
	Ratio       float64                `json:"fps_over_infer_fps"`
	Stages      map[string]StageMillis `json:"stages"`
	StageOrder  []string               `json:"stage_order"`
	LatencyMs   StageMillis            `json:"latency_ms"`  // per frame, read to output
	CPUPercent  float64                `json:"cpu_percent"` // 100 = one core busy
	PeakRSSMB   float64                `json:"peak_rss_mb"`
	Go          string                 `json:"go"`
	OpenCV      string                 `json:"opencv"`
	ONNXRuntime string                 `json:"onnxruntime"`
	Machine     procstat.Machine       `json:"machine"`
	Smoothing   string                 `json:"smoothing"`
	Notes       []string               `json:"notes,omitempty"`
}

// StageMillis summarises one stage's or the whole frame's times in ms.
type StageMillis struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func millis(s latency.Summary) StageMillis {
	return StageMillis{P50: latency.Millis(s.P50), P90: latency.Millis(s.P90), P99: latency.Millis(s.P99), Max: latency.Millis(s.Max), Mean: latency.Millis(s.Mean)}
}

// Options are what a run measures.
type Options struct {
	Warmup     int    // frames processed first and left out of the numbers
	Frames     int    // frames to measure after the warm-up
	InferIters int    // inferences in the model-only loop
	Output     string // also encode the annotated frames to this video ("": none)
	// Started, when set, is called once the source is open and before the
	// first frame.
	Started func(s *session.Session)
}

// Run opens a session from cfg (its Warmup and MaxFrames set from o), runs
// it to the end of the measured frames and then the model-only loop.
func Run(ctx context.Context, cfg session.Config, o Options) (*Report, error) {
	cfg.Warmup, cfg.MaxFrames = o.Warmup, o.Warmup+o.Frames
	s, err := session.Open(cfg)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var instances []instance
	for _, m := range s.Models() {
		instances = append(instances, ortInstance{m})
	}
	r := newReport(s.Info(), o)
	r.Model, r.Provider, r.Threads, r.Workers = s.Config().Model, s.Provider(), s.Config().Threads, s.Config().Workers
	r.ONNXRuntime, r.Smoothing = s.RuntimeVersion(), s.Smoothing()
	started := func() {
		if o.Started != nil {
			o.Started(s)
		}
	}
	run := func(sinks ...pipeline.Sink) (pipeline.Stats, error) { return s.Run(ctx, sinks...) }
	return measure(r, instances, cfg.ROI, o, started, run)
}

// measure runs the pipeline (run) into the probe and an optional recorder,
// then the model-only loop on instances, and fills r.
func measure(r *Report, instances []instance, roi image.Rectangle, o Options, started func(), run func(...pipeline.Sink) (pipeline.Stats, error)) (*Report, error) {
	var sinks []pipeline.Sink
	var rec *sink.Recorder
	var err error
	if o.Output != "" {
		if rec, err = sink.NewRecorder(o.Output, r.Source.FPS, r.Source.Width, r.Source.Height); err != nil {
			return nil, err
		}
		defer rec.Close()
		sinks = append(sinks, rec)
	}
	// The probe takes the CPU reading at the end of the warm-up and keeps one
	// frame (unannotated size and type are what matter) for the model-only loop.
	p := &probe{warmup: o.Warmup}
	defer p.close()
	sinks = append(sinks, p)
	started()
	if p.cpuStart, err = procstat.Now(); err != nil {
		return nil, err
	}
	st, err := run(sinks...)
	if err != nil {
		return nil, err
	}
	cpuEnd, err := procstat.Now()
	if err != nil {
		return nil, err
	}
	if rec != nil {
		if err := rec.Close(); err != nil {
			return nil, fmt.Errorf("finishing %s: %w", rec.Path(), err)
		}
	}
	if st.Measured == 0 {
		return nil, fmt.Errorf("no frames measured: the source gave %d frames, all in the %d-frame warm-up; use a longer clip or a smaller --warmup", st.Frames, o.Warmup)
	}
	if !p.kept {
		return nil, errors.New("no frame kept for the inference-only loop")
	}
	loop, err := inferenceOnly(instances, p.frame, roi, o.InferIters)
	if err != nil {
		return nil, err
	}
	fillStats(r, st)
	r.CPUPercent = procstat.CPUPercent(p.cpuStart, cpuEnd)
	if rec != nil {
		r.Output, r.Codec = rec.Path(), rec.Codec()
	} else {
		r.Notes = append(r.Notes, "no --output: the output stage encodes nothing; overlay drawing is measured in the overlay stage")
	}
	if st.Measured < o.Frames {
		r.Notes = append(r.Notes, fmt.Sprintf("the source ended after %d measured frames of the %d asked", st.Measured, o.Frames))
	}
	if loop.Total > 0 {
		r.InferFPS = float64(loop.Runs) / loop.Total.Seconds()
		r.InferIters = loop.Runs
		r.InferP50Ms = latency.Millis(loop.Summary.P50)
		r.InferP99Ms = latency.Millis(loop.Summary.P99)
		r.Ratio = r.FPS / r.InferFPS
	}
	if rss, err := procstat.PeakRSS(); err == nil {
		r.PeakRSSMB = float64(rss) / (1 << 20)
	}
	return r, nil
}

// newReport starts a report on the source and the run's settings.
func newReport(info capture.Info, o Options) *Report {
	r := &Report{
		Input:      info.Spec,
		Warmup:     o.Warmup,
		InferIters: o.InferIters,
		Stages:     map[string]StageMillis{},
		Go:         runtime.Version(),
		OpenCV:     gocv.OpenCVVersion(),
		Machine:    procstat.DescribeMachine(),
	}
	r.Source.Width, r.Source.Height, r.Source.FPS, r.Source.Live = info.Width, info.Height, info.FPS, info.Live
	return r
}

// fillStats copies what the pipeline's stats say.
func fillStats(r *Report, st pipeline.Stats) {
	r.Frames, r.Dropped, r.FPS, r.LatencyMs = st.Measured, st.Dropped, st.FPS, millis(st.Latency)
	for stg := pipeline.Stage(0); stg < pipeline.NumStages; stg++ {
		r.Stages[stg.String()] = millis(st.Stages[stg])
		r.StageOrder = append(r.StageOrder, stg.String())
	}
}

// probe is a sink that marks the end of the warm-up.
type probe struct {
	warmup   int
	cpuStart procstat.Sample
	frame    gocv.Mat
	kept     bool
}

func (b *probe) close() {
	if b.kept {
		b.frame.Close()
	}
}

func (b *probe) Consume(a *pipeline.Annotated) error {
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

// instance is one model instance as the model-only loop runs it.
type instance interface {
	InputBytes() int
	Preprocess(bgr gocv.Mat, roi image.Rectangle, dst []byte) error
	infer(input []byte) (time.Duration, error) // the inference time alone
}

type ortInstance struct{ *infer.Classifier }

func (m ortInstance) infer(input []byte) (time.Duration, error) {
	r, err := m.Infer(input)
	return r.Inference, err
}

// inferLoop is the model-only loop's result.
type inferLoop struct {
	Total   time.Duration // wall time of the whole loop
	Runs    int
	Summary latency.Summary
}

// inferenceOnly preprocesses frame once and runs every model instance on it
// concurrently, as the pipeline does with --workers, n runs in all. FPS is runs
// over wall time, so it is the model's own throughput with the same instances
// and threads on the same machine, with nothing else competing for the cores.
func inferenceOnly(instances []instance, frame gocv.Mat, roi image.Rectangle, n int) (inferLoop, error) {
	input := make([]byte, instances[0].InputBytes())
	if err := instances[0].Preprocess(frame, roi, input); err != nil {
		return inferLoop{}, fmt.Errorf("inference-only loop: %w", err)
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
				d, err := inst.infer(input)
				if err != nil {
					errs[i] = err
					return
				}
				durations[i] = append(durations[i], d)
			}
		}()
	}
	wg.Wait()
	total := time.Since(start)
	var samples latency.Samples
	for i := range instances {
		if errs[i] != nil {
			return inferLoop{}, fmt.Errorf("inference-only loop: %w", errs[i])
		}
		for _, d := range durations[i] {
			samples.Add(d)
		}
	}
	return inferLoop{Total: total, Runs: per * len(instances), Summary: samples.Summary()}, nil
}

// Print writes r as rpscam bench shows it.
func (r *Report) Print(w io.Writer) {
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
	fmt.Fprintf(w, "inference-only FPS  %.1f (p50 %.2f ms, p99 %.2f ms over %d runs)\n", r.InferFPS, r.InferP50Ms, r.InferP99Ms, r.InferIters)
	fmt.Fprintf(w, "ratio               %.2f\n", r.Ratio)
	fmt.Fprintf(w, "dropped frames      %d\n", r.Dropped)
	fmt.Fprintf(w, "CPU                 %.0f%% (100%% = one core)\n", r.CPUPercent)
	fmt.Fprintf(w, "peak RSS            %.0f MB\n", r.PeakRSSMB)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
