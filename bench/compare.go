package bench

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"runtime"
	"strings"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/cvdnn"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/procstat"
	"github.com/rpscam/rpscam/session"
	"github.com/rpscam/rpscam/train/evaluate"
)

// The backends rpscam bench --compare measures.
const (
	backendONNXRuntime = "onnxruntime"
	backendOpenCV      = "opencv"
)

// RowSpec is one row of a comparison: which backend runs which model file,
// with which settings. Threads and Workers are for the run on the file as
// fast as it decodes, RealtimeThreads and RealtimeWorkers for the run at the
// clip's own rate (0 threads: the backend's default).
type RowSpec struct {
	Backend         string `json:"backend"`
	Precision       string `json:"precision"`
	Device          string `json:"device"`
	Model           string `json:"model"`
	Threads         int    `json:"threads"`
	Workers         int    `json:"workers"`
	RealtimeThreads int    `json:"realtime_threads"`
	RealtimeWorkers int    `json:"realtime_workers"`
	// Unavailable, when set, is why the row cannot run here; it is not run
	// and its Error says so.
	Unavailable string `json:"-"`
}

// rowJob is everything one row's measurement needs, as the parent process
// hands it to the child that measures it.
type rowJob struct {
	Row            RowSpec                `json:"row"`
	Input          string                 `json:"input"`
	Library        string                 `json:"library"`
	Warmup         int                    `json:"warmup"`
	Frames         int                    `json:"frames"`
	RealtimeFrames int                    `json:"realtime_frames"`
	InferIters     int                    `json:"infer_iters"`
	Images         []capture.LabeledImage `json:"images"`
}

// Row is one backend's figures. Error is empty when the row ran.
type Row struct {
	RowSpec
	InferFPS   float64 `json:"infer_fps"` // model alone, Workers instances
	InferP50Ms float64 `json:"infer_p50_ms"`
	InferP99Ms float64 `json:"infer_p99_ms"`
	FPS        float64 `json:"fps"` // end to end on the file
	FPSRatio   float64 `json:"fps_over_infer_fps"`
	// At the clip's own rate (--realtime: the camera's 30 FPS).
	CPUPercentAt30FPS   float64 `json:"cpu_percent_at_30fps"`
	LatencyP99MsAt30FPS float64 `json:"latency_p99_ms_at_30fps"`
	FPSAt30FPS          float64 `json:"fps_at_30fps"`
	DroppedAt30FPS      uint64  `json:"dropped_at_30fps"`
	PeakRSSMB           float64 `json:"peak_rss_mb"`
	ModelBytes          int64   `json:"model_bytes"`
	Accuracy            float64 `json:"accuracy"` // share of the scored images right
	Scored              int     `json:"accuracy_images"`
	// SameLabel is the share of images given the same label as the
	// ONNX Runtime fp32 row; nil when either did not run.
	SameLabel *float64 `json:"same_label_as_onnxruntime_fp32,omitempty"`
	Error     string   `json:"error"`
}

// rowResult is what measuring a row gives: the row and its label for each
// of rowJob.Images, in order.
type rowResult struct {
	Row    Row      `json:"row"`
	Labels []string `json:"labels"`
	// Setup says the row's failure is the caller's to fix before anything
	// is measured (an unreadable clip, a missing model, no CUDA), as the
	// caller's classifier judged the error. It crosses the process
	// boundary here, not in Row, because only the child has the error
	// value and the --json output has no use for it.
	Setup bool `json:"setup,omitempty"`
}

// measureRow measures one row: the file end to end and the model alone
// (Run or runOpenCV), the file again at its own rate, and the labelled
// images. A failure ends the row with its Error set, and with Setup set
// when setup (may be nil) says the error is the caller's to fix. Run it in
// a process of its own: peak RSS is the process's, and OpenCV's thread
// count is global.
func measureRow(ctx context.Context, job rowJob, setup func(error) bool) rowResult {
	res := rowResult{Row: Row{RowSpec: job.Row}}
	row := &res.Row
	fail := func(what string, err error) rowResult {
		row.Error = what + ": " + err.Error()
		res.Setup = setup != nil && setup(err)
		if errors.Is(err, infer.ErrCUDAUnavailable) {
			row.Error = "no CUDA provider here: " + err.Error()
		}
		return res
	}
	st, err := os.Stat(job.Row.Model)
	if err != nil {
		return fail("model", err)
	}
	row.ModelBytes = st.Size()
	cfg, err := jobConfig(job)
	if err != nil {
		return fail("settings", err)
	}
	run := Run
	if job.Row.Backend == backendOpenCV {
		run = runOpenCV
	}
	r, err := run(ctx, cfg, Options{Warmup: job.Warmup, Frames: job.Frames, InferIters: job.InferIters})
	if err != nil {
		return fail("run on the file", err)
	}
	row.Threads, row.Workers = r.Threads, r.Workers
	row.InferFPS, row.InferP50Ms, row.InferP99Ms, row.FPS, row.FPSRatio = r.InferFPS, r.InferP50Ms, r.InferP99Ms, r.FPS, r.Ratio
	cfg.Realtime, cfg.Threads, cfg.Workers = true, job.Row.RealtimeThreads, job.Row.RealtimeWorkers
	if r, err = run(ctx, cfg, Options{Warmup: job.Warmup, Frames: job.RealtimeFrames, InferIters: 1}); err != nil {
		return fail("run at the clip's rate", err)
	}
	row.RealtimeThreads, row.RealtimeWorkers = r.Threads, r.Workers
	row.CPUPercentAt30FPS, row.LatencyP99MsAt30FPS, row.FPSAt30FPS, row.DroppedAt30FPS = r.CPUPercent, r.LatencyMs.P99, r.FPS, r.Dropped
	predicted, modelLabels, err := classifyImages(cfg, job)
	if err != nil {
		return fail("labelled images", err)
	}
	res.Labels = predicted
	row.Accuracy, row.Scored = accuracy(job.Images, predicted, modelLabels)
	if rss, err := procstat.PeakRSS(); err == nil {
		row.PeakRSSMB = float64(rss) / (1 << 20)
	}
	return res
}

func jobConfig(job rowJob) (session.Config, error) {
	spec, err := capture.ParseSpec(job.Input)
	if err != nil {
		return session.Config{}, err
	}
	dev, err := infer.ParseDevice(job.Row.Device)
	if err != nil {
		return session.Config{}, err
	}
	return session.Config{Model: job.Row.Model, Library: job.Library, Device: dev, Threads: job.Row.Threads, Workers: job.Row.Workers,
		Source: spec, Threshold: 0.6}, nil
}

// imageClassifier is what classifyImages needs of either backend's
// classifier (infer.Classifier, cvdnn.Classifier).
type imageClassifier interface {
	Classify(bgr gocv.Mat, roi image.Rectangle) (infer.Result, error)
	Labels() []string
	Close() error
}

// openImageClassifier loads one instance of the row's model on its backend.
func openImageClassifier(cfg session.Config, job rowJob) (imageClassifier, error) {
	if job.Row.Backend == backendOpenCV {
		c, err := cvdnn.Load(cfg.Model)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := infer.Load(cfg.Model, infer.WithLibrary(cfg.Library), infer.WithDevice(cfg.Device), infer.WithThreads(cfg.Threads))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// classifyImages labels every image with one instance of the row's model,
// as rpscam classify does (the model's centre crop).
func classifyImages(cfg session.Config, job rowJob) (predicted, modelLabels []string, err error) {
	c, err := openImageClassifier(cfg, job)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	predicted = make([]string, len(job.Images))
	for i, im := range job.Images {
		m, err := capture.ReadImage(im.Path)
		if err != nil {
			return nil, nil, err
		}
		r, err := c.Classify(m, image.Rectangle{})
		m.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", im.Path, err)
		}
		predicted[i] = r.Label
	}
	return predicted, c.Labels(), nil
}

// accuracy is the share of images labelled as their class folder says,
// among those whose class the model has (a none/ folder is left out for a
// model without a none class).
func accuracy(images []capture.LabeledImage, predicted, modelLabels []string) (float64, int) {
	known := map[string]bool{}
	for _, l := range modelLabels {
		known[l] = true
	}
	right, scored := 0, 0
	for i, im := range images {
		if !known[im.Class] && im.Class == infer.NoHandLabel {
			continue
		}
		scored++
		if predicted[i] == im.Class {
			right++
		}
	}
	if scored == 0 {
		return 0, 0
	}
	return float64(right) / float64(scored), scored
}

// Comparison is rpscam bench --compare's result: one row per backend.
type Comparison struct {
	Input          string           `json:"input"`
	Frames         int              `json:"frames"`
	RealtimeFrames int              `json:"realtime_frames"`
	Data           string           `json:"data"`
	Images         int              `json:"images"`
	Rows           []Row            `json:"rows"`
	Int8OverFP32   float64          `json:"int8_over_fp32_infer_fps,omitempty"` // ONNX Runtime on the CPU
	Go             string           `json:"go"`
	OpenCV         string           `json:"opencv"`
	Machine        procstat.Machine `json:"machine"`
}

// NoRowRanError is RunCompare's error when every row failed; the
// Comparison returned with it says why for each row.
type NoRowRanError struct {
	// Setup is true when every row failed for a reason the caller fixes
	// before anything is measured (an unreadable clip, a missing model, no
	// CUDA), so that rpscam exits as plain bench does for the same cause;
	// false when at least one row failed in the measuring itself.
	Setup bool
	// First is the first row's failure: "backend precision device: why".
	First string
}

func (e *NoRowRanError) Error() string {
	return "every --compare row failed; the first: " + e.First
}

// compare measures every row with measure (a child process per row in
// rpscam) and adds what needs all rows: the agreement with ONNX Runtime
// fp32 and the int8/fp32 speed ratio. When no row ran it also returns a
// *NoRowRanError.
func compare(ctx context.Context, specs []RowSpec, job rowJob, data string, measure func(context.Context, rowJob) (rowResult, error)) (*Comparison, error) {
	c := &Comparison{Input: job.Input, Frames: job.Frames, RealtimeFrames: job.RealtimeFrames, Data: data, Images: len(job.Images),
		Go: runtime.Version(), OpenCV: gocv.OpenCVVersion(), Machine: procstat.DescribeMachine()}
	results := make([]rowResult, len(specs))
	for i, spec := range specs {
		// An unavailable row lacks a file or a library: the caller's to fix.
		results[i] = rowResult{Row: Row{RowSpec: spec, Error: spec.Unavailable}, Setup: spec.Unavailable != ""}
		if spec.Unavailable != "" || ctx.Err() != nil {
			if results[i].Row.Error == "" {
				results[i].Row.Error = ctx.Err().Error()
			}
			continue
		}
		j := job
		j.Row = spec
		r, err := measure(ctx, j)
		if err != nil {
			r = rowResult{Row: Row{RowSpec: spec, Error: err.Error()}}
		}
		results[i] = r
	}
	ref := reference(results)
	for i := range results {
		row := &results[i].Row
		if ref != nil && row.Error == "" && len(results[i].Labels) == len(ref.Labels) && len(ref.Labels) > 0 {
			same := 0
			for k, l := range results[i].Labels {
				if l == ref.Labels[k] {
					same++
				}
			}
			share := float64(same) / float64(len(ref.Labels))
			row.SameLabel = &share
		}
		c.Rows = append(c.Rows, *row)
	}
	if ref != nil {
		for _, r := range c.Rows {
			if r.Backend == backendONNXRuntime && r.Precision == "int8" && r.Device == "cpu" && r.Error == "" && ref.Row.InferFPS > 0 {
				c.Int8OverFP32 = r.InferFPS / ref.Row.InferFPS
			}
		}
	}
	return c, noRowRan(results)
}

// noRowRan is a *NoRowRanError when every result failed (some rows failing,
// such as CUDA on a machine without it, is a normal comparison), else nil.
func noRowRan(results []rowResult) error {
	if len(results) == 0 {
		return nil
	}
	e := &NoRowRanError{Setup: true}
	for _, r := range results {
		if r.Row.Error == "" {
			return nil
		}
		e.Setup = e.Setup && r.Setup
	}
	r := results[0].Row
	e.First = fmt.Sprintf("%s %s %s: %s", r.Backend, r.Precision, r.Device, strings.TrimSpace(r.Error))
	return e
}

// reference is the ONNX Runtime fp32 CPU row, when it ran.
func reference(results []rowResult) *rowResult {
	for i, r := range results {
		if r.Row.Backend == backendONNXRuntime && r.Row.Precision == "fp32" && r.Row.Device == "cpu" && r.Row.Error == "" {
			return &results[i]
		}
	}
	return nil
}

// Print writes the comparison as a table, then the rows that did not run.
func (c *Comparison) Print(w io.Writer) {
	fmt.Fprintf(w, "clip %s: %d frames as fast as it decodes, %d at its own rate; accuracy on %d images (%s)\n",
		c.Input, c.Frames, c.RealtimeFrames, c.Images, c.Data)
	fmt.Fprintf(w, "machine %s, %d CPUs; Go %s, OpenCV %s\n\n", c.Machine.CPUModel, c.Machine.LogicalCPUs, c.Go, c.OpenCV)
	fmt.Fprintf(w, "%-11s %-4s %-4s %-7s %7s %6s %6s %7s %5s | %5s %7s %7s | %6s %6s %8s %6s\n",
		"backend", "prec", "dev", "wxt", "infer/s", "p50ms", "p99ms", "FPS", "ratio", "CPU%", "p99ms", "wxt", "RSS MB", "model", "accuracy", "=fp32")
	fmt.Fprintf(w, "%-11s %-4s %-4s %-7s %7s %6s %6s %7s %5s | %-21s | \n", "", "", "", "", "", "", "", "", "", "   at 30 FPS")
	var failed []Row
	for _, r := range c.Rows {
		if r.Error != "" {
			failed = append(failed, r)
			fmt.Fprintf(w, "%-11s %-4s %-4s  not run: see below\n", r.Backend, r.Precision, r.Device)
			continue
		}
		same := "-"
		if r.SameLabel != nil {
			same = fmt.Sprintf("%.1f%%", 100**r.SameLabel)
		}
		fmt.Fprintf(w, "%-11s %-4s %-4s %-7s %7.1f %6.2f %6.2f %7.1f %5.2f | %5.0f %7.2f %7s | %6.0f %5.2fM %7.2f%% %6s\n",
			r.Backend, r.Precision, r.Device, settings(r.Workers, r.Threads), r.InferFPS, r.InferP50Ms, r.InferP99Ms, r.FPS, r.FPSRatio,
			r.CPUPercentAt30FPS, r.LatencyP99MsAt30FPS, settings(r.RealtimeWorkers, r.RealtimeThreads),
			r.PeakRSSMB, float64(r.ModelBytes)/1e6, 100*r.Accuracy, same)
	}
	fmt.Fprintln(w, "\nwxt: model instances x threads each (t0: the backend's default); ratio: end-to-end FPS over the model alone")
	if c.Int8OverFP32 > 0 {
		fmt.Fprintf(w, "int8/fp32 model-only speed (ONNX Runtime, CPU): %.2fx\n", c.Int8OverFP32)
	}
	for _, r := range failed {
		fmt.Fprintf(w, "%s %s %s: %s\n", r.Backend, r.Precision, r.Device, strings.TrimSpace(r.Error))
	}
}

func settings(workers, threads int) string { return fmt.Sprintf("%dx%d", workers, threads) }

// compareRows are the rows rpscam bench --compare measures on cores CPUs,
// each with the settings that suit it best: on the file, one
// single-threaded instance per core (up to 4), the most frames per second
// for ONNX Runtime and for OpenCV (README "Performance"); at a camera's
// rate, one instance on every core, the lowest latency.
// A model file that is missing makes its row unavailable, saying why.
func compareRows(floatModel, int8Model, opencvModel string, cores int) []RowSpec {
	workers := max(1, min(cores, 4))
	threads := max(1, cores/workers)
	cpu := func(backend, precision, model string) RowSpec {
		return RowSpec{Backend: backend, Precision: precision, Device: "cpu", Model: model,
			Threads: threads, Workers: workers, RealtimeThreads: 0, RealtimeWorkers: 1}
	}
	rows := []RowSpec{
		cpu(backendONNXRuntime, "fp32", floatModel),
		cpu(backendONNXRuntime, "int8", int8Model),
		cpu(backendOpenCV, "fp32", opencvModel),
		{Backend: backendONNXRuntime, Precision: "fp32", Device: "cuda", Model: floatModel, Workers: 1, RealtimeWorkers: 1},
	}
	for i := range rows {
		if _, err := os.Stat(rows[i].Model); err != nil && rows[i].Unavailable == "" {
			rows[i].Unavailable = fmt.Sprintf("model %s: %v", rows[i].Model, err)
			if rows[i].Precision == "int8" {
				rows[i].Unavailable = fmt.Sprintf("no int8 model %s: run rpscam quantize to build it", rows[i].Model)
			}
		}
	}
	return rows
}

// sampleTestSets takes perSet images, evenly spaced, from the test part of
// each default training source under shared (as rpscam eval's default
// lists them), so every compare run scores the same few hundred images; it
// also says what it took.
func sampleTestSets(shared string, perSet int) ([]capture.LabeledImage, string, error) {
	imgs, _, sources, err := evaluate.TestImages(shared)
	if err != nil {
		return nil, "", err
	}
	var out []capture.LabeledImage
	var names []string
	for _, s := range sources {
		var group []evaluate.Image
		for _, im := range imgs {
			if im.Group == s.Name {
				group = append(group, im)
			}
		}
		n := min(perSet, len(group))
		for k := 0; k < n; k++ {
			im := group[k*len(group)/n]
			out = append(out, capture.LabeledImage{Path: im.Path, Class: im.Class})
		}
		names = append(names, fmt.Sprintf("%s %d", s.Name, n))
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("no test images under %s: pass --data DIR with class folders", shared)
	}
	return out, "shared test sets, evenly spaced: " + strings.Join(names, ", "), nil
}
