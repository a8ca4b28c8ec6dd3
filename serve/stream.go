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
)

// mjpegBoundary separates the parts of /stream.mjpg.
const mjpegBoundary = "rpscamframe"

// handleStream serves multipart/x-mixed-replace JPEG frames: the format
// <img src> in every browser, VLC, ffmpeg and OpenCV's VideoCapture play.
// Query: max_fps=N caps this viewer's rate (newest frame wins).
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	minInterval, err := rateInterval(r, "max_fps")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	release, ok := s.admit(endpointStream)
	if !ok {
		http.Error(w, fmt.Sprintf("too many viewers (limit %d): close another viewer or raise the server's client limit", s.maxClients), http.StatusServiceUnavailable)
		return
	}
	defer release()
	s.log.Debug("viewer connected", "endpoint", endpointStream, "remote", r.RemoteAddr)
	defer s.log.Debug("viewer left", "endpoint", endpointStream, "remote", r.RemoteAddr)

	h := w.Header()
	h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+mjpegBoundary)
	noCache(h)
	rc := http.NewResponseController(w)
	defer clearDeadline(rc)
	sent := s.metrics.framesSent.WithLabelValues(endpointStream)
	skipped := s.metrics.framesSkipped.WithLabelValues(endpointStream)

	// The delimiter is written right after each frame rather than before the
	// next: browsers show a part only once they see the delimiter that ends
	// it, so writing it late would delay every frame by one.
	if !s.write(rc, w, []byte("--"+mjpegBoundary+"\r\n")) {
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
			skipped.Add(float64(f.Seq - last - 1))
		}
		head := fmt.Sprintf("Content-Type: image/jpeg\r\nContent-Length: %d\r\nX-Frame-Seq: %d\r\nX-Timestamp: %.6f\r\n\r\n",
			len(f.JPEG), f.Seq, float64(f.Published.UnixMicro())/1e6)
		if !s.write(rc, w, []byte(head), f.JPEG, []byte("\r\n--"+mjpegBoundary+"\r\n")) {
			return
		}
		sent.Inc()
		last = f.Seq
		if minInterval > 0 {
			now := s.now()
			if !sleepCtx(ctx, lastSent.Add(minInterval).Sub(now)) {
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
	minInterval, err := rateInterval(r, "max_rate")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	release, ok := s.admit(endpointEvents)
	if !ok {
		http.Error(w, fmt.Sprintf("too many viewers (limit %d): close another viewer or raise the server's client limit", s.maxClients), http.StatusServiceUnavailable)
		return
	}
	defer release()
	s.log.Debug("viewer connected", "endpoint", endpointEvents, "remote", r.RemoteAddr)
	defer s.log.Debug("viewer left", "endpoint", endpointEvents, "remote", r.RemoteAddr)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	noCache(h)
	rc := http.NewResponseController(w)
	defer clearDeadline(rc)
	sent := s.metrics.framesSent.WithLabelValues(endpointEvents)
	skipped := s.metrics.framesSkipped.WithLabelValues(endpointEvents)

	// A health change must reach the page even when no frame arrives, which
	// is exactly when the source stalls, so health is also polled.
	pollEvery := min(s.stallTimeout/2, time.Second)
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()

	ctx := r.Context()
	// retry: tells EventSource how soon to reconnect after a restart.
	if !s.write(rc, w, []byte("retry: 2000\n\n")) {
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
			if !s.write(rc, w, sseEvent("status", "", data)) {
				return
			}
			lastHealth, lastWrite = reason, s.now()
		}
		if st.frame != nil && st.frame.Seq > lastSeq && rateWait == nil {
			if wait := lastSent.Add(minInterval).Sub(s.now()); minInterval > 0 && wait > 0 {
				rateWait = time.After(wait)
			} else {
				data, err := json.Marshal(st.frame.predictionJSON())
				if err != nil {
					s.log.Error("encoding prediction", "err", err)
					return
				}
				if !s.write(rc, w, sseEvent("prediction", strconv.FormatUint(st.frame.Seq, 10), data)) {
					return
				}
				if lastSeq != 0 {
					skipped.Add(float64(st.frame.Seq - lastSeq - 1))
				}
				sent.Inc()
				lastSeq, lastSent, lastWrite = st.frame.Seq, s.now(), s.now()
			}
		}
		if st.closed && rateWait == nil && (st.frame == nil || st.frame.Seq == lastSeq) {
			s.write(rc, w, sseEvent("end", "", []byte(`{"status":"source ended"}`)))
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
				if !s.write(rc, w, []byte(": keepalive\n\n")) {
					return
				}
				lastWrite = s.now()
			}
		case <-ctx.Done():
			return
		}
	}
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
