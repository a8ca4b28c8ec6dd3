package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// fakeTeacher keeps samples as JPEG files of the ROI in class folders and
// "trains" in steps that a test can hold at a gate; swap is told each model
// it would put into the pipeline.
type fakeTeacher struct {
	dir     string
	classes []string
	need    int
	swap    func(path string) error
	steps   int           // progress reports per training
	delay   time.Duration // between progress reports
	gate    chan struct{} // when set, training waits for it before finishing

	mu       sync.Mutex
	files    map[string][]string // per class, oldest first
	rois     []image.Rectangle
	trains   int
	model    string
	shipped  string
	addErr   error
	training bool
}

func newFakeTeacher(t *testing.T, need int, swap func(string) error) *fakeTeacher {
	t.Helper()
	dir := t.TempDir()
	shipped := filepath.Join(dir, "shipped.onnx")
	if err := os.WriteFile(shipped, []byte("shipped model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if swap == nil {
		swap = func(string) error { return nil }
	}
	return &fakeTeacher{dir: dir, classes: []string{"rock", "paper", "scissors", "none"}, need: need, swap: swap, steps: 4,
		files: map[string][]string{}, model: shipped, shipped: shipped}
}

func (f *fakeTeacher) Classes() []string { return f.classes }

func (f *fakeTeacher) Counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := map[string]int{}
	for k, v := range f.files {
		c[k] = len(v)
	}
	return c
}

func (f *fakeTeacher) AddSample(class string, frame gocv.Mat, roi image.Rectangle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addErr != nil {
		return f.addErr
	}
	if roi.Empty() {
		roi = image.Rect(0, 0, frame.Cols(), frame.Rows())
	}
	crop := frame.Region(roi)
	defer crop.Close()
	if err := os.MkdirAll(filepath.Join(f.dir, class), 0o755); err != nil {
		return err
	}
	p := filepath.Join(f.dir, class, fmt.Sprintf("%04d.jpg", len(f.files[class])))
	if !gocv.IMWrite(p, crop) {
		return fmt.Errorf("writing %s failed", p)
	}
	f.files[class] = append(f.files[class], p)
	f.rois = append(f.rois, roi)
	return nil
}

func (f *fakeTeacher) Recent(class string, n int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := slices.Clone(f.files[class])
	slices.Reverse(all)
	return all[:min(n, len(all))], nil
}

func (f *fakeTeacher) Train(ctx context.Context, progress func(TrainProgress)) (*TrainResult, error) {
	f.mu.Lock()
	if f.training {
		f.mu.Unlock()
		return nil, fmt.Errorf("teach: %w", ErrTrainBusy)
	}
	for _, c := range f.classes {
		if n := len(f.files[c]); n < f.need {
			f.mu.Unlock()
			return nil, &TooFewSamplesError{Class: c, Have: n, Need: f.need}
		}
	}
	f.training = true
	f.trains++
	n := f.trains
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.training = false
		f.mu.Unlock()
	}()
	start := time.Now()
	for i := 1; i <= f.steps; i++ {
		progress(TrainProgress{Stage: "training", Done: i, Total: f.steps, Elapsed: time.Duration(i) * time.Second, ETA: time.Duration(f.steps-i) * time.Second})
		time.Sleep(f.delay)
		if f.gate != nil && i == 1 {
			select {
			case <-f.gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	model := filepath.Join(f.dir, fmt.Sprintf("taught-%d.onnx", n))
	if err := os.WriteFile(model, []byte(fmt.Sprintf("taught model %d", n)), 0o644); err != nil {
		return nil, err
	}
	if err := f.swap(model); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.model = model
	f.mu.Unlock()
	return &TrainResult{Before: 0.5, After: 1, HeldOut: 8, Model: model, Took: time.Since(start)}, nil
}

func (f *fakeTeacher) Reset() error {
	if err := f.swap(f.shipped); err != nil {
		return err
	}
	f.mu.Lock()
	f.model = f.shipped
	f.mu.Unlock()
	return nil
}

func (f *fakeTeacher) ModelPath() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.model
}

// teachPost posts body as JSON to base+path.
func teachPost(t *testing.T, base, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("POST %s: %d, body %q is not JSON", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

func teachStatus(t *testing.T, base string) teachJSON {
	t.Helper()
	resp, body := get(t, base+"/api/teach")
	wantStatus(t, resp, body, 200, "application/json")
	var st teachJSON
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func classCount(st teachJSON, class string) int {
	for _, c := range st.Classes {
		if c.Name == class {
			return c.Count
		}
	}
	return -1
}

// teachFrames offers n frames of label to the Teach panel.
func teachFrames(t *testing.T, s *Server, label string, n int, roi image.Rectangle) {
	t.Helper()
	for i := range n {
		m := drawFrame(label, uint64(i), 320, 240)
		s.TeachFrame(m, roi)
		m.Close()
	}
}

func TestTeachOffWithoutSamples(t *testing.T) {
	_, _, ts := newTestServer(t)
	st := teachStatus(t, ts.URL)
	if st.Available || !strings.Contains(st.Reason, "--samples DIR") || st.Classes == nil {
		t.Fatalf("GET /api/teach without a teacher: %+v", st)
	}
	for _, p := range []string{"/api/teach/record", "/api/teach/train", "/api/teach/reset"} {
		if code, m := teachPost(t, ts.URL, p, `{"class":"rock","action":"start"}`); code != 501 || !strings.Contains(m["error"].(string), "--samples DIR") {
			t.Errorf("POST %s without a teacher: %d %v, want 501 naming --samples", p, code, m)
		}
	}
	for _, p := range []string{"/api/teach/model", "/api/teach/thumb?class=rock&i=0"} {
		if resp, body := get(t, ts.URL+p); resp.StatusCode != 501 {
			t.Errorf("GET %s without a teacher: %d %s", p, resp.StatusCode, body)
		}
	}
	resp, body := get(t, ts.URL+"/")
	wantStatus(t, resp, body, 200, "text/html")
	for _, want := range []string{`id="teach"`, `id="train"`, `id="reset"`, `href="/api/teach/model"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestTeachRecordFeedsAddSample(t *testing.T) {
	ft := newFakeTeacher(t, 3, nil)
	clock := newFakeClock()
	hub := newTestHub(t)
	s, err := NewServer(hub, WithTeacher(ft), withHoldLimit(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s.now = clock.now
	ts := newHTTPTest(t, hub, s)
	roi := image.Rect(40, 20, 200, 180)

	teachFrames(t, s, "rock", 3, roi) // no button held: nothing saved
	if n := classCount(teachStatus(t, ts.URL), "rock"); n != 0 {
		t.Fatalf("%d samples saved with no button held", n)
	}
	if code, m := teachPost(t, ts.URL, "/api/teach/record", `{"class":"rock","action":"start"}`); code != 200 || m["class"] != "rock" || m["limit_in_s"] != 10.0 {
		t.Fatalf("start rock: %d %v", code, m)
	}
	if code, m := teachPost(t, ts.URL, "/api/teach/record", `{"class":"paper","action":"start"}`); code != 409 || !strings.Contains(m["error"].(string), "already recording rock") {
		t.Fatalf("second start while rock is held: %d %v, want 409", code, m)
	}
	teachFrames(t, s, "rock", 5, roi)
	clock.advance(2 * time.Second)
	st := teachStatus(t, ts.URL)
	if st.Recording == nil || st.Recording.Class != "rock" || st.Recording.Frames != 5 || st.Recording.Seconds != 2 || classCount(st, "rock") != 5 {
		t.Fatalf("while holding rock: %+v %+v", st.Recording, st.Classes)
	}
	code, m := teachPost(t, ts.URL, "/api/teach/record", `{"class":"rock","action":"stop"}`)
	if code != 200 || m["frames"] != 5.0 || m["stopped"] != "released" || m["seconds"] != 2.0 {
		t.Fatalf("stop rock: %d %v, want 5 frames released after 2 s", code, m)
	}
	teachFrames(t, s, "rock", 4, roi) // released: nothing more saved
	st = teachStatus(t, ts.URL)
	if classCount(st, "rock") != 5 || st.Recording != nil || st.LastHold == nil || st.LastHold.Frames != 5 {
		t.Fatalf("after release: %+v last %+v", st.Classes, st.LastHold)
	}
	for _, r := range ft.rois {
		if r != roi {
			t.Fatalf("AddSample got ROI %v, want the pipeline's %v", r, roi)
		}
	}
	if c, _ := teachPost(t, ts.URL, "/api/teach/record", `{"class":"rock","action":"stop"}`); c != 200 {
		t.Fatalf("a second stop (the release after the limit): %d, want 200", c)
	}

	// A button whose release never comes stops at the hold limit.
	if code, m := teachPost(t, ts.URL, "/api/teach/record", `{"class":"paper","action":"start"}`); code != 200 {
		t.Fatalf("start paper: %d %v", code, m)
	}
	teachFrames(t, s, "paper", 2, image.Rectangle{})
	clock.advance(10 * time.Second)
	teachFrames(t, s, "paper", 3, image.Rectangle{})
	st = teachStatus(t, ts.URL)
	if classCount(st, "paper") != 2 || st.Recording != nil || st.LastHold == nil || st.LastHold.Stopped != "limit" || st.LastHold.Seconds != 10 {
		t.Fatalf("after the hold limit: %+v last %+v", st.Classes, st.LastHold)
	}

	// A failing disk ends the press with the error, once.
	ft.mu.Lock()
	ft.addErr = fmt.Errorf("disk full: free some space")
	ft.mu.Unlock()
	teachPost(t, ts.URL, "/api/teach/record", `{"class":"scissors","action":"start"}`)
	teachFrames(t, s, "scissors", 3, image.Rectangle{})
	st = teachStatus(t, ts.URL)
	if st.Recording != nil || st.LastHold == nil || st.LastHold.Stopped != "error: disk full: free some space" {
		t.Fatalf("after AddSample failed: rec %+v last %+v", st.Recording, st.LastHold)
	}

	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{"class":"lizard","action":"start"}`, 400, "unknown class \"lizard\": use one of rock, paper, scissors, none"},
		{`{"class":"../../etc","action":"start"}`, 400, "unknown class"},
		{`{"class":"rock","action":"jump"}`, 400, "unknown action"},
		{`{"class":`, 400, "bad body"},
	} {
		if code, m := teachPost(t, ts.URL, "/api/teach/record", c.body); code != c.code || !strings.Contains(fmt.Sprint(m["error"]), c.want) {
			t.Errorf("%s: %d %v, want %d %q", c.body, code, m, c.code, c.want)
		}
	}
	resp, err := http.Post(ts.URL+"/api/teach/record", "text/plain", strings.NewReader(`{"class":"rock","action":"start"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Fatalf("a text/plain post (what a cross-site form can send): %d, want 415", resp.StatusCode)
	}
}

// newHTTPTest serves s with httptest, closing hub first at the end.
func newHTTPTest(t *testing.T, hub *Hub, s *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hub.Close()
		ts.Close()
	})
	return ts
}

func TestTeachTrainProgressBusyAndTooFew(t *testing.T) {
	var mu sync.Mutex
	var swapped []string
	ft := newFakeTeacher(t, 3, func(p string) error {
		mu.Lock()
		defer mu.Unlock()
		swapped = append(swapped, filepath.Base(p))
		return nil
	})
	_, s, ts := newTestServer(t, WithTeacher(ft))

	// Too few samples: 400 naming the class and how many more.
	for _, c := range []string{"rock", "paper", "scissors"} {
		teachPost(t, ts.URL, "/api/teach/record", `{"class":"`+c+`","action":"start"}`)
		teachFrames(t, s, c, 3, image.Rectangle{})
		teachPost(t, ts.URL, "/api/teach/record", `{"class":"`+c+`","action":"stop"}`)
	}
	teachPost(t, ts.URL, "/api/teach/record", `{"class":"none","action":"start"}`)
	teachFrames(t, s, "none", 1, image.Rectangle{})
	teachPost(t, ts.URL, "/api/teach/record", `{"class":"none","action":"stop"}`)
	code, m := teachPost(t, ts.URL, "/api/teach/train", `{}`)
	if want := "class no hand has 1 samples and needs at least 3: record 2 more"; code != 400 || !strings.HasPrefix(fmt.Sprint(m["error"]), want) {
		t.Fatalf("train with 1 no-hand sample: %d %v, want 400 %q", code, m, want)
	}
	if st := teachStatus(t, ts.URL); st.Taught || st.Training != nil || !strings.Contains(st.Error, "record 2 more") {
		t.Fatalf("after a refused training: %+v", st)
	}
	teachPost(t, ts.URL, "/api/teach/record", `{"class":"none","action":"start"}`)
	teachFrames(t, s, "none", 2, image.Rectangle{})
	teachPost(t, ts.URL, "/api/teach/record", `{"class":"none","action":"stop"}`)

	// A training held at its first step: progress shows, a second click is 409.
	ft.gate = make(chan struct{})
	first := make(chan map[string]any, 1)
	go func() {
		c, m := teachPost(t, ts.URL, "/api/teach/train", `{}`)
		m["code"] = float64(c)
		first <- m
	}()
	var st teachJSON
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st = teachStatus(t, ts.URL); st.Training != nil && st.Training.Done == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress while training: %+v", st)
		}
	}
	if p := st.Training; p.Stage != "training" || p.Total != 4 || p.ElapsedS != 1 || p.ETAS != 3 {
		t.Fatalf("progress %+v, want training 1/4, 1 s elapsed, 3 s left", p)
	}
	code, m = teachPost(t, ts.URL, "/api/teach/train", `{}`)
	if code != 409 || !strings.Contains(fmt.Sprint(m["error"]), "a training is already running") {
		t.Fatalf("second Train click: %d %v, want 409", code, m)
	}
	if code, m := teachPost(t, ts.URL, "/api/teach/reset", `{}`); code != 409 {
		t.Fatalf("reset while training: %d %v, want 409", code, m)
	}
	close(ft.gate)
	m = <-first
	if m["code"] != 200.0 || m["before"] != 0.5 || m["after"] != 1.0 || m["held_out"] != 8.0 || m["model"] != "taught-1.onnx" {
		t.Fatalf("training result: %v", m)
	}
	st = teachStatus(t, ts.URL)
	if !st.Taught || st.Training != nil || st.Result == nil || st.Result.After != 1 || st.Model != "taught-1.onnx" || st.Error != "" {
		t.Fatalf("after training: %+v", st)
	}
	mu.Lock()
	if !slices.Equal(swapped, []string{"taught-1.onnx"}) {
		t.Fatalf("swapped %v, want the taught model once", swapped)
	}
	mu.Unlock()

	// Download gives the running model's bytes.
	resp, body := get(t, ts.URL+"/api/teach/model")
	wantStatus(t, resp, body, 200, "application/octet-stream")
	if string(body) != "taught model 1" || !strings.Contains(resp.Header.Get("Content-Disposition"), `attachment; filename="rpscam-taught-`) {
		t.Fatalf("download: %q, %s", body, resp.Header.Get("Content-Disposition"))
	}

	// Reset swaps the shipped model back.
	if code, m := teachPost(t, ts.URL, "/api/teach/reset", `{}`); code != 200 || m["taught"] != false || m["model"] != "shipped.onnx" {
		t.Fatalf("reset: %d %v", code, m)
	}
	mu.Lock()
	if !slices.Equal(swapped, []string{"taught-1.onnx", "shipped.onnx"}) {
		t.Fatalf("swapped %v after reset", swapped)
	}
	mu.Unlock()
	if st := teachStatus(t, ts.URL); st.Taught || st.Result != nil || st.Model != "shipped.onnx" {
		t.Fatalf("after reset: %+v", st)
	}
	resp, body = get(t, ts.URL+"/api/teach/model")
	if string(body) != "shipped model" || resp.Header.Get("Content-Disposition") != `attachment; filename="shipped.onnx"` {
		t.Fatalf("download after reset: %q %s", body, resp.Header.Get("Content-Disposition"))
	}
}

// TestTeachTrainRefusedWhileShuttingDown: once shutdown has cancelled the
// training, a Train request still in flight starts none (nothing would
// wait for it to finish).
func TestTeachTrainRefusedWhileShuttingDown(t *testing.T) {
	trained := false
	ft := newFakeTeacher(t, 3, func(string) error { trained = true; return nil })
	_, s, ts := newTestServer(t, WithTeacher(ft))
	s.cancelTraining() // what Serve does first when it shuts down
	code, m := teachPost(t, ts.URL, "/api/teach/train", `{}`)
	if code != 503 || !strings.Contains(fmt.Sprint(m["error"]), "shutting down") || trained {
		t.Fatalf("train during shutdown: %d %v (swapped %v), want 503", code, m, trained)
	}
}

func TestTeachThumbnails(t *testing.T) {
	ft := newFakeTeacher(t, 3, nil)
	_, s, ts := newTestServer(t, WithTeacher(ft))
	teachPost(t, ts.URL, "/api/teach/record", `{"class":"paper","action":"start"}`)
	teachFrames(t, s, "paper", 1, image.Rect(0, 0, 64, 48))
	teachFrames(t, s, "paper", 1, image.Rect(0, 0, 32, 24)) // the newest
	teachPost(t, ts.URL, "/api/teach/record", `{"class":"paper","action":"stop"}`)
	st := teachStatus(t, ts.URL)
	for _, c := range st.Classes {
		if want := map[string]int{"paper": 2}[c.Name]; c.Thumbs != want || c.Count != want {
			t.Errorf("class %s: %d samples, %d thumbs, want %d", c.Name, c.Count, c.Thumbs, want)
		}
	}
	for i, size := range [][2]int{{32, 24}, {64, 48}} {
		resp, body := get(t, ts.URL+fmt.Sprintf("/api/teach/thumb?class=paper&i=%d", i))
		wantStatus(t, resp, body, 200, "image/jpeg")
		if b := decodeJPEG(t, body).Bounds(); b.Dx() != size[0] || b.Dy() != size[1] {
			t.Errorf("thumb %d is %v, want %dx%d (newest first)", i, b, size[0], size[1])
		}
	}
	for _, q := range []string{"class=paper&i=2", "class=paper&i=3", "class=paper&i=4", "class=paper&i=-1", "class=paper&i=x", "class=paper",
		"class=rock&i=0", "class=lizard&i=0", "class=..%2F..%2Fetc&i=0", "class=&i=0", "i=0"} {
		resp, body := get(t, ts.URL+"/api/teach/thumb?"+q)
		wantStatus(t, resp, body, 404, "application/json")
	}
}

// TestTeachEndpointsRefuseForeignHostsAndOrigins: the teach endpoints sit
// behind the same Host and Origin checks as the rest.
func TestTeachEndpointsRefuseForeignHostsAndOrigins(t *testing.T) {
	ft := newFakeTeacher(t, 0, nil)
	_, s, ts := newTestServer(t, WithTeacher(ft))
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/teach", ""},
		{"GET", "/api/teach/thumb?class=rock&i=0", ""},
		{"GET", "/api/teach/model", ""},
		{"POST", "/api/teach/record", `{"class":"rock","action":"start"}`},
		{"POST", "/api/teach/train", `{}`},
		{"POST", "/api/teach/reset", `{}`},
	} {
		if code, msg := send(t, c.method, ts.URL, c.path, "evil.example", "", c.body); code != 403 || !strings.Contains(msg, "--allowed-host") {
			t.Errorf("%s %s with Host evil.example: %d %q, want 403", c.method, c.path, code, msg)
		}
		if c.method == "POST" {
			if code, msg := send(t, c.method, ts.URL, c.path, "", "http://evil.example", c.body); code != 403 || !strings.Contains(msg, "cross-origin") {
				t.Errorf("%s %s from Origin evil.example: %d %q, want 403", c.method, c.path, code, msg)
			}
		}
	}
	teachFrames(t, s, "rock", 2, image.Rectangle{})
	if ft.trains != 0 || len(ft.rois) != 0 {
		t.Fatalf("refused requests trained %d times and saved %d samples", ft.trains, len(ft.rois))
	}
	if code, msg := send(t, "POST", ts.URL, "/api/teach/train", "", ts.URL, `{}`); code != 200 {
		t.Fatalf("same-origin train: %d %q", code, msg)
	}
}
