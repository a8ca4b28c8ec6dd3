package pipeline

import (
	"fmt"
	"time"

	"github.com/rpscam/rpscam/internal/latency"
)

// Stage names a step of the per-frame work.
type Stage int

// The stages, in the order a frame goes through them.
const (
	StageCapture     Stage = iota // Source.Read: decoding, or waiting for a live frame
	StagePreprocess               // resize/convert/normalise (reported by the classifier)
	StageInference                // the model run (reported by the classifier)
	StagePostprocess              // copying, smoothing, deciding
	StageOverlay                  // Annotator.Annotate
	StageOutput                   // every Sink.Consume: encoding, display, streaming
	NumStages
)

// String is the stage's name as bench prints it.
func (s Stage) String() string {
	switch s {
	case StageCapture:
		return "capture"
	case StagePreprocess:
		return "preprocess"
	case StageInference:
		return "inference"
	case StagePostprocess:
		return "postprocess"
	case StageOverlay:
		return "overlay"
	case StageOutput:
		return "output"
	}
	return fmt.Sprintf("stage(%d)", int(s))
}

// Timings holds one duration per Stage.
type Timings [NumStages]time.Duration

// Stats summarises a run.
type Stats struct {
	Frames   int    // frames processed (consumed by every sink), warm-up included
	Measured int    // frames after the warm-up, which the numbers below describe
	Dropped  uint64 // frames the source dropped
	// Elapsed is the wall time over which the Measured frames were output:
	// from the output of the last warm-up frame (or the start of Run when
	// there is no warm-up) to the output of the last frame.
	Elapsed time.Duration
	FPS     float64 // Measured / Elapsed
	Stages  [NumStages]latency.Summary
	// Latency is per frame, from Read returning it to the last sink finishing.
	Latency latency.Summary
	// Interrupted is true when the context was cancelled before the source
	// ended or the frame limit was reached (Ctrl-C).
	Interrupted bool
	// Stopped is true when a sink returned ErrStop.
	Stopped bool
}
