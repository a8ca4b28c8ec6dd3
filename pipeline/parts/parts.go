// Package parts adapts rpscam's capture, infer and overlay packages to the
// small interfaces package pipeline consumes, so that pipeline itself depends
// on none of them and is tested with fakes; package session wires them:
//
//	src, _ := capture.Open("0")
//	cls, _ := infer.Load("models/rps_mobilenetv2.onnx")
//	drawer := overlay.NewDrawer()
//	w, h := cls.InputSize()
//	p, _ := pipeline.New(parts.Source(src), parts.Classifier(cls),
//		pipeline.WithAnnotator(parts.NewAnnotator(drawer, w, h)), pipeline.WithSinks(…))
package parts

import (
	"context"
	"image"
	"sync/atomic"
	"time"

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

// Live reports whether the source is a camera, stream or realtime file, which
// the pipeline reads only on demand.
func (s *CaptureSource) Live() bool { return s.src.Info().Live }

// Dropped is the source's count of frames overwritten before they were read.
func (s *CaptureSource) Dropped() uint64 { return s.src.Stats().Dropped }

// model is an *infer.Classifier seen as a pipeline.StagedClassifier.
type model struct{ *infer.Classifier }

// Classifier adapts c for pipeline.New as a pipeline.StagedClassifier, so
// the pipeline gives its preprocessing a stage of its own. Closing c stays
// the caller's job.
func Classifier(c *infer.Classifier) pipeline.StagedClassifier { return model{c} }

// Classify runs the model on roi of bgr; see infer.Classifier.Classify.
func (m model) Classify(bgr gocv.Mat, roi image.Rectangle) (pipeline.Prediction, error) {
	r, err := m.Classifier.Classify(bgr, roi)
	return pipeline.Prediction{Probs: r.Probs, Preprocess: r.Preprocess, Inference: r.Inference}, err
}

// Infer runs the model on a preprocessed frame; see infer.Classifier.Infer.
func (m model) Infer(input []byte) (pipeline.Prediction, error) {
	r, err := m.Classifier.Infer(input)
	return pipeline.Prediction{Probs: r.Probs, Inference: r.Inference}, err
}

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

// DrawStatus draws only the status banner onto img, for a frame shown again
// while no new one comes. Call it from the goroutine that annotates.
func (a *Annotator) DrawStatus(img *gocv.Mat, status string) error {
	return a.drawer.DrawStatus(img, status)
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
