package capture

import (
	"errors"
	"fmt"
)

// ErrSourceUnavailable is wrapped by every [*OpenError]: the source could not
// be opened or delivered no first frame.
var ErrSourceUnavailable = errors.New("video source unavailable")

// ErrSourceLost is wrapped by the error a live source returns when it stops
// delivering frames mid-run (a camera unplugged, a stream that went away, or
// no frame within the [WithStallTimeout] limit).
var ErrSourceLost = errors.New("video source lost")

// ErrClosed is returned by Read on a source that has been closed.
var ErrClosed = errors.New("capture: source is closed")

// OpenError says which source could not be opened, why, and what to try.
type OpenError struct {
	Spec   string // the source as the user gave it
	Reason string // what went wrong
	Hint   string // what to try; may be empty
	Err    error  // underlying cause, if any
}

func (e *OpenError) Error() string {
	msg := fmt.Sprintf("cannot open video source %q: %s", e.Spec, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Unwrap lets errors.Is match both ErrSourceUnavailable and the cause.
func (e *OpenError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrSourceUnavailable, e.Err}
	}
	return []error{ErrSourceUnavailable}
}
