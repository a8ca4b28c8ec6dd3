package serve

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/sink"
)

// VideoRecorder is a Recording that writes the annotated frames it is fed
// to a new video file in a directory each time it is started. Feed it every
// annotated frame with WriteFrame; it drops them while not recording. Each
// file is written by a sink.Recorder, the same writer `rpscam record` uses,
// so codec fallback, resizing and the disk-space reserve behave alike.
type VideoRecorder struct {
	dir    string
	fps    float64
	fourcc string // "" lets sink.Recorder choose by extension (.mp4: avc1, else mp4v)
	ext    string
	now    func() time.Time
	// indicate is told when a recording starts and stops (WithIndicator).
	indicate func(on bool)
	realTime bool // frames placed by capture time (WithRealTime)

	mu     sync.Mutex
	active bool
	path   string
	rec    *sink.Recorder // opened at the first frame, sized to it
	frames int
	err    error // the first write error of the running recording
}

// RecorderOption configures a VideoRecorder.
type RecorderOption func(*VideoRecorder) error

// withContainer sets the file extension and the fourcc code to write with,
// e.g. withContainer(".avi", "MJPG"); only the first code is used. The default
// is ".mp4" with H.264 ("avc1"), falling back to MPEG-4 part 2 ("mp4v") when
// OpenCV lacks H.264.
func withContainer(ext string, fourccs ...string) RecorderOption {
	return func(r *VideoRecorder) error {
		if ext == "" || ext[0] != '.' {
			return fmt.Errorf("serve: container extension %q must start with a dot, e.g. \".mp4\"", ext)
		}
		if len(fourccs) == 0 {
			return errors.New("serve: WithContainer needs at least one fourcc, e.g. \"avc1\"")
		}
		for _, c := range fourccs {
			if len(c) != 4 {
				return fmt.Errorf("serve: fourcc %q must be exactly 4 characters, e.g. \"avc1\", \"mp4v\", \"MJPG\"", c)
			}
		}
		r.ext, r.fourcc = ext, fourccs[0]
		return nil
	}
}

// WithIndicator calls set(true) when a recording starts and set(false) when
// it is stopped: the overlay's REC dot.
func WithIndicator(set func(on bool)) RecorderOption {
	return func(r *VideoRecorder) error { r.indicate = set; return nil }
}

// WithRealTime places each frame by its capture time (WriteFrameAt), so a
// live source that drops frames or stalls still plays back at real speed
// (see sink.WithRealTime). For live sources only.
func WithRealTime() RecorderOption {
	return func(r *VideoRecorder) error { r.realTime = true; return nil }
}

// NewVideoRecorder records into dir (created if missing) at fps frames per
// second, which should be the rate frames are fed at so that playback runs in
// real time.
func NewVideoRecorder(dir string, fps float64, opts ...RecorderOption) (*VideoRecorder, error) {
	if dir == "" {
		return nil, errors.New("serve: recording directory is empty: pass a directory, e.g. --record-dir recordings")
	}
	if !(fps > 0 && fps <= 1000) {
		return nil, fmt.Errorf("serve: recording frame rate %v: pass the source's frames per second (e.g. 30)", fps)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("serve: creating recording directory: %w: pass a writable --record-dir", err)
	}
	r := &VideoRecorder{dir: dir, fps: fps, ext: ".mp4", now: time.Now}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	// A folder that cannot take a recording is refused now, not when the
	// user presses record and the first frame fails to write.
	if err := sink.CheckOutput(sink.TimestampedPath(dir, r.now(), r.ext)); err != nil {
		return nil, fmt.Errorf("serve: --record-dir %s cannot take recordings: %w", dir, err)
	}
	return r, nil
}

// Start begins a new recording and returns the path its file will have. The
// file is created when the first frame arrives, sized to that frame.
func (r *VideoRecorder) Start() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active {
		return r.path, fmt.Errorf("%w to %s", ErrRecordingActive, r.path)
	}
	path := sink.TimestampedPath(r.dir, r.now(), r.ext)
	// Checked again at each start: the folder may have gone, turned
	// read-only or filled up since the server started.
	if err := sink.CheckOutput(path); err != nil {
		return "", fmt.Errorf("serve: %w", err)
	}
	r.active, r.path, r.frames, r.err = true, path, 0, nil
	if r.indicate != nil {
		r.indicate(true)
	}
	return path, nil
}

// Active reports whether a recording is running.
func (r *VideoRecorder) Active() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active
}

// WriteFrame appends frame to the running recording and does nothing when
// none runs. Frames of another size than the first (after a source
// reconnects at a new resolution) are scaled to the first one's size, since
// a video file has one frame size. The caller keeps ownership of frame.
func (r *VideoRecorder) WriteFrame(frame gocv.Mat) error {
	return r.WriteFrameAt(frame, time.Time{})
}

// WriteFrameAt is WriteFrame for a frame captured at captured: with
// WithRealTime the file places it by that time (zero: next in line).
func (r *VideoRecorder) WriteFrameAt(frame gocv.Mat, captured time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.active {
		return nil
	}
	if r.err != nil {
		return r.err
	}
	if frame.Empty() || frame.Type() != gocv.MatTypeCV8UC3 {
		r.err = fmt.Errorf("serve: recording needs 8-bit BGR frames (CV_8UC3), got %v %dx%d", frame.Type(), frame.Cols(), frame.Rows())
		return r.err
	}
	if r.rec == nil {
		var opts []sink.RecorderOption
		if r.fourcc != "" {
			opts = append(opts, sink.WithFourCC(r.fourcc))
		}
		if r.realTime {
			opts = append(opts, sink.WithRealTime())
		}
		rec, err := sink.NewRecorder(r.path, r.fps, frame.Cols(), frame.Rows(), opts...)
		if err != nil {
			r.err = fmt.Errorf("serve: %w", err)
			return r.err
		}
		r.rec = rec
	}
	write := r.rec.Write
	if r.realTime && !captured.IsZero() {
		write = func(m gocv.Mat) error { return r.rec.WriteAt(m, captured) }
	}
	if err := write(frame); err != nil {
		r.err = fmt.Errorf("serve: writing %s: %w", r.path, err)
		return r.err
	}
	r.frames = r.rec.Frames()
	return nil
}

// Stop finalizes the running recording and returns its path and frame count.
func (r *VideoRecorder) Stop() (string, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.active {
		return r.path, r.frames, ErrRecordingInactive
	}
	return r.stop()
}

// StopFailed is Stop for a recording whose write failed: it stops the
// running recording only if that one has failed (stopped false otherwise),
// so that a recording the user started after the failure, between the
// failed write and this call, goes on.
func (r *VideoRecorder) StopFailed() (path string, frames int, err error, stopped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.active || r.err == nil {
		return "", 0, nil, false
	}
	path, frames, err = r.stop()
	return path, frames, err, true
}

// stop finalizes the running recording; r.mu is held.
func (r *VideoRecorder) stop() (string, int, error) {
	if r.indicate != nil {
		r.indicate(false) // under r.mu, as Start's: the REC dot follows the last of the two
	}
	r.active = false
	err := r.err
	if r.rec != nil {
		// Close writes the container's index; without it the file does not play.
		if cerr := r.rec.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("serve: finalizing %s: %w", r.path, cerr)
		}
		r.rec = nil
	} else if err == nil {
		err = fmt.Errorf("serve: no frame arrived while recording, so %s was not written: check that the source delivers frames (/healthz)", r.path)
	}
	return r.path, r.frames, err
}
