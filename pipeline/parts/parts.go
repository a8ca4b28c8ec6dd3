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
	"image"
	"sync/atomic"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
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

// Dropped is the source's count of frames overwritten before they were read.
func (s *CaptureSource) Dropped() uint64 { return s.src.Stats().Dropped }

// InferClassifier is an *infer.Classifier seen as a pipeline.Classifier.
type InferClassifier struct{ c *infer.Classifier }

// Classifier adapts c. Closing c stays the caller's job.
func Classifier(c *infer.Classifier) *InferClassifier { return &InferClassifier{c: c} }

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
}

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
	return a.drawer.Draw(img, overlay.State{
		Labels:     f.Labels,
		Probs:      f.Probs,
		Top:        f.Decision.Top,
		Confidence: f.Decision.Confidence,
		Uncertain:  f.Decision.Uncertain,
		FPS:        f.FPS,
		InferMs:    float64(f.Timings[pipeline.StageInference].Microseconds()) / 1000,
		ROI:        roi,
		Recording:  a.recording.Load(),
		Status:     f.Status,
	})
}
