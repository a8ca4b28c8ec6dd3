package sink

import (
	"errors"
	"fmt"

	"gocv.io/x/gocv"
)

// Window shows frames in a desktop window (OpenCV's highgui, Qt here).
//
// OpenCV's GUI is bound to the thread that created the window: NewWindow
// locks the calling goroutine to its OS thread, and Show and Close must be
// called from that same goroutine.
type Window struct {
	win    *gocv.Window
	closed bool
}

// NewWindow opens a window titled title. With w and h > 0 the window is
// resizable and starts w x h, frames scaled to fit with their aspect ratio
// kept (Qt's toolbar takes a strip of it, as in other OpenCV programs). With
// w or h <= 0 the window fits each frame at its native size, pixel for pixel,
// and follows it when the frame size changes.
// It checks DisplayAvailable first and returns its ErrNoDisplay error rather
// than let OpenCV abort the process.
func NewWindow(title string, w, h int) (*Window, error) {
	if title == "" {
		return nil, errors.New("sink: window title is empty; OpenCV names windows by their title")
	}
	if err := DisplayAvailable(); err != nil {
		return nil, fmt.Errorf("sink: cannot open window %q: %w", title, err)
	}
	win := gocv.NewWindow(title)
	if w > 0 && h > 0 {
		win.ResizeWindow(w, h)
	} else {
		win.SetWindowProperty(gocv.WindowPropertyAutosize, gocv.WindowAutosize)
	}
	return &Window{win: win}, nil
}

// Show displays img and handles window events for 1 ms. It returns the code
// of the key pressed meanwhile, as OpenCV reports it (27 is Esc), or -1 when
// none was. An empty img is skipped (OpenCV would abort on it).
func (w *Window) Show(img gocv.Mat) (key int) {
	if w.closed {
		return -1
	}
	if !img.Empty() {
		w.win.IMShow(img)
	}
	return w.win.WaitKey(1)
}

// UserClosed reports whether the user closed the window (its close button),
// so a display loop can stop like it does on Esc.
func (w *Window) UserClosed() bool {
	if w.closed {
		return true
	}
	return w.win.GetWindowProperty(gocv.WindowPropertyVisible) < 1
}

// Close destroys the window. It is idempotent.
func (w *Window) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.win.Close()
}
