package sink

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"path/filepath"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/pipeline"
)

// Consume writes the annotated frame: a Recorder is a pipeline.Sink. With
// WithRealTime it places the frame by its capture time (WriteAt).
func (r *Recorder) Consume(a *pipeline.Annotated) error {
	if r.realTime && !a.Captured.IsZero() {
		return r.WriteAt(a.Mat, a.Captured)
	}
	return r.Write(a.Mat)
}

// Overlay is what LiveWindow needs of the pipeline's annotator: the REC
// indicator, and the status banner over a frame shown again.
type Overlay interface {
	SetRecording(on bool)
	DrawStatus(img *gocv.Mat, status string) error
}

// Key codes as OpenCV's WaitKey reports them (low byte).
const (
	keyEsc   = 27
	keySpace = ' '
)

// LiveWindow is the pipeline sink of `rpscam live`: it shows frames in a
// Window and answers keys (q/Esc quit, space pause, r start/stop recording,
// s snapshot). Pausing blocks in Consume, which holds the pipeline back: a
// file waits where it is, a camera keeps only its newest frame (and counts
// the rest as dropped). Use it from the Window's goroutine.
type LiveWindow struct {
	ctx    context.Context
	win    *Window
	ann    Overlay // the annotator's: Idle runs on the same goroutine
	dir    string
	fps    float64
	log    io.Writer
	rec    *Recorder
	last   gocv.Mat // the last frame shown, redrawn with the status while none comes
	frozen gocv.Mat // last with the status banner
	keys   func(key int) bool
	// realTime records by capture time (SetRealTime).
	realTime bool
}

// SetRealTime makes the r key's recordings place frames by capture time
// (WithRealTime): for a live source, so they play back at real speed.
func (w *LiveWindow) SetRealTime(on bool) { w.realTime = on }

// SetKeys gives keys first look at every key pressed (low byte); a key it
// reports handled is not the window's (live's teach keys).
func (w *LiveWindow) SetKeys(keys func(key int) bool) { w.keys = keys }

// NewLiveWindow shows frames in win; recordings (at fps) and snapshots go
// to dir, messages about them to log. A cancelled ctx ends a pause.
func NewLiveWindow(ctx context.Context, win *Window, ann Overlay, dir string, fps float64, log io.Writer) *LiveWindow {
	return &LiveWindow{ctx: ctx, win: win, ann: ann, dir: dir, fps: fps, log: log, last: gocv.NewMat(), frozen: gocv.NewMat()}
}

// Consume records and shows the frame and handles the key pressed.
func (w *LiveWindow) Consume(a *pipeline.Annotated) error {
	a.Mat.CopyTo(&w.last)
	if w.rec != nil {
		if err := w.rec.Consume(a); err != nil {
			fmt.Fprintf(w.log, "rpscam: recording stopped: %v\n", err)
			w.StopRecording()
		}
	}
	return w.handle(a, w.win.Show(a.Mat))
}

func (w *LiveWindow) handle(a *pipeline.Annotated, key int) error {
	if w.win.UserClosed() {
		return pipeline.ErrStop
	}
	if key >= 0 && w.keys != nil && w.keys(key&0xff) {
		return nil
	}
	switch key & 0xff {
	case 'q', 'Q', keyEsc:
		return pipeline.ErrStop
	case 'r', 'R':
		if w.rec != nil {
			w.StopRecording()
			return nil
		}
		path := TimestampedPath(w.dir, time.Now(), ".mp4")
		var opts []RecorderOption
		if w.realTime {
			opts = append(opts, WithRealTime())
		}
		rec, err := NewRecorder(path, w.fps, a.Mat.Cols(), a.Mat.Rows(), opts...)
		if err != nil {
			fmt.Fprintf(w.log, "rpscam: cannot record: %v\n", err)
			return nil
		}
		w.rec = rec
		w.ann.SetRecording(true)
		fmt.Fprintf(w.log, "recording to %s (r to stop)\n", path)
	case 's', 'S':
		path := filepath.Join(w.dir, "rpscam-"+time.Now().Format("20060102-150405.000")+".png")
		if gocv.IMWrite(path, a.Mat) {
			fmt.Fprintf(w.log, "snapshot %s\n", path)
		} else {
			fmt.Fprintf(w.log, "rpscam: could not write snapshot %s\n", path)
		}
	case keySpace:
		return w.pause(a)
	}
	return nil
}

// pause shows the current frame with a "paused" banner until space (resume)
// or a quit key, the window closing or ctx.
func (w *LiveWindow) pause(a *pipeline.Annotated) error {
	frozen := a.Mat.Clone()
	defer frozen.Close()
	gocv.PutText(&frozen, "PAUSED - space to resume", image.Pt(12, frozen.Rows()-16), gocv.FontHersheySimplex, 0.7, color.RGBA{255, 255, 255, 0}, 2)
	for {
		if w.ctx.Err() != nil || w.win.UserClosed() {
			return pipeline.ErrStop
		}
		switch w.win.Show(frozen) & 0xff {
		case keySpace:
			return nil
		case 'q', 'Q', keyEsc:
			return pipeline.ErrStop
		case 's', 'S':
			if err := w.handle(a, 's'); err != nil {
				return err
			}
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// Idle keeps the window alive while no frame comes (the camera is being
// reconnected): the last frame with the status banner, and the quit keys.
func (w *LiveWindow) Idle(status string) error {
	if w.ctx.Err() != nil || w.win.UserClosed() {
		return pipeline.ErrStop
	}
	img := w.last
	if status != "" && !w.last.Empty() {
		w.last.CopyTo(&w.frozen)
		if err := w.ann.DrawStatus(&w.frozen, status); err != nil {
			return err
		}
		img = w.frozen
	}
	switch w.win.Show(img) & 0xff {
	case 'q', 'Q', keyEsc:
		return pipeline.ErrStop
	}
	return nil
}

// StopRecording finishes the recording the r key started, if one runs.
func (w *LiveWindow) StopRecording() {
	if w.rec == nil {
		return
	}
	err := w.rec.Close()
	fmt.Fprintf(w.log, "recorded %d frames to %s\n", w.rec.Frames(), w.rec.Path())
	if err != nil {
		fmt.Fprintf(w.log, "rpscam: finishing %s: %v\n", w.rec.Path(), err)
	}
	w.rec = nil
	w.ann.SetRecording(false)
}

// Close stops any recording and frees the kept frames.
func (w *LiveWindow) Close() {
	w.StopRecording()
	w.last.Close()
	w.frozen.Close()
}
