// Package parts adapts rpscam's capture, infer and overlay packages to the
// small interfaces package pipeline consumes, so that pipeline itself depends
// on none of them and is tested with fakes, while every command that runs the
// real thing (live, record, bench, serve) wires it the same way:
//
//	src, _ := capture.Open("0")
//	cls, _ := infer.Load("models/rps_mobilenetv2.onnx")
//	drawer := overlay.NewDrawer()
//	p, _ := pipeline.New(parts.Source(src), parts.Classifier(cls),
//		pipeline.WithAnnotator(parts.NewAnnotator(drawer, cls)), pipeline.WithSinks(…))
package parts

import (
	"context"
	"fmt"
	"image"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/overlay"
	"github.com/rpscam/rpscam/pipeline"
)

// CaptureSource is a capture.Source seen as a pipeline.Source (with its drop
// count as a pipeline.DropCounter).
type CaptureSource struct{ src capture.Source }

// Source adapts src. Closing src stays the caller's job.
func Source(src capture.Source) *CaptureSource { return &CaptureSource{src: src} }

// Read returns the next frame; see capture.Source.Read.
func (s *CaptureSource) Read(ctx context.Context) (pipeline.Frame, func(), error) {
	f, release, err := s.src.Read(ctx)
	return pipeline.Frame(f), release, err
}

// Live reports whether the source is a camera, stream or realtime file, which
// the pipeline reads only on demand.
func (s *CaptureSource) Live() bool { return s.src.Info().Live }

// Dropped is the source's count of frames overwritten before they were read.
func (s *CaptureSource) Dropped() uint64 { return s.src.Stats().Dropped }

// InferClassifier is an *infer.Classifier seen as a pipeline.Classifier.
type InferClassifier struct{ c *infer.Classifier }

// Classifier adapts c for pipeline.New: an *infer.Classifier is wrapped (it
// preprocesses and infers in one call); a *Staged is already a
// pipeline.StagedClassifier and is returned as it is, so the pipeline gives
// its preprocessing a stage of its own. Closing c stays the caller's job.
func Classifier[C *infer.Classifier | *Staged](c C) pipeline.Classifier {
	switch v := any(c).(type) {
	case *infer.Classifier:
		return &InferClassifier{c: v}
	case *Staged:
		return v
	}
	return nil // unreachable: the type set admits only the two cases above
}

// Classify runs the model on roi of bgr; see infer.Classifier.Classify.
func (a *InferClassifier) Classify(bgr gocv.Mat, roi image.Rectangle) (pipeline.Prediction, error) {
	r, err := a.c.Classify(bgr, roi)
	if err != nil {
		return pipeline.Prediction{}, err
	}
	return pipeline.Prediction{Probs: r.Probs, Preprocess: r.Preprocess, Inference: r.Inference}, nil
}

// Labels are the model's class names.
func (a *InferClassifier) Labels() []string { return a.c.Labels() }

// Annotator draws each frame's prediction with an overlay.Drawer.
type Annotator struct {
	drawer    *overlay.Drawer
	square    bool // the model's input is square, so its default ROI is CentreSquare
	recording atomic.Bool

	// The FPS and inference-time figures shown, refreshed every
	// StatsRefresh (Annotate runs on one goroutine, the pipeline's output).
	shownFPS, shownInferMs float64
	shownAt                time.Time
}

// StatsRefresh is how often the FPS and inference-time figures on the
// overlay change, as FPS counters in players and OBS do: a figure redrawn at
// 200 frames a second cannot be read, and while it holds still the overlay
// draws it from its text cache instead of stroking it anew every frame.
const StatsRefresh = 250 * time.Millisecond

// NewAnnotator draws with d. inputW and inputH are the model's input size
// (infer.Classifier.InputSize): when the pipeline has no explicit ROI, the
// box drawn is the centre crop the classifier actually looks at.
func NewAnnotator(d *overlay.Drawer, inputW, inputH int) *Annotator {
	return &Annotator{drawer: d, square: inputW == inputH}
}

// SetRecording turns the REC indicator on or off (any goroutine).
func (a *Annotator) SetRecording(on bool) { a.recording.Store(on) }

// Annotate draws the overlay for frame a.
func (a *Annotator) Annotate(img *gocv.Mat, f *pipeline.Annotated) error {
	roi := f.ROI
	if roi.Empty() && a.square {
		roi = infer.CentreSquare(img.Cols(), img.Rows())
	}
	if now := time.Now(); a.shownFPS == 0 || now.Sub(a.shownAt) >= StatsRefresh {
		a.shownFPS, a.shownAt = f.FPS, now
		a.shownInferMs = float64(f.Timings[pipeline.StageInference].Microseconds()) / 1000
	}
	return a.drawer.Draw(img, overlay.State{
		Labels:     f.Labels,
		Probs:      f.Probs,
		Top:        f.Decision.Top,
		Confidence: f.Decision.Confidence,
		Uncertain:  f.Decision.Uncertain,
		FPS:        a.shownFPS,
		InferMs:    a.shownInferMs,
		ROI:        roi,
		Recording:  a.recording.Load(),
		Status:     f.Status,
	})
}

// Staged is an ONNX classifier split into its two steps, preprocessing
// (infer.Preprocessor: crop, resize, colour order) and inference
// (infer.BatchRunner with batch 1), so the pipeline runs them in separate
// stages: the preprocessing of frame n+1 then overlaps the model run of
// frame n instead of adding to it. It satisfies pipeline.StagedClassifier.
type Staged struct {
	path   string
	pre    *infer.Preprocessor
	run    *infer.BatchRunner
	labels []string
	logits bool
	w, h   int
}

// LoadStaged loads the model at path with the same options and the same
// metadata contract as infer.Load; its labels are required.
func LoadStaged(path string, opts ...infer.Option) (*Staged, error) {
	run, err := infer.LoadBatchRunner(path, "", 1, opts...)
	if err != nil {
		return nil, err
	}
	c := run.Contract()
	if len(c.Labels) == 0 || len(c.Labels) != run.OutputDim() {
		run.Close()
		return nil, &infer.ModelError{Path: path,
			Problem:  fmt.Sprintf("has %d outputs per image but %d labels", run.OutputDim(), len(c.Labels)),
			Expected: fmt.Sprintf("metadata %q with one comma-separated class name per output, or a labels file beside the model", infer.KeyLabels)}
	}
	pre, err := infer.NewPreprocessor(c)
	if err != nil {
		run.Close()
		return nil, err
	}
	return &Staged{path: path, pre: pre, run: run, labels: c.Labels, logits: c.OutputKind == infer.Logits, w: c.Width, h: c.Height}, nil
}

// Labels are the class names in output order.
func (s *Staged) Labels() []string { return append([]string(nil), s.labels...) }

// InputSize is the model's input width and height.
func (s *Staged) InputSize() (w, h int) { return s.w, s.h }

// Provider is "CUDA" or "CPU".
func (s *Staged) Provider() string { return s.run.Provider() }

// InputBytes is the size of one preprocessed frame (H*W*C uint8).
func (s *Staged) InputBytes() int { return s.pre.Size() }

// Preprocess writes roi of bgr (zero: the model's centre crop) into dst.
func (s *Staged) Preprocess(bgr gocv.Mat, roi image.Rectangle, dst []byte) error {
	return s.pre.IntoUint8(bgr, roi, dst)
}

// Infer runs the model on a preprocessed frame.
func (s *Staged) Infer(input []byte) (pipeline.Prediction, error) {
	t0 := time.Now()
	out, err := s.run.Run(input, 1)
	if err != nil {
		return pipeline.Prediction{}, err
	}
	d := time.Since(t0)
	if s.logits {
		nn.SoftmaxInPlace(out)
	}
	return pipeline.Prediction{Probs: out, Inference: d}, nil
}

// Classify does both steps in series, for callers outside a pipeline.
func (s *Staged) Classify(bgr gocv.Mat, roi image.Rectangle) (pipeline.Prediction, error) {
	buf := make([]byte, s.InputBytes())
	t0 := time.Now()
	if err := s.Preprocess(bgr, roi, buf); err != nil {
		return pipeline.Prediction{}, err
	}
	pre := time.Since(t0)
	p, err := s.Infer(buf)
	p.Preprocess = pre
	return p, err
}

// Close releases the session and the preprocessing Mats.
func (s *Staged) Close() error {
	err := s.run.Close()
	if perr := s.pre.Close(); err == nil {
		err = perr
	}
	return err
}
