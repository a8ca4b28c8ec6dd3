package bench

import (
	"context"
	"image"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/cvdnn"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/overlay"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/pipeline/parts"
	"github.com/rpscam/rpscam/session"
)

// openCVProvider is the Report.Provider of a runOpenCV run.
const openCVProvider = "OpenCV DNN (CPU)"

// runOpenCV measures a model written by cvdnn.Export, run by OpenCV's DNN
// module, as Run measures an ONNX Runtime session: the same source, the
// same pipeline, overlay and preprocessing, cfg.Workers instances (0: one).
// cfg.Threads is OpenCV's thread count for the whole process (0: OpenCV's
// default); the other ONNX Runtime settings (Library, Device, Spin) do not
// apply. A live source (or Realtime) gets ema:0.5 smoothing, as a session.
func runOpenCV(ctx context.Context, cfg session.Config, o Options) (*Report, error) {
	if cfg.Threads > 0 {
		cvdnn.SetThreads(cfg.Threads)
	} else {
		cvdnn.SetThreads(-1) // OpenCV's default, even after an earlier run set another
	}
	src, err := capture.OpenSpec(cfg.Source, capture.WithRealtime(cfg.Realtime))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	first, err := cvdnn.Load(cfg.Model)
	if err != nil {
		return nil, err
	}
	models := []*cvdnn.Classifier{first}
	defer func() {
		for _, m := range models {
			m.Close()
		}
	}()
	for i := 1; i < cfg.Workers; i++ {
		more, err := first.Another()
		if err != nil {
			return nil, err
		}
		models = append(models, more)
	}
	info := src.Info()
	if !cfg.ROI.Empty() {
		if err := infer.CheckROI(cfg.ROI, info.Width, info.Height); err != nil {
			return nil, &session.ConfigError{Field: "roi", Err: err}
		}
	}
	drawer := overlay.NewDrawer()
	defer drawer.Close()
	w, h := first.InputSize()
	r := newReport(info, o)
	r.Model, r.Provider, r.Threads, r.Workers, r.Smoothing = cfg.Model, openCVProvider, cvdnn.Threads(), len(models), "off"
	var smoother pipeline.Smoother
	if info.Live {
		smoother, r.Smoothing = pipeline.NewEMA(0.5), "ema:0.5"
	}
	var instances []instance
	var parallel []pipeline.Classifier
	for i, m := range models {
		instances = append(instances, cvInstance{m})
		if i > 0 {
			parallel = append(parallel, cvInstance{m})
		}
	}
	run := func(sinks ...pipeline.Sink) (pipeline.Stats, error) {
		p, err := pipeline.New(parts.Source(src), cvInstance{first},
			pipeline.WithParallelClassifiers(parallel...), pipeline.WithROI(cfg.ROI), pipeline.WithSmoother(smoother),
			pipeline.WithThreshold(cfg.Threshold), pipeline.WithAnnotator(parts.NewAnnotator(drawer, w, h)),
			pipeline.WithSinks(sinks...), pipeline.WithMaxFrames(o.Warmup+o.Frames), pipeline.WithWarmup(o.Warmup))
		if err != nil {
			return pipeline.Stats{}, err
		}
		return p.Run(ctx)
	}
	return measure(r, instances, cfg.ROI, o, func() {}, run)
}

// cvInstance is a cvdnn.Classifier as the pipeline (a
// pipeline.StagedClassifier) and the model-only loop take it.
type cvInstance struct{ *cvdnn.Classifier }

func (m cvInstance) Classify(bgr gocv.Mat, roi image.Rectangle) (pipeline.Prediction, error) {
	r, err := m.Classifier.Classify(bgr, roi)
	return pipeline.Prediction{Probs: r.Probs, Preprocess: r.Preprocess, Inference: r.Inference}, err
}

func (m cvInstance) Infer(input []byte) (pipeline.Prediction, error) {
	r, err := m.Classifier.Infer(input)
	return pipeline.Prediction{Probs: r.Probs, Inference: r.Inference}, err
}

func (m cvInstance) infer(input []byte) (time.Duration, error) {
	r, err := m.Classifier.Infer(input)
	return r.Inference, err
}
