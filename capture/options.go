package capture

import (
	"fmt"
	"time"
)

// Option configures [Open].
type Option func(*config) error

type config struct {
	width, height int
	fps           float64
	mjpg          bool
	realtime      bool
	latestOnly    bool
	stallTimeout  time.Duration
}

func defaultConfig() config {
	return config{latestOnly: true}
}

// liveQueueFrames is the queue length of a live source opened with
// WithLatestOnly(false): about one second of a 30 fps camera, enough to ride
// out a slow encoder write without unbounded memory.
const liveQueueFrames = 32

// WithSize asks a camera or device for this frame size. The driver may
// choose the nearest size it supports; Info reports the actual one. Ignored
// by files, URLs and pipelines (put the size in the pipeline's caps instead).
func WithSize(width, height int) Option {
	return func(c *config) error {
		if width <= 0 || height <= 0 {
			return fmt.Errorf("capture: WithSize(%d, %d): width and height must be positive", width, height)
		}
		c.width, c.height = width, height
		return nil
	}
}

// WithFPS asks a camera or device for this frame rate. Ignored by files,
// URLs and pipelines.
func WithFPS(fps float64) Option {
	return func(c *config) error {
		if !(fps > 0) || fps > 1000 {
			return fmt.Errorf("capture: WithFPS(%v): frame rate must be in (0, 1000]", fps)
		}
		c.fps = fps
		return nil
	}
}

// WithMJPG asks a camera or device for MJPG instead of raw YUYV. Most USB
// webcams deliver 720p and 1080p at full frame rate only as MJPG, because
// raw frames do not fit USB 2.0 bandwidth.
func WithMJPG(on bool) Option {
	return func(c *config) error { c.mjpg = on; return nil }
}

// WithRealtime makes a file behave like a live source: frames are read at the
// file's frame rate by a grabber goroutine and the reader gets only the
// newest, with drops counted. Use it to rehearse the live pipeline on a clip.
func WithRealtime(on bool) Option {
	return func(c *config) error { c.realtime = on; return nil }
}

// WithLatestOnly chooses what a live source keeps between reads: true (the
// default) keeps only the newest frame, lowest latency; false keeps a queue
// of up to 32 frames and drops the oldest when it is full, for recording.
// Synchronous file reading keeps every frame either way.
func WithLatestOnly(on bool) Option {
	return func(c *config) error { c.latestOnly = on; return nil }
}

// WithStallTimeout makes Read on a live source return an error wrapping
// ErrSourceLost when no new frame has arrived for d, instead of waiting for
// the context. The source stays open: a caller may keep reading or reopen.
// Zero (the default) waits indefinitely.
func WithStallTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("capture: WithStallTimeout(%v): must not be negative", d)
		}
		c.stallTimeout = d
		return nil
	}
}
