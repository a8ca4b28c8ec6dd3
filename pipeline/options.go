package pipeline

import (
	"errors"
	"fmt"
	"image"
	"time"

	"gocv.io/x/gocv"
)

// config is what the options set.
type config struct {
	annotator  Annotator
	sinks      []Sink
	smoother   Smoother
	threshold  float32
	roi        image.Rectangle
	maxFrames  int
	warmup     int
	queueDepth int
	onStatus   func(string)
	parallel   []Classifier
	idleEvery  time.Duration
	onIdle     func(status string) error
	taps       []func(frame gocv.Mat, roi image.Rectangle)
}

// Option configures a Pipeline.
type Option func(*config) error

// WithAnnotator sets what draws on each frame before the sinks see it.
func WithAnnotator(a Annotator) Option {
	return func(c *config) error {
		if a == nil {
			return errors.New("pipeline: WithAnnotator(nil): pass an Annotator or leave the option out")
		}
		c.annotator = a
		return nil
	}
}

// WithSinks adds consumers of the annotated frames, called in order.
func WithSinks(sinks ...Sink) Option {
	return func(c *config) error {
		for i, s := range sinks {
			if s == nil {
				return fmt.Errorf("pipeline: WithSinks: sink %d is nil", i)
			}
		}
		c.sinks = append(c.sinks, sinks...)
		return nil
	}
}

// WithSmoother smooths probabilities across frames; nil turns smoothing off.
func WithSmoother(s Smoother) Option {
	return func(c *config) error { c.smoother = s; return nil }
}

// WithThreshold marks decisions whose confidence is below t as uncertain.
func WithThreshold(t float32) Option {
	return func(c *config) error {
		if t < 0 || t > 1 || t != t {
			return fmt.Errorf("pipeline: threshold %v is outside [0, 1]", t)
		}
		c.threshold = t
		return nil
	}
}

// WithROI classifies only r of every frame (the zero rectangle: the
// classifier's default).
func WithROI(r image.Rectangle) Option {
	return func(c *config) error { c.roi = r; return nil }
}

// WithMaxFrames stops after n frames (warm-up included); 0 means no limit.
func WithMaxFrames(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("pipeline: frame limit %d is negative: use 0 for no limit", n)
		}
		c.maxFrames = n
		return nil
	}
}

// WithWarmup leaves the first n frames out of Stats (the first inferences
// are slow while ONNX Runtime allocates and caches).
func WithWarmup(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("pipeline: warm-up %d is negative", n)
		}
		c.warmup = n
		return nil
	}
}

// withQueueDepth sets how many frames each channel between stages holds
// (default 1). More smooths out jitter in file processing at the cost of
// memory and, for live sources, latency.
func withQueueDepth(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 64 {
			return fmt.Errorf("pipeline: queue depth %d is outside 1..64", n)
		}
		c.queueDepth = n
		return nil
	}
}

// WithParallelClassifiers adds more instances of the same model, each run
// on its own goroutine: frames go to whichever instance is free and are put
// back in order before smoothing. On a machine with few cores, two
// single-threaded instances keep the CPU busier than one two-threaded
// instance, whose threads wait for each other whenever decoding or drawing
// takes a core; the price is that each frame's own inference takes longer.
func WithParallelClassifiers(cls ...Classifier) Option {
	return func(c *config) error {
		for i, x := range cls {
			if x == nil {
				return fmt.Errorf("pipeline: WithParallelClassifiers: classifier %d is nil", i)
			}
		}
		c.parallel = append(c.parallel, cls...)
		return nil
	}
}

// WithStatusListener is called (from the goroutine that calls SetStatus)
// whenever the status message changes.
func WithStatusListener(f func(status string)) Option {
	return func(c *config) error { c.onStatus = f; return nil }
}

// WithIdle calls f, on the goroutine that called Run (the sinks'), when no
// frame has come out for every, and again every interval while none does,
// with the current status line. A window uses it to keep handling keys and
// to show "reconnecting…" over its last frame while the source is away;
// without it the window would freeze until frames flow again. f returning
// ErrStop ends the run cleanly; any other error ends it with that error.
func WithIdle(every time.Duration, f func(status string) error) Option {
	return func(c *config) error {
		if every <= 0 || f == nil {
			return fmt.Errorf("pipeline: WithIdle(%v, f): want a positive interval and a function", every)
		}
		c.idleEvery, c.onIdle = every, f
		return nil
	}
}

// WithFrameTap calls f with every frame as captured, before the annotator
// draws on it, and the ROI configured (WithROI; the zero rectangle means the
// classifier's default crop): what teaching samples. f runs on the output
// goroutine, before the sinks; it must not keep or change frame (clone what
// it keeps). Several taps are called in the order given.
func WithFrameTap(f func(frame gocv.Mat, roi image.Rectangle)) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("pipeline: WithFrameTap(nil): pass a function or leave the option out")
		}
		c.taps = append(c.taps, f)
		return nil
	}
}
