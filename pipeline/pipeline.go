package pipeline

import (
	"context"
	"errors"
	"image"
	"time"

	"gocv.io/x/gocv"
)

// Frame is one captured picture.
type Frame struct {
	Mat  gocv.Mat // BGR, 8-bit, 3 channels
	Seq  uint64   // the source's frame number; gaps mean dropped frames
	Time time.Time
}

// Source produces frames. Read blocks until a frame is available and returns
// io.EOF after the last one; it returns promptly with ctx's error when ctx is
// cancelled. The pipeline calls release exactly once per frame returned.
// capture.Source satisfies this through pipeline/parts.Source.
type Source interface {
	Read(ctx context.Context) (Frame, func(), error)
}

// LiveSource is implemented by sources that can report whether they are
// live: a camera or stream whose Read returns the newest frame. From a live
// source the pipeline reads a frame only when the next stage is ready for
// it (and hands frames on through unbuffered channels), so no frame waits
// in a queue growing stale: what is classified is what the camera sees now.
// A file is read ahead, so decoding overlaps the other stages.
type LiveSource interface {
	Live() bool
}

// DropCounter is implemented by sources that drop frames (a live camera keeps
// only the newest). Dropped must be safe to call from another goroutine.
type DropCounter interface {
	Dropped() uint64
}

// Prediction is a classifier's output for one frame.
type Prediction struct {
	// Probs are the class probabilities. The classifier may reuse this slice
	// on its next call: the pipeline copies it at once.
	Probs      []float32
	Preprocess time.Duration // resize, colour conversion, normalisation
	Inference  time.Duration // the model run alone
}

// Classifier turns a BGR frame into class probabilities. roi is the part of
// the frame to classify; the zero rectangle means the classifier's default.
type Classifier interface {
	Classify(bgr gocv.Mat, roi image.Rectangle) (Prediction, error)
	Labels() []string
}

// StagedClassifier is a Classifier that can split its work in two, so the
// pipeline runs preprocessing in its own stage, overlapping the inference of
// the previous frame, instead of in series with it. Preprocess and Infer are
// called from different goroutines, each always from the same one, and
// concurrently with each other.
type StagedClassifier interface {
	Classifier
	// InputBytes is the size of one preprocessed frame.
	InputBytes() int
	// Preprocess writes roi of bgr (zero: the default crop), prepared for
	// the model, into dst (InputBytes long).
	Preprocess(bgr gocv.Mat, roi image.Rectangle, dst []byte) error
	// Infer runs the model on a prepared frame. Prediction.Preprocess is
	// ignored: the pipeline measures the Preprocess call itself.
	Infer(input []byte) (Prediction, error)
}

// Annotator draws the prediction onto the frame in place.
type Annotator interface {
	Annotate(img *gocv.Mat, a *Annotated) error
}

// AnnotatorFunc adapts a function to Annotator.
type AnnotatorFunc func(img *gocv.Mat, a *Annotated) error

// Annotate calls f.
func (f AnnotatorFunc) Annotate(img *gocv.Mat, a *Annotated) error { return f(img, a) }

// Sink consumes annotated frames: a recorder, a window, an HTTP stream.
type Sink interface {
	Consume(a *Annotated) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(a *Annotated) error

// Consume calls f.
func (f SinkFunc) Consume(a *Annotated) error { return f(a) }

// ErrStop, returned by a Sink, ends the run without an error (a quit key).
var ErrStop = errors.New("pipeline: stop requested by a sink")

// Annotated is one processed frame as a Sink sees it. Its Mat and slices are
// valid only during Consume.
type Annotated struct {
	Mat      gocv.Mat // the annotated BGR frame; clone it to keep it
	Seq      uint64   // the source's frame number
	Index    int      // 0-based count of frames processed in this run
	Captured time.Time
	Labels   []string
	Raw      []float32 // the classifier's probabilities
	Probs    []float32 // after smoothing (the same values as Raw without a Smoother)
	Decision Decision
	ROI      image.Rectangle // as configured; zero means the classifier's default
	// Timings of this frame so far: StageOutput is still running during Consume.
	Timings Timings
	FPS     float64 // end-to-end frames per second, smoothed
	Dropped uint64  // frames the source has dropped so far
	Status  string  // the latest SetStatus message, "" when all is well
}
