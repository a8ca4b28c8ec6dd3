package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// mjpegBoundary separates the parts of /stream.mjpg.
const mjpegBoundary = "rpscamframe"

// handleStream serves multipart/x-mixed-replace JPEG frames: the format
// <img src> in every browser, VLC, ffmpeg and OpenCV's VideoCapture play.
// Query: max_fps=N caps this viewer's rate (newest frame wins).
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	v, ok := s.admitViewer(w, r, endpointStream, "max_fps", "multipart/x-mixed-replace; boundary="+mjpegBoundary)
	if !ok {
		return
	}
	defer v.leave()

	// The delimiter is written right after each frame rather than before the
	// next: browsers show a part only once they see the delimiter that ends
	// it, so writing it late would delay every frame by one.
	if !s.write(v.rc, w, []byte("--"+mjpegBoundary+"\r\n")) {
		return
	}
	ctx := r.Context()
	var last uint64
	var lastSent time.Time
	for {
		f, err := s.hub.Next(ctx, last)
		if err != nil {
			return
		}
		if last != 0 {
			v.skipped.Add(float64(f.Seq - last - 1))
		}
		head := fmt.Sprintf("Content-Type: image/jpeg\r\nContent-Length: %d\r\nX-Frame-Seq: %d\r\nX-Timestamp: %.6f\r\n\r\n",
			len(f.JPEG), f.Seq, float64(f.Published.UnixMicro())/1e6)
		if !s.write(v.rc, w, []byte(head), f.JPEG, []byte("\r\n--"+mjpegBoundary+"\r\n")) {
			return
		}
		v.sent.Inc()
		last = f.Seq
		if v.minInterval > 0 {
			now := s.now()
			if !sleepCtx(ctx, lastSent.Add(v.minInterval).Sub(now)) {
				return
			}
			lastSent = s.now()
		}
	}
}

// handleEvents serves predictions as server-sent events: one "prediction"
// event per published frame (event id = frame seq), a "status" event whenever
// the source's health changes, and a comment every 15 s to keep proxies from
// closing an idle stream. Query: max_rate=N caps events per second.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	v, ok := s.admitViewer(w, r, endpointEvents, "max_rate", "text/event-stream; charset=utf-8")
	if !ok {
		return
	}
	defer v.leave()

	// A health change must reach the page even when no frame arrives, which
	// is exactly when the source stalls, so health is also polled.
	// (At least a millisecond: a ticker needs a positive interval, and the
	// stall timeout may be as small as a nanosecond.)
	pollEvery := max(min(s.stallTimeout/2, time.Second), time.Millisecond)
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()

	ctx := r.Context()
	// retry: tells EventSource how soon to reconnect after a restart.
	if !s.write(v.rc, w, []byte("retry: 2000\n\n")) {
		return
	}
	lastWrite := s.now()
	var lastSeq uint64
	var lastSent time.Time
	var lastHealth string
	var rateWait <-chan time.Time // non-nil while a newer frame waits for max_rate
	for {
		st := s.hub.state()
		if ok, reason := s.health(); reason != lastHealth {
			data, _ := json.Marshal(statusJSON{OK: ok, Status: reason})
			if !s.write(v.rc, w, sseEvent("status", "", data)) {
				return
			}
			lastHealth, lastWrite = reason, s.now()
		}
		if st.frame != nil && st.frame.Seq > lastSeq && rateWait == nil {
			if wait := lastSent.Add(v.minInterval).Sub(s.now()); v.minInterval > 0 && wait > 0 {
				rateWait = time.After(wait)
			} else {
				data, err := json.Marshal(st.frame.predictionJSON())
				if err != nil {
					s.log.Error("encoding prediction", "err", err)
					return
				}
				if !s.write(v.rc, w, sseEvent("prediction", strconv.FormatUint(st.frame.Seq, 10), data)) {
					return
				}
				if lastSeq != 0 {
					v.skipped.Add(float64(st.frame.Seq - lastSeq - 1))
				}
				v.sent.Inc()
				lastSeq, lastSent, lastWrite = st.frame.Seq, s.now(), s.now()
			}
		}
		if st.closed && rateWait == nil && (st.frame == nil || st.frame.Seq == lastSeq) {
			s.write(v.rc, w, sseEvent("end", "", []byte(`{"status":"source ended"}`)))
			return
		}
		changed := st.changed
		if rateWait != nil {
			changed = nil // nothing to do before the rate allows the next event
		}
		select {
		case <-changed:
		case <-rateWait:
			rateWait = nil
		case <-ticker.C:
			if s.now().Sub(lastWrite) >= keepaliveEvery {
				if !s.write(v.rc, w, []byte(": keepalive\n\n")) {
					return
				}
				lastWrite = s.now()
			}
		case <-ctx.Done():
			return
		}
	}
}

// viewer is one admitted client of a streaming endpoint (the MJPEG stream
// or the event stream): its rate cap, its response controller and its
// endpoint's frame counters.
type viewer struct {
	rc            *http.ResponseController
	minInterval   time.Duration // 0: no cap
	sent, skipped prometheus.Counter
	leave         func() // clears the write deadline, frees the client slot, logs
}

// admitViewer parses the endpoint's rate cap (query parameter rateParam),
// admits the client under the server's limit on viewers and sets the
// streaming headers. When it returns false it has answered the request
// (400 for a bad cap, 503 over the limit).
func (s *Server) admitViewer(w http.ResponseWriter, r *http.Request, endpoint, rateParam, contentType string) (*viewer, bool) {
	minInterval, err := rateInterval(r, rateParam)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	release, ok := s.admit(endpoint)
	if !ok {
		http.Error(w, fmt.Sprintf("too many viewers (limit %d): close another viewer or raise the server's client limit", s.maxClients), http.StatusServiceUnavailable)
		return nil, false
	}
	s.log.Debug("viewer connected", "endpoint", endpoint, "remote", r.RemoteAddr)
	h := w.Header()
	h.Set("Content-Type", contentType)
	noCache(h)
	rc := http.NewResponseController(w)
	return &viewer{
		rc:          rc,
		minInterval: minInterval,
		sent:        s.metrics.framesSent.WithLabelValues(endpoint),
		skipped:     s.metrics.framesSkipped.WithLabelValues(endpoint),
		leave: func() {
			clearDeadline(rc)
			release()
			s.log.Debug("viewer left", "endpoint", endpoint, "remote", r.RemoteAddr)
		},
	}, true
}

type statusJSON struct {
	OK     bool   `json:"ok"`
	Status string `json:"status"`
}

// sseEvent frames one event. data is single-line JSON, so one data: line suffices.
func sseEvent(event, id string, data []byte) []byte {
	b := make([]byte, 0, len(data)+64)
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, '\n')
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "data: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// write sends chunks and flushes them under the write timeout, so a viewer
// that stops reading is dropped after the timeout instead of holding its
// goroutine and frame forever. It reports whether the viewer is still there.
func (s *Server) write(rc *http.ResponseController, w io.Writer, chunks ...[]byte) bool {
	// Unsupported only by test recorders; the deadline is a safety net, not logic.
	_ = rc.SetWriteDeadline(s.now().Add(s.writeTimeout))
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			return false
		}
	}
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return false
	}
	return true
}

// clearDeadline removes the per-write deadline so that it cannot hit a later
// request on the same keep-alive connection.
func clearDeadline(rc *http.ResponseController) { _ = rc.SetWriteDeadline(time.Time{}) }

// rateInterval parses an optional per-viewer rate cap (per second) from the query.
func rateInterval(r *http.Request, param string) (time.Duration, error) {
	v := r.URL.Query().Get(param)
	if v == "" {
		return 0, nil
	}
	rate, err := strconv.ParseFloat(v, 64)
	// Written so that NaN fails too; the lower bound keeps the interval
	// within time.Duration.
	if err != nil || !(rate >= 0.001 && rate <= 1000) {
		return 0, fmt.Errorf("%s=%q: pass a rate per second from 0.001 to 1000, e.g. %s=10, or leave it out for every frame", param, v, param)
	}
	return time.Duration(float64(time.Second) / rate), nil
}

// sleepCtx waits d unless ctx ends first; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func noCache(h http.Header) {
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass the stream through unbuffered
}
