package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
)

// Teacher is what the Teach panel needs from the component that keeps the
// user's samples, trains on them and swaps the taught model into the
// running pipeline (package teach's Teacher, through the command's adapter).
// Its methods are called from HTTP handlers, and AddSample from the
// goroutine that calls Server.TeachFrame, concurrently.
type Teacher interface {
	// Classes are the classes one can record, in the model's order.
	Classes() []string
	// Counts is the number of samples saved per class.
	Counts() map[string]int
	// AddSample saves roi of frame (zero: the model's default crop) as a
	// sample of class. frame is valid only during the call.
	AddSample(class string, frame gocv.Mat, roi image.Rectangle) error
	// Recent returns up to n sample files of class, newest first.
	Recent(class string, n int) ([]string, error)
	// Train trains on the samples and swaps the new model in on success;
	// it returns an error wrapping ErrTrainBusy while another training runs
	// and a *TooFewSamplesError when a class lacks samples.
	Train(ctx context.Context, progress func(TrainProgress)) (*TrainResult, error)
	// Reset swaps the shipped model back in.
	Reset() error
	// ModelPath is the model file running now.
	ModelPath() string
}

// TrainProgress is one progress report of a training.
type TrainProgress struct {
	Stage        string // what it does now ("features", "training", "checking", ...)
	Done, Total  int    // units of the stage done, of Total (0: unknown)
	Elapsed, ETA time.Duration
}

// TrainResult is what a successful training reports.
type TrainResult struct {
	Before, After float64 // accuracy on the held-out samples with the old and the new model, 0..1
	HeldOut       int     // held-out samples scored
	Model         string  // the new model's file
	Took          time.Duration
}

// ErrTrainBusy is what a Teacher's Train wraps while another training runs;
// the page's Train button maps it to 409 Conflict.
var ErrTrainBusy = errors.New("a training is already running")

// TooFewSamplesError is a Teacher's answer to Train when a class has too few
// samples; the page maps it to 400 and names the class.
type TooFewSamplesError struct {
	Class      string
	Have, Need int
}

func (e *TooFewSamplesError) Error() string {
	return fmt.Sprintf("class %s has %d samples and needs at least %d: record %d more (hold its button in front of the camera)",
		infer.DisplayLabel(e.Class), e.Have, e.Need, e.Need-e.Have)
}

// defaultHoldLimit caps one press of a record button: a button whose release
// never reaches the server (a closed tab, a lost connection) stops by itself.
const defaultHoldLimit = 10 * time.Second

// thumbsPerClass is how many of a class's newest samples the page shows.
const thumbsPerClass = 4

// WithTeacher turns on the Teach panel and /api/teach/...: recording samples
// per class from the live frames (see TeachFrame), training, resetting and
// downloading the model.
func WithTeacher(t Teacher) Option {
	return func(s *Server) error {
		if t == nil {
			return errors.New("serve: WithTeacher(nil): pass a Teacher, or leave the option out to turn teaching off")
		}
		if len(t.Classes()) == 0 {
			return errors.New("serve: WithTeacher: the teacher has no classes: the model's labels name them")
		}
		s.teacher = t
		return nil
	}
}

// withHoldLimit sets the longest one press of a record button records
// (default 10 s).
func withHoldLimit(d time.Duration) Option {
	return func(s *Server) error {
		if d <= 0 {
			return fmt.Errorf("serve: hold limit %v must be positive (default %v)", d, defaultHoldLimit)
		}
		s.holdLimit = d
		return nil
	}
}

// teachState is the Teach panel's state: at most one hold and one
// training at a time, and the last of each.
type teachState struct {
	mu       sync.Mutex
	hold     *hold // the press in progress; nil when none
	lastHold *hold

	training    *TrainProgress // the running training's newest report; nil when none
	resetting   bool           // a Reset is swapping the shipped model back in
	closing     bool           // the server is shutting down: no new training
	trainStart  time.Time
	cancelTrain context.CancelFunc
	result      *TrainResult // the last successful training since start or Reset
	trainErr    string       // the last training's failure
}

// hold is one press of a class's record button.
type hold struct {
	class   string
	started time.Time
	until   time.Time
	frames  int
	stopped string // why it ended: "released", "limit", or the error
}

// TeachFrame offers the Teach panel one frame as captured (before the
// overlay is drawn) and the ROI the classifier used (zero: its default
// crop): while a record button is held, it becomes a sample of that class.
// Call it from one goroutine, once per frame; it returns at once when no
// button is held. frame is only read during the call.
func (s *Server) TeachFrame(frame gocv.Mat, roi image.Rectangle) {
	if s.teacher == nil {
		return
	}
	ts := &s.teach
	ts.mu.Lock()
	h := ts.hold
	if h == nil {
		ts.mu.Unlock()
		return
	}
	if !s.now().Before(h.until) {
		s.endHoldLocked("limit")
		ts.mu.Unlock()
		return
	}
	class := h.class
	ts.mu.Unlock()

	// Saving a sample encodes and writes a file: not under the lock, so
	// the page's requests are never held up by the disk.
	err := s.teacher.AddSample(class, frame, roi)

	ts.mu.Lock()
	defer ts.mu.Unlock()
	if err != nil {
		s.log.Warn("recording samples stopped", "class", class, "frames", h.frames, "err", err)
		if ts.hold == h {
			s.endHoldLocked("error: " + err.Error())
		} else {
			h.stopped = "error: " + err.Error()
		}
		return
	}
	h.frames++
}

// endHoldLocked ends the hold in progress for reason.
func (s *Server) endHoldLocked(reason string) {
	ts := &s.teach
	h := ts.hold
	if h == nil {
		return
	}
	if now := s.now(); now.Before(h.until) {
		h.until = now // ended early: until is when it ended
	}
	h.stopped = reason
	ts.lastHold, ts.hold = h, nil
	s.log.Info("samples recorded", "class", h.class, "frames", h.frames, "stopped", reason)
}

// teachJSON is the body of GET /api/teach: everything the Teach panel shows.
type teachJSON struct {
	Available  bool               `json:"available"`        // false: the server was started without --samples
	Reason     string             `json:"reason,omitempty"` // why teaching is off
	Classes    []teachClassJSON   `json:"classes"`
	Recording  *holdJSON          `json:"recording,omitempty"` // the press in progress
	LastHold   *holdJSON          `json:"last_hold,omitempty"` // the last finished press
	Training   *trainProgressJSON `json:"training,omitempty"`  // the running training
	Result     *trainResultJSON   `json:"result,omitempty"`    // the last successful training since start or reset
	Error      string             `json:"error,omitempty"`     // the last training's failure
	Model      string             `json:"model,omitempty"`     // the running model's file name
	Taught     bool               `json:"taught"`              // the running model is a taught one
	HoldLimitS float64            `json:"hold_limit_s"`        // the longest one press records
}

// teachClassJSON is one class of the Teach panel.
type teachClassJSON struct {
	Name    string `json:"name"`    // the model's label
	Display string `json:"display"` // as shown ("no hand" for "none")
	Count   int    `json:"count"`   // samples saved
	Thumbs  int    `json:"thumbs"`  // thumbnails at /api/teach/thumb?class=NAME&i=0..thumbs-1
}

// holdJSON is one press of a record button.
type holdJSON struct {
	Class    string  `json:"class"`
	Frames   int     `json:"frames"`            // samples saved by this press
	Seconds  float64 `json:"seconds"`           // how long it has run or ran
	Stopped  string  `json:"stopped,omitempty"` // "released", "limit" or "error: …"; empty while it runs
	LimitInS float64 `json:"limit_in_s,omitempty"`
}

// trainProgressJSON is a running training's newest report.
type trainProgressJSON struct {
	Stage    string  `json:"stage"`
	Done     int     `json:"done"`
	Total    int     `json:"total"`
	ElapsedS float64 `json:"elapsed_s"`
	ETAS     float64 `json:"eta_s"`
}

// trainResultJSON is a finished training's figures.
type trainResultJSON struct {
	Before  float64 `json:"before"` // accuracy on the held-out samples, 0..1, with the old model
	After   float64 `json:"after"`  // and with the new one
	HeldOut int     `json:"held_out"`
	Model   string  `json:"model"` // the new model's file name
	TookS   float64 `json:"took_s"`
}

// teachOff is the answer to every teach request without a Teacher.
const teachOff = "teaching is off: start the server with a samples folder (rpscam serve --samples DIR)"

func (s *Server) handleTeachStatus(w http.ResponseWriter, r *http.Request) {
	if s.teacher == nil {
		writeJSON(w, http.StatusOK, teachJSON{Reason: teachOff, Classes: []teachClassJSON{}})
		return
	}
	writeJSON(w, http.StatusOK, s.teachJSON())
}

func (s *Server) teachJSON() teachJSON {
	counts := s.teacher.Counts()
	out := teachJSON{Available: true, HoldLimitS: s.holdLimit.Seconds()}
	for _, c := range s.teacher.Classes() {
		out.Classes = append(out.Classes, teachClassJSON{Name: c, Display: infer.DisplayLabel(c), Count: counts[c], Thumbs: min(counts[c], thumbsPerClass)})
	}
	if p := s.teacher.ModelPath(); p != "" {
		out.Model = filepath.Base(p)
	}
	ts := &s.teach
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := s.now()
	if h := ts.hold; h != nil && !now.Before(h.until) {
		s.endHoldLocked("limit") // no frame came to end it
	}
	if h := ts.hold; h != nil {
		out.Recording = &holdJSON{Class: h.class, Frames: h.frames, Seconds: now.Sub(h.started).Seconds(), LimitInS: h.until.Sub(now).Seconds()}
	}
	if h := ts.lastHold; h != nil {
		out.LastHold = &holdJSON{Class: h.class, Frames: h.frames, Seconds: h.until.Sub(h.started).Seconds(), Stopped: h.stopped}
	}
	if p := ts.training; p != nil {
		out.Training = progressJSON(*p)
	}
	if res := ts.result; res != nil {
		out.Result = resultJSON(res)
		out.Taught = true
	}
	out.Error = ts.trainErr
	return out
}

func progressJSON(p TrainProgress) *trainProgressJSON {
	return &trainProgressJSON{Stage: p.Stage, Done: p.Done, Total: p.Total, ElapsedS: p.Elapsed.Seconds(), ETAS: p.ETA.Seconds()}
}

func resultJSON(r *TrainResult) *trainResultJSON {
	return &trainResultJSON{Before: r.Before, After: r.After, HeldOut: r.HeldOut, Model: filepath.Base(r.Model), TookS: r.Took.Seconds()}
}

// teachPOST checks what every teach POST needs: teaching on and a JSON body
// (which a cross-site form cannot send), decoded into v.
func (s *Server) teachPOST(w http.ResponseWriter, r *http.Request, v any) bool {
	if s.teacher == nil {
		writeJSONError(w, http.StatusNotImplemented, teachOff)
		return false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSONError(w, http.StatusUnsupportedMediaType, "send Content-Type: application/json with a JSON body (see the README's /api/teach section)")
		return false
	}
	if err := decodeJSON(w, r, v); err != nil {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("bad body (%v): see the README's /api/teach section", err))
		return false
	}
	return true
}

// handleTeachRecord starts or stops recording samples of a class:
// POST {"class":"paper","action":"start"|"stop"}. Stop answers 200 even when
// the press already ended (the hold limit may end it before the release).
func (s *Server) handleTeachRecord(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Class  string `json:"class"`
		Action string `json:"action"`
	}
	if !s.teachPOST(w, r, &req) {
		return
	}
	ts := &s.teach
	switch req.Action {
	case "start":
		if !slices.Contains(s.teacher.Classes(), req.Class) {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("unknown class %q: use one of %s", req.Class, strings.Join(s.teacher.Classes(), ", ")))
			return
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if h := ts.hold; h != nil && s.now().Before(h.until) {
			writeJSONError(w, http.StatusConflict, fmt.Sprintf("already recording %s: release its button (or send {\"action\":\"stop\"}) first", infer.DisplayLabel(h.class)))
			return
		}
		s.endHoldLocked("limit")
		now := s.now()
		ts.hold = &hold{class: req.Class, started: now, until: now.Add(s.holdLimit)}
		writeJSON(w, http.StatusOK, holdJSON{Class: req.Class, LimitInS: s.holdLimit.Seconds()})
	case "stop":
		ts.mu.Lock()
		now := s.now()
		if h := ts.hold; h != nil {
			if now.Before(h.until) {
				s.endHoldLocked("released")
			} else {
				s.endHoldLocked("limit")
			}
		}
		h := ts.lastHold
		ts.mu.Unlock()
		if h == nil {
			writeJSONError(w, http.StatusConflict, `not recording: send {"class":"…","action":"start"} first`)
			return
		}
		writeJSON(w, http.StatusOK, holdJSON{Class: h.class, Frames: h.frames, Seconds: h.until.Sub(h.started).Seconds(), Stopped: h.stopped})
	default:
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf(`unknown action %q: use "start" or "stop"`, req.Action))
	}
}

// handleTeachTrain trains on the saved samples and answers when the
// training is done (progress meanwhile on GET /api/teach): 200 with the
// figures, 409 while another training runs, 400 when a class lacks samples.
// The training goes on if the page that asked goes away; it is cancelled
// when the server shuts down.
func (s *Server) handleTeachTrain(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !s.teachPOST(w, r, &req) {
		return
	}
	ts := &s.teach
	ts.mu.Lock()
	if ts.training != nil {
		since := s.now().Sub(ts.trainStart).Round(time.Second)
		ts.mu.Unlock()
		writeJSONError(w, http.StatusConflict, fmt.Sprintf("a training is already running (started %v ago): wait for it to finish; its progress is on GET /api/teach", since))
		return
	}
	if ts.resetting {
		ts.mu.Unlock()
		writeJSONError(w, http.StatusConflict, "a reset is swapping the shipped model back in: train again in a moment")
		return
	}
	if ts.closing {
		ts.mu.Unlock()
		writeJSONError(w, http.StatusServiceUnavailable, "the server is shutting down: start it again to train")
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.training, ts.trainStart, ts.cancelTrain = &TrainProgress{Stage: "starting"}, s.now(), cancel
	ts.mu.Unlock()
	s.log.Info("training started")

	res, err := s.teacher.Train(ctx, func(p TrainProgress) {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if ts.training != nil {
			*ts.training = p
		}
	})
	cancel()

	ts.mu.Lock()
	ts.training, ts.cancelTrain = nil, nil
	if err == nil && res == nil {
		err = errors.New("the teacher returned no result")
	}
	if err == nil {
		ts.result, ts.trainErr = res, ""
	} else {
		ts.trainErr = err.Error()
	}
	ts.mu.Unlock()

	var few *TooFewSamplesError
	switch {
	case err == nil:
		s.log.Info("training done, taught model running", "model", res.Model, "before", res.Before, "after", res.After, "held_out", res.HeldOut, "took", res.Took)
		writeJSON(w, http.StatusOK, resultJSON(res))
	case errors.Is(err, ErrTrainBusy):
		writeJSONError(w, http.StatusConflict, err.Error()+": wait for it to finish")
	case errors.As(err, &few):
		writeJSONError(w, http.StatusBadRequest, few.Error())
	case errors.Is(err, context.Canceled):
		writeJSONError(w, http.StatusServiceUnavailable, "training cancelled: the server is shutting down; the model in use is unchanged")
	default:
		s.log.Warn("training failed", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "training failed, the model in use is unchanged: "+err.Error())
	}
}

// cancelTraining stops a running training at shutdown, and refuses any
// that a request still in flight would start.
func (s *Server) cancelTraining() {
	s.teach.mu.Lock()
	defer s.teach.mu.Unlock()
	s.teach.closing = true
	if s.teach.cancelTrain != nil {
		s.teach.cancelTrain()
	}
}

// handleTeachReset swaps the shipped model back in: POST {}.
func (s *Server) handleTeachReset(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !s.teachPOST(w, r, &req) {
		return
	}
	ts := &s.teach
	ts.mu.Lock()
	if ts.training != nil || ts.resetting {
		ts.mu.Unlock()
		writeJSONError(w, http.StatusConflict, "a training or reset is running: wait for it to finish, then reset")
		return
	}
	// Not under the lock: loading the shipped model takes a moment, and
	// TeachFrame, on the pipeline's goroutine, takes the lock every frame.
	ts.resetting = true
	ts.mu.Unlock()
	err := s.teacher.Reset()
	ts.mu.Lock()
	ts.resetting = false
	if err == nil {
		ts.result, ts.trainErr = nil, ""
	}
	ts.mu.Unlock()
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "reset failed, the model in use is unchanged: "+err.Error())
		return
	}
	s.log.Info("model reset to the shipped one", "model", s.teacher.ModelPath())
	writeJSON(w, http.StatusOK, map[string]any{"taught": false, "model": filepath.Base(s.teacher.ModelPath())})
}

// handleTeachModel downloads the model running now.
func (s *Server) handleTeachModel(w http.ResponseWriter, r *http.Request) {
	if s.teacher == nil {
		writeJSONError(w, http.StatusNotImplemented, teachOff)
		return
	}
	path := s.teacher.ModelPath()
	name := filepath.Base(path)
	s.teach.mu.Lock()
	if s.teach.result != nil {
		name = "rpscam-taught-" + s.now().Format("20060102-150405") + ".onnx"
	}
	s.teach.mu.Unlock()
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Content-Type", "application/octet-stream")
	serveFile(w, r, path, "model")
}

// handleTeachThumb serves one of a class's newest samples:
// ?class=NAME&i=0 is the newest. The class must be one of the teacher's and
// the file is the teacher's: nothing in the request becomes a path.
func (s *Server) handleTeachThumb(w http.ResponseWriter, r *http.Request) {
	if s.teacher == nil {
		writeJSONError(w, http.StatusNotImplemented, teachOff)
		return
	}
	q := r.URL.Query()
	classes := s.teacher.Classes()
	i := slices.Index(classes, q.Get("class"))
	if i < 0 {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("unknown class %q: use one of %s", q.Get("class"), strings.Join(classes, ", ")))
		return
	}
	class := classes[i]
	n, err := strconv.Atoi(q.Get("i"))
	if err != nil || n < 0 || n >= thumbsPerClass {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("thumbnail index %q: use i=0..%d (0 is the newest sample)", q.Get("i"), thumbsPerClass-1))
		return
	}
	paths, err := s.teacher.Recent(class, thumbsPerClass)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "listing samples: "+err.Error())
		return
	}
	if n >= len(paths) {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("class %s has %d samples: no thumbnail %d", infer.DisplayLabel(class), len(paths), n))
		return
	}
	switch strings.ToLower(filepath.Ext(paths[n])) {
	case ".jpg", ".jpeg":
		w.Header().Set("Content-Type", "image/jpeg")
	case ".png":
		w.Header().Set("Content-Type", "image/png")
	default:
		writeJSONError(w, http.StatusNotFound, "sample "+filepath.Base(paths[n])+" is not a JPEG or PNG")
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	serveFile(w, r, paths[n], "sample")
}

// serveFile sends the regular file at path (what names it in errors).
func serveFile(w http.ResponseWriter, r *http.Request, path, what string) {
	f, err := os.Open(path)
	if err != nil {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("%s %s: %v", what, filepath.Base(path), err))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("%s %s is not a regular file", what, filepath.Base(path)))
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.Copy(w, f)
}

// decodeJSON decodes a small JSON body into v; an empty body is {}.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(v)
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
