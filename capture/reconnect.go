package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Backoff is how a lost source is reopened: the first attempt waits Initial,
// each failed one doubles the wait up to Max, and after GiveUpAfter of
// trying (0: never) Read returns the loss. A USB camera that was bumped
// comes back within a second or two; a camera that was unplugged may come
// back minutes later, and a live demo should pick it up without a restart.
type Backoff struct {
	Initial     time.Duration // first wait; 0 means DefaultBackoff.Initial
	Max         time.Duration // longest wait; 0 means DefaultBackoff.Max
	GiveUpAfter time.Duration // stop trying after this long; 0 tries until the context ends or Close
}

// DefaultBackoff waits 0.5 s, then 1, 2, 4, 5, 5, ... seconds, forever.
var DefaultBackoff = Backoff{Initial: 500 * time.Millisecond, Max: 5 * time.Second}

// ReconnectEvent tells a listener what a reconnecting source is doing, so a
// user interface can say it ("reconnecting to camera 0 (attempt 3)…") and
// clear it when frames flow again.
type ReconnectEvent struct {
	Spec     string        // the source as the user gave it
	Lost     error         // why the source was lost (the first loss of this outage)
	Attempt  int           // 1-based attempt about to be made; 0 when frames flow again
	Wait     time.Duration // how long until that attempt
	OpenErr  error         // why the previous attempt failed; nil on the first
	Restored bool          // frames flow again: clear any "reconnecting" message
}

// Status is a one-line, user-facing description of the event: "" when the
// source is restored.
func (e ReconnectEvent) Status() string {
	if e.Restored {
		return ""
	}
	return fmt.Sprintf("reconnecting to %s (attempt %d)…", e.Spec, e.Attempt)
}

// ReconnectOption configures [Reconnecting].
type ReconnectOption func(*reconnecting) error

// WithBackoff replaces DefaultBackoff.
func WithBackoff(b Backoff) ReconnectOption {
	return func(r *reconnecting) error {
		if b.Initial < 0 || b.Max < 0 || b.GiveUpAfter < 0 {
			return fmt.Errorf("capture: backoff %+v: durations must not be negative", b)
		}
		if b.Initial == 0 {
			b.Initial = DefaultBackoff.Initial
		}
		if b.Max == 0 {
			b.Max = max(DefaultBackoff.Max, b.Initial)
		}
		if b.Max < b.Initial {
			return fmt.Errorf("capture: backoff Max %v is shorter than Initial %v", b.Max, b.Initial)
		}
		r.backoff = b
		return nil
	}
}

// WithReconnectListener is called (on the goroutine that calls Read) at every
// step of an outage: before each attempt, and once with Restored when a
// reopened source delivers again.
func WithReconnectListener(f func(ReconnectEvent)) ReconnectOption {
	return func(r *reconnecting) error { r.listen = f; return nil }
}

// Reconnecting wraps the source open returns so that when it is lost (a Read
// error wrapping [ErrSourceLost]: a camera unplugged, a stream dropped, a
// stall), it is closed and reopened with exponential backoff, and Read
// carries on with the new source's frames, numbered on from the old ones.
// io.EOF (a file or finite pipeline that ended) is passed through: an end is
// not a loss. open is called once now and its error returned: a source
// that never worked is a setup problem, not an outage.
//
// Info is the first source's; Stats add up over every source opened. Read
// is for one goroutine; Close may be called from any and unblocks a Read
// waiting to reconnect.
func Reconnecting(open func() (Source, error), opts ...ReconnectOption) (Source, error) {
	if open == nil {
		return nil, errors.New("capture: Reconnecting needs an open function")
	}
	r := &reconnecting{open: open, backoff: DefaultBackoff, closed: make(chan struct{})}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(r); err != nil {
			return nil, err
		}
	}
	src, err := open()
	if err != nil {
		return nil, err
	}
	r.cur = src
	r.info = src.Info()
	return r, nil
}

type reconnecting struct {
	open    func() (Source, error)
	backoff Backoff
	listen  func(ReconnectEvent)
	info    Info

	closeOnce sync.Once
	closed    chan struct{}

	mu      sync.Mutex
	cur     Source // nil while reconnecting
	past    Stats  // of the sources closed so far
	seqBase uint64 // added to the current source's Seq
	lastSeq uint64
}

func (r *reconnecting) Read(ctx context.Context) (Frame, func(), error) {
	for {
		r.mu.Lock()
		src := r.cur
		r.mu.Unlock()
		select {
		case <-r.closed:
			return Frame{}, nil, ErrClosed
		default:
		}
		if src == nil {
			return Frame{}, nil, ErrClosed
		}
		f, release, err := src.Read(ctx)
		if err == nil {
			r.mu.Lock()
			f.Seq += r.seqBase
			r.lastSeq = f.Seq
			r.mu.Unlock()
			return f, release, nil
		}
		if !errors.Is(err, ErrSourceLost) || ctx.Err() != nil {
			return Frame{}, nil, err
		}
		if err := r.reconnect(ctx, src, err); err != nil {
			return Frame{}, nil, err
		}
	}
}

// reconnect closes the lost source and opens a new one, waiting with
// backoff between attempts.
func (r *reconnecting) reconnect(ctx context.Context, lost Source, cause error) error {
	r.mu.Lock()
	if r.cur != lost { // Close got there first
		r.mu.Unlock()
		return ErrClosed
	}
	st := lost.Stats()
	r.past.Read += st.Read
	r.past.Dropped += st.Dropped
	r.seqBase = r.lastSeq + 1
	r.cur = nil
	r.mu.Unlock()
	_ = lost.Close()

	start := time.Now()
	wait := r.backoff.Initial
	var openErr error
	for attempt := 1; ; attempt++ {
		if g := r.backoff.GiveUpAfter; g > 0 && time.Since(start)+wait > g {
			return fmt.Errorf("%w; gave up reconnecting after %d attempts over %v: last attempt: %v", cause, attempt-1, time.Since(start).Round(time.Millisecond), openErr)
		}
		if r.listen != nil {
			r.listen(ReconnectEvent{Spec: r.info.Spec, Lost: cause, Attempt: attempt, Wait: wait, OpenErr: openErr})
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-r.closed:
			t.Stop()
			return ErrClosed
		case <-t.C:
		}
		src, err := r.open()
		if err == nil {
			r.mu.Lock()
			select {
			case <-r.closed:
				r.mu.Unlock()
				_ = src.Close()
				return ErrClosed
			default:
			}
			r.cur = src
			r.mu.Unlock()
			if r.listen != nil {
				r.listen(ReconnectEvent{Spec: r.info.Spec, Lost: cause, Restored: true})
			}
			return nil
		}
		openErr = err
		wait = min(2*wait, r.backoff.Max)
	}
}

func (r *reconnecting) Info() Info { return r.info }

func (r *reconnecting) Stats() Stats {
	r.mu.Lock()
	st, cur := r.past, r.cur
	r.mu.Unlock()
	if cur != nil {
		c := cur.Stats()
		st.Read += c.Read
		st.Dropped += c.Dropped
	}
	return st
}

func (r *reconnecting) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	r.mu.Lock()
	cur := r.cur
	r.cur = nil
	r.mu.Unlock()
	if cur != nil {
		return cur.Close()
	}
	return nil
}
