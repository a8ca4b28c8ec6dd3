package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"gocv.io/x/gocv"
)

// ErrHubClosed is returned by Hub.Next and Hub.Publish once the hub is closed:
// the source has ended and viewers' streams should end too.
var ErrHubClosed = errors.New("serve: hub closed")

// DefaultJPEGQuality balances sharpness against bandwidth for a 640x480 stream
// (about 40 KB a frame, roughly what browsers' MJPEG viewers expect).
const DefaultJPEGQuality = 80

// Frame is one published frame: the annotated image, JPEG-encoded once, and
// its prediction. A Frame is immutable after publication and shared by every
// viewer, so never modify its JPEG bytes.
type Frame struct {
	Seq        uint64 // the hub's sequence number: 1, 2, 3... without gaps in publication order
	JPEG       []byte
	Width      int
	Height     int
	Prediction Prediction
	Published  time.Time
	FPS        float64       // Prediction.FPS, or the hub's measured publication rate when that is 0
	EncodeTime time.Duration // time spent in JPEG encoding
}

// HubOption configures a Hub.
type HubOption func(*Hub) error

// WithJPEGQuality sets the JPEG quality of the shared stream (1..100).
func WithJPEGQuality(q int) HubOption {
	return func(h *Hub) error {
		if q < 1 || q > 100 {
			return fmt.Errorf("serve: JPEG quality %d out of range: use 1..100 (default %d)", q, DefaultJPEGQuality)
		}
		h.quality = q
		return nil
	}
}

// Hub holds the newest frame and wakes every waiting viewer when it changes.
// It is safe for one or more publishers and any number of viewers.
type Hub struct {
	quality int
	now     func() time.Time

	mu        sync.Mutex
	latest    *Frame
	status    string
	changed   chan struct{} // closed and replaced on every publication or status change
	closed    bool
	seq       uint64
	rate      rateMeter
	observers []func(*Frame)
}

// NewHub returns an empty hub.
func NewHub(opts ...HubOption) (*Hub, error) {
	h := &Hub{quality: DefaultJPEGQuality, now: time.Now, changed: make(chan struct{})}
	for _, o := range opts {
		if err := o(h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Publish encodes annotated as JPEG once, makes it the newest frame and wakes
// the viewers. It never waits for a viewer. The caller keeps ownership of
// annotated and of p's slices, and may reuse them as soon as Publish returns. Publishing also clears
// any status set with SetStatus: a frame is proof the source flows again.
func (h *Hub) Publish(annotated gocv.Mat, p Prediction) error {
	if err := p.validate(); err != nil {
		return err
	}
	if annotated.Empty() {
		return errors.New("serve: published an empty frame: pass the annotated BGR image")
	}
	// imencode would throw (and abort the process through cgo) on depths JPEG
	// cannot hold, so refuse them here with an error instead.
	switch annotated.Type() {
	case gocv.MatTypeCV8UC1, gocv.MatTypeCV8UC3, gocv.MatTypeCV8UC4:
	default:
		return fmt.Errorf("serve: published a frame of Mat type %v: convert it to 8-bit BGR (CV_8UC3) first", annotated.Type())
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return ErrHubClosed
	}

	start := h.now()
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, annotated, []int{gocv.IMWriteJpegQuality, h.quality})
	if err != nil {
		return fmt.Errorf("serve: JPEG encoding: %w", err)
	}
	// The native buffer is freed below, so the shared bytes must be a Go copy.
	jpeg := bytes.Clone(buf.GetBytes())
	buf.Close()
	if len(jpeg) == 0 {
		return errors.New("serve: JPEG encoding produced no bytes: OpenCV was built without JPEG support")
	}
	published := h.now()

	// Callers such as the pipeline reuse their slices after Publish returns.
	p.Labels = slices.Clone(p.Labels)
	p.Probs = slices.Clone(p.Probs)
	f := &Frame{
		JPEG:       jpeg,
		Width:      annotated.Cols(),
		Height:     annotated.Rows(),
		Prediction: p,
		Published:  published,
		EncodeTime: published.Sub(start),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrHubClosed
	}
	h.seq++
	f.Seq = h.seq
	f.FPS = p.FPS
	if measured := h.rate.add(published); f.FPS == 0 {
		f.FPS = measured
	}
	h.latest = f
	h.status = ""
	h.wakeLocked()
	observers := h.observers
	h.mu.Unlock()

	for _, o := range observers {
		o(f)
	}
	return nil
}

// SetStatus tells viewers why frames are not flowing ("reconnecting",
// "stalled", "ended"...). "" means the source is fine. The next Publish clears it.
func (h *Hub) SetStatus(status string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.status == status {
		return
	}
	h.status = status
	h.wakeLocked()
}

// Status returns what SetStatus last set, "" after a publication.
func (h *Hub) Status() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// Latest returns the newest frame, or nil before the first publication.
func (h *Hub) Latest() *Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

// Next waits for a frame newer than sequence number after and returns the
// newest one, which may skip frames a slow caller missed. It returns
// ErrHubClosed once the hub is closed and ctx.Err() when ctx is done.
func (h *Hub) Next(ctx context.Context, after uint64) (*Frame, error) {
	for {
		st := h.state()
		if st.frame != nil && st.frame.Seq > after {
			return st.frame, nil
		}
		if st.closed {
			return nil, ErrHubClosed
		}
		select {
		case <-st.changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close ends every viewer's stream. Later publications return ErrHubClosed;
// Latest still returns the last frame so snapshots keep working.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	h.wakeLocked()
}

// hubState is a consistent view of the hub plus the channel that is closed at
// its next change, so a caller can act on it and then wait without a race.
type hubState struct {
	frame   *Frame
	status  string
	closed  bool
	changed <-chan struct{}
}

func (h *Hub) state() hubState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return hubState{frame: h.latest, status: h.status, closed: h.closed, changed: h.changed}
}

func (h *Hub) wakeLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// observe registers fn to run on the publishing goroutine after each
// publication; the Server uses it to count every frame, which a viewer
// waiting with Next could not (it skips frames by design).
func (h *Hub) observe(fn func(*Frame)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observers = append(h.observers[:len(h.observers):len(h.observers)], fn)
}

// rateMeter measures events per second over the most recent events, up to
// rateWindow of them within rateSpan, so it follows changes within a second or two.
type rateMeter struct {
	times [rateWindow]time.Time
	n     int // events recorded, saturating at rateWindow
	next  int
}

const (
	rateWindow = 32
	rateSpan   = 2 * time.Second
)

func (m *rateMeter) add(t time.Time) float64 {
	m.times[m.next] = t
	m.next = (m.next + 1) % rateWindow
	if m.n < rateWindow {
		m.n++
	}
	// Walk back from the newest event while events stay within rateSpan.
	count := 0
	var oldest time.Time
	for i := 0; i < m.n; i++ {
		ti := m.times[(m.next-1-i+2*rateWindow)%rateWindow]
		if t.Sub(ti) > rateSpan {
			break
		}
		oldest = ti
		count++
	}
	elapsed := t.Sub(oldest)
	if count < 2 || elapsed <= 0 {
		return 0
	}
	return float64(count-1) / elapsed.Seconds()
}
