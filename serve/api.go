package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
)

func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	f := s.hub.Latest()
	if f == nil {
		http.Error(w, "no frame yet: the source has not delivered a frame (see /healthz)", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.Itoa(len(f.JPEG)))
	h.Set("X-Frame-Seq", strconv.FormatUint(f.Seq, 10))
	noCache(h)
	if r.URL.Query().Has("download") {
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="rpscam-%s-%d.jpg"`, f.Published.Format("20060102-150405"), f.Seq))
	}
	_, _ = w.Write(f.JPEG)
}

func (s *Server) handlePrediction(w http.ResponseWriter, r *http.Request) {
	f := s.hub.Latest()
	if f == nil {
		writeJSONError(w, http.StatusServiceUnavailable, "no prediction yet: the source has not delivered a frame (see /healthz)")
		return
	}
	writeJSON(w, http.StatusOK, f.predictionJSON())
}

// handleHealth answers 200 "ok" while frames flow and 503 with the reason
// otherwise, for load balancers and `curl -f`.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ok, reason := s.health()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, reason)
}

// recordJSON is the body of /api/record responses.
type recordJSON struct {
	Available bool   `json:"available"`        // false when the server was started without recording
	Active    bool   `json:"active"`           // a recording is running
	Path      string `json:"path,omitempty"`   // the running or last finished recording
	Frames    *int   `json:"frames,omitempty"` // frames written, after a stop
}

func (s *Server) handleRecordStatus(w http.ResponseWriter, r *http.Request) {
	if s.recording == nil {
		writeJSON(w, http.StatusOK, recordJSON{})
		return
	}
	s.recMu.Lock()
	defer s.recMu.Unlock()
	writeJSON(w, http.StatusOK, recordJSON{Available: true, Active: s.recording.Active(), Path: s.recPath})
}

// handleRecord starts or stops recording: POST {"action":"start"|"stop"}.
// A JSON content type is required so that a page on another site cannot
// start recordings with a plain cross-site form post (JSON needs a CORS
// preflight, which this server never grants).
func (s *Server) handleRecord(w http.ResponseWriter, r *http.Request) {
	if s.recording == nil {
		writeJSONError(w, http.StatusNotImplemented, "recording is disabled: start the server with a recording directory (rpscam serve --record-dir DIR)")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSONError(w, http.StatusUnsupportedMediaType, `send Content-Type: application/json with a body like {"action":"start"}`)
		return
	}
	var req struct {
		Action string `json:"action"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf(`bad body (%v): send {"action":"start"} or {"action":"stop"}`, err))
		return
	}
	s.recMu.Lock()
	defer s.recMu.Unlock()
	switch req.Action {
	case "start":
		if s.recording.Active() {
			writeJSONError(w, http.StatusConflict, "already recording to "+s.recPath+`: send {"action":"stop"} first`)
			return
		}
		path, err := s.recording.Start()
		if err != nil {
			writeRecordError(w, err)
			return
		}
		s.recPath = path
		s.log.Info("recording started", "path", path)
		writeJSON(w, http.StatusOK, recordJSON{Available: true, Active: true, Path: path})
	case "stop":
		if !s.recording.Active() {
			writeJSONError(w, http.StatusConflict, `not recording: send {"action":"start"} first`)
			return
		}
		path, frames, err := s.recording.Stop()
		if err != nil {
			writeRecordError(w, err)
			return
		}
		s.recPath = path
		s.log.Info("recording stopped", "path", path, "frames", frames)
		writeJSON(w, http.StatusOK, recordJSON{Available: true, Active: false, Path: path, Frames: &frames})
	default:
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf(`unknown action %q: use "start" or "stop"`, req.Action))
	}
}

func writeRecordError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, ErrRecordingActive) || errors.Is(err, ErrRecordingInactive) {
		code = http.StatusConflict
	}
	writeJSONError(w, code, err.Error())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
