package capture

import (
	"context"
	"fmt"
	"time"

	"gocv.io/x/gocv"
)

// Frame is one captured image.
type Frame struct {
	Mat  gocv.Mat  // BGR, 3 channels, 8 bits; valid until release is called
	Seq  uint64    // 0-based index of the frame at the source; counts dropped frames too, so gaps show drops
	Time time.Time // when it was captured (grabbed)
}

// Info describes an open source as it actually is, which may differ from
// what was requested: a camera may grant a different size or rate.
type Info struct {
	Spec       string  `json:"spec"`
	Kind       Kind    `json:"kind"`
	Width      int     `json:"width"`             // of the first frame
	Height     int     `json:"height"`            // of the first frame
	FPS        float64 `json:"fps"`               // as the backend reports it, or as measured (FPSMeasured); 0 when unknown
	Live       bool    `json:"live"`              // frames are grabbed continuously and only the newest kept
	FrameCount int     `json:"frame_count"`       // files: CAP_PROP_FRAME_COUNT; -1 when unknown or endless
	Backend    string  `json:"backend,omitempty"` // the OpenCV backend in use: V4L2, FFMPEG, GSTREAMER, ...
	Codec      string  `json:"codec,omitempty"`   // FOURCC the backend reports, when it reports one
	// FPSMeasured says FPS was timed over the stream's first second
	// because the backend's figure, ReportedFPS (0: none), may be a guess
	// and was more than 10% off: a network stream or a live pipeline.
	FPSMeasured bool    `json:"fps_measured,omitempty"`
	ReportedFPS float64 `json:"reported_fps,omitempty"`
}

// Stats counts frames since the source was opened.
type Stats struct {
	Read    uint64 `json:"read"`    // frames returned by Read
	Dropped uint64 `json:"dropped"` // frames overwritten before anyone read them
}

// Source delivers frames.
type Source interface {
	// Read blocks for the next frame. The caller calls release when done with
	// frame.Mat, which returns the Mat to the source's pool; release may be
	// called more than once, and after Close. Read returns io.EOF at the end
	// of a file; cancelling ctx unblocks it with ctx.Err().
	Read(ctx context.Context) (frame Frame, release func(), err error)
	Info() Info
	Stats() Stats
	// Close stops the source and frees its Mats, except those the caller
	// still holds, which are freed by their release.
	Close() error
}

// Open opens the source that s names (see ParseSpec) and reads its first
// frame, so a nil error means frames flow and an *OpenError means none will.
// Opening blocks while the backend connects: for an unreachable URL that is
// FFmpeg's own timeout (30 s by default in OpenCV).
//
// Read is meant for one consumer goroutine; Stats, Info and Close may be
// called from any goroutine.
func Open(s string, opts ...Option) (Source, error) {
	spec, err := ParseSpec(s)
	if err != nil {
		return nil, err
	}
	return OpenSpec(spec, opts...)
}

// OpenSpec opens an already parsed spec.
func OpenSpec(spec Spec, opts ...Option) (Source, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if spec.Kind < 0 || spec.Kind > GStreamer {
		return nil, fmt.Errorf("capture: unknown source kind %d in spec %q", spec.Kind, spec.Raw)
	}
	vc, err := openVideoCapture(spec, cfg)
	if err != nil {
		return nil, err
	}
	reader := newVCReader(vc, spec)
	pool := &matPool{}
	first := pool.get()
	if err := reader.next(nil, &first); err != nil {
		pool.put(first)
		pool.close()
		reader.close()
		return nil, &OpenError{
			Spec:   spec.Raw,
			Reason: "it opened but delivered no frame",
			Hint:   noFrameHint(spec),
		}
	}
	firstTime := time.Now()
	info := reader.info(first)
	info.Live = spec.Kind != File || cfg.realtime
	measureRate(reader, &info, &first, &firstTime)
	if !info.Live {
		return newSyncSource(reader, pool, info, first, firstTime), nil
	}
	var pace time.Duration
	if spec.Kind == File {
		fps := info.FPS
		if fps <= 0 {
			fps = defaultRealtimeFPS
		}
		pace = time.Duration(float64(time.Second) / fps)
	}
	return newLiveSource(reader, pool, info, first, firstTime, pace, cfg), nil
}

// defaultRealtimeFPS paces a realtime file whose container states no rate.
const defaultRealtimeFPS = 30
