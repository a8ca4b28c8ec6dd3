package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// newTestServer serves a fresh hub with httptest.
func newTestServer(t *testing.T, opts ...Option) (*Hub, *Server, *httptest.Server) {
	t.Helper()
	hub := newTestHub(t)
	s, err := NewServer(hub, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hub.Close() // ends streams so Close does not wait for them
		ts.Close()
	})
	return hub, s, ts
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func wantStatus(t *testing.T, resp *http.Response, body []byte, code int, contentType string) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("%s %s: status %d, want %d; body %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, code, body)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != contentType {
		t.Fatalf("%s: Content-Type %q, want %s", resp.Request.URL.Path, resp.Header.Get("Content-Type"), contentType)
	}
}

func TestNewServerRejectsBadOptions(t *testing.T) {
	hub := newTestHub(t)
	if _, err := NewServer(nil); err == nil {
		t.Error("NewServer(nil) accepted")
	}
	for name, o := range map[string]Option{
		"stall":     WithStallTimeout(0),
		"write":     withWriteTimeout(-time.Second),
		"clients":   WithMaxClients(0),
		"recording": WithRecording(nil),
		"logger":    WithLogger(nil),
	} {
		if _, err := NewServer(hub, o); err == nil {
			t.Errorf("%s: bad option accepted", name)
		}
	}
}

func TestPageAndAssetsAreEmbedded(t *testing.T) {
	_, _, ts := newTestServer(t)
	resp, body := get(t, ts.URL+"/")
	wantStatus(t, resp, body, 200, "text/html")
	for _, want := range []string{`id="stream"`, `src="/stream.mjpg"`, `id="label"`, `/static/app.js`, `id="record"`, `href="/snapshot.jpg?download"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page lacks %s", want)
		}
	}
	resp, body = get(t, ts.URL+"/static/app.js")
	wantStatus(t, resp, body, 200, "text/javascript")
	if !strings.Contains(string(body), `new EventSource("/api/events`) {
		t.Error("app.js does not subscribe to /api/events")
	}
	resp, body = get(t, ts.URL+"/static/style.css")
	wantStatus(t, resp, body, 200, "text/css")
	resp, body = get(t, ts.URL+"/nope")
	if resp.StatusCode != 404 {
		t.Fatalf("/nope: status %d, want 404", resp.StatusCode)
	}
}

func TestSnapshotAndPrediction(t *testing.T) {
	hub, _, ts := newTestServer(t)
	resp, body := get(t, ts.URL+"/snapshot.jpg")
	wantStatus(t, resp, body, 503, "text/plain")
	resp, body = get(t, ts.URL+"/api/prediction")
	wantStatus(t, resp, body, 503, "application/json")

	publish(t, hub, "rock", 41)
	publish(t, hub, "paper", 42)
	resp, body = get(t, ts.URL+"/snapshot.jpg")
	wantStatus(t, resp, body, 200, "image/jpeg")
	if resp.Header.Get("X-Frame-Seq") != "2" {
		t.Errorf("X-Frame-Seq = %q, want 2", resp.Header.Get("X-Frame-Seq"))
	}
	img := decodeJPEG(t, body)
	if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 240 {
		t.Fatalf("snapshot size %v, want 320x240", b)
	}
	// The paper frame's banner is bluish (BGR 200,150,60).
	r, g, b, _ := img.At(5, 3).RGBA()
	if !(b>>8 > 170 && r>>8 < 100) {
		t.Errorf("snapshot banner RGB = %d,%d,%d, want the paper frame's blue", r>>8, g>>8, b>>8)
	}
	resp, _ = get(t, ts.URL+"/snapshot.jpg?download")
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "-2.jpg") {
		t.Errorf("download Content-Disposition = %q", cd)
	}

	resp, body = get(t, ts.URL+"/api/prediction")
	wantStatus(t, resp, body, 200, "application/json")
	var p predictionJSON
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Seq != 2 || p.SourceSeq != 42 || p.Label != "paper" || p.Confidence != 0.9 || p.Uncertain ||
		p.LatencyMs != 25 || p.InferMs != 7.5 || p.FPS != 30 || p.Width != 320 || p.Height != 240 {
		t.Errorf("prediction = %+v", p)
	}
	if strings.Join(p.Classes, ",") != "rock,paper,scissors" ||
		p.Probabilities["paper"] != 0.9 || p.Probabilities["rock"] != 0.05 || len(p.Probabilities) != 3 {
		t.Errorf("classes %v, probabilities %v", p.Classes, p.Probabilities)
	}
	if !p.CaptureTime.Equal(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)) || p.PublishTime.IsZero() {
		t.Errorf("capture_time %v, publish_time %v", p.CaptureTime, p.PublishTime)
	}
	// Field names are the public API.
	var raw map[string]any
	_ = json.Unmarshal(body, &raw)
	for _, k := range []string{"seq", "label", "confidence", "probabilities", "capture_time", "latency_ms", "infer_ms", "fps"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, body)
		}
	}
}

// openStream starts reading /stream.mjpg and returns a reader of its parts.
func openStream(t *testing.T, url string) (*multipart.Reader, func()) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] == "" {
		resp.Body.Close()
		t.Fatalf("stream Content-Type %q (%v), want multipart/x-mixed-replace with a boundary", resp.Header.Get("Content-Type"), err)
	}
	return multipart.NewReader(resp.Body, params["boundary"]), func() { resp.Body.Close() }
}

// readPart reads the next MJPEG part, checks its headers against its JPEG and
// returns the frame sequence number and the bytes.
func readPart(t *testing.T, mr *multipart.Reader) (uint64, []byte) {
	t.Helper()
	part, err := mr.NextPart()
	if err != nil {
		t.Fatalf("next part: %v", err)
	}
	data, err := io.ReadAll(part)
	if err != nil {
		t.Fatalf("reading part: %v", err)
	}
	if ct := part.Header.Get("Content-Type"); ct != "image/jpeg" {
		t.Fatalf("part Content-Type %q", ct)
	}
	if n, _ := strconv.Atoi(part.Header.Get("Content-Length")); n != len(data) {
		t.Fatalf("part Content-Length %s, read %d bytes", part.Header.Get("Content-Length"), len(data))
	}
	seq, err := strconv.ParseUint(part.Header.Get("X-Frame-Seq"), 10, 64)
	if err != nil {
		t.Fatalf("part X-Frame-Seq %q", part.Header.Get("X-Frame-Seq"))
	}
	return seq, data
}

func TestMJPEGStreamPartsAreJPEGs(t *testing.T) {
	hub, _, ts := newTestServer(t)
	publish(t, hub, "rock", 1)
	mr, closeStream := openStream(t, ts.URL+"/stream.mjpg")
	defer closeStream()

	// The newest frame comes at once, then each new one as it is published;
	// the reader acknowledges each before the next is published, so none is skipped.
	labels := []string{"rock", "paper", "scissors", "rock"}
	for i, label := range labels {
		if i > 0 {
			publish(t, hub, label, uint64(i+1))
		}
		seq, data := readPart(t, mr)
		if seq != uint64(i+1) {
			t.Fatalf("part %d has seq %d", i, seq)
		}
		if string(data) != string(hub.Latest().JPEG) {
			t.Fatalf("part %d differs from the hub's shared JPEG", i)
		}
		decodeJPEG(t, data)
	}
}

func TestStreamRejectsBadRateAndTooManyViewers(t *testing.T) {
	hub, _, ts := newTestServer(t, WithMaxClients(1))
	resp, body := get(t, ts.URL+"/stream.mjpg?max_fps=fast")
	if resp.StatusCode != 400 || !strings.Contains(string(body), "max_fps") {
		t.Fatalf("bad max_fps: %d %q", resp.StatusCode, body)
	}
	publish(t, hub, "rock", 1)
	mr, closeStream := openStream(t, ts.URL+"/stream.mjpg")
	defer closeStream()
	readPart(t, mr) // the first viewer is in
	resp, body = get(t, ts.URL+"/api/events")
	if resp.StatusCode != 503 || !strings.Contains(string(body), "limit 1") {
		t.Fatalf("second viewer: %d %q, want 503 naming the limit", resp.StatusCode, body)
	}
}

// sseReader reads server-sent events.
type sseReader struct {
	t  *testing.T
	br *bufio.Reader
}

type sseEventRead struct{ event, id, data string }

func (r *sseReader) next() sseEventRead {
	r.t.Helper()
	var ev sseEventRead
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("reading events: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry: "):
		case strings.HasPrefix(line, "event: "):
			ev.event = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			ev.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			if ev.data != "" {
				r.t.Fatalf("event with two data lines: %q", line)
			}
			ev.data = line[len("data: "):]
		default:
			r.t.Fatalf("unexpected SSE line %q", line)
		}
	}
}

// nextPrediction skips status events.
func (r *sseReader) nextPrediction() (string, predictionJSON) {
	r.t.Helper()
	for {
		ev := r.next()
		if ev.event != "prediction" {
			continue
		}
		var p predictionJSON
		if err := json.Unmarshal([]byte(ev.data), &p); err != nil {
			r.t.Fatalf("prediction data %q: %v", ev.data, err)
		}
		return ev.id, p
	}
}

func openEvents(t *testing.T, url string) (*sseReader, func()) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		resp.Body.Close()
		t.Fatalf("events: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Cache-Control") == "" {
		t.Error("events response may be cached")
	}
	return &sseReader{t: t, br: bufio.NewReader(resp.Body)}, func() { resp.Body.Close() }
}

func TestEventsStreamPredictionsAndStatus(t *testing.T) {
	hub, _, ts := newTestServer(t)
	events, closeEvents := openEvents(t, ts.URL+"/api/events")
	defer closeEvents()

	// Before any frame: a status event saying so.
	ev := events.next()
	if ev.event != "status" || ev.data != `{"ok":false,"status":"waiting for the first frame"}` {
		t.Fatalf("first event = %+v", ev)
	}
	publish(t, hub, "scissors", 10)
	ev = events.next()
	if ev.event != "status" || ev.data != `{"ok":true,"status":"ok"}` {
		t.Fatalf("event after the first frame = %+v, want status ok", ev)
	}
	id, p := events.nextPrediction()
	if id != "1" || p.Seq != 1 || p.Label != "scissors" || p.SourceSeq != 10 {
		t.Fatalf("prediction id %s = %+v", id, p)
	}
	publish(t, hub, "rock", 11)
	if id, p = events.nextPrediction(); id != "2" || p.Label != "rock" {
		t.Fatalf("prediction id %s = %+v", id, p)
	}
	hub.SetStatus("reconnecting")
	if ev = events.next(); ev.event != "status" || ev.data != `{"ok":false,"status":"reconnecting"}` {
		t.Fatalf("after SetStatus: %+v", ev)
	}
	hub.Close()
	if ev = events.next(); ev.event != "end" {
		t.Fatalf("after Close: %+v, want an end event", ev)
	}
}

func TestEventsMaxRateSendsTheNewestPrediction(t *testing.T) {
	hub, _, ts := newTestServer(t)
	resp, body := get(t, ts.URL+"/api/events?max_rate=-1")
	if resp.StatusCode != 400 || !strings.Contains(string(body), "max_rate") {
		t.Fatalf("bad max_rate: %d %q", resp.StatusCode, body)
	}
	publish(t, hub, "rock", 1)
	// One event per 2 s: the nine frames published right after the first
	// event must collapse into one event carrying the newest.
	events, closeEvents := openEvents(t, ts.URL+"/api/events?max_rate=0.5")
	defer closeEvents()
	if _, p := events.nextPrediction(); p.Seq != 1 {
		t.Fatalf("first prediction seq %d, want 1", p.Seq)
	}
	for i := 2; i <= 10; i++ {
		publish(t, hub, testLabels[i%3], uint64(i))
	}
	if _, p := events.nextPrediction(); p.Seq != 10 || p.Label != testLabels[10%3] {
		t.Fatalf("second prediction seq %d %s, want the newest, 10 %s", p.Seq, p.Label, testLabels[10%3])
	}
}

// TestEventsWithATinyStallTimeout: the events stream polls health at half
// the stall timeout; a timeout of a nanosecond must not make that a zero
// interval (a panic in the handler).
func TestEventsWithATinyStallTimeout(t *testing.T) {
	hub, _, ts := newTestServer(t, WithStallTimeout(time.Nanosecond))
	publish(t, hub, "rock", 1)
	events, closeEvents := openEvents(t, ts.URL+"/api/events")
	defer closeEvents()
	if _, p := events.nextPrediction(); p.Label != "rock" {
		t.Fatalf("first event %+v, want the rock frame", p)
	}
}

func TestHealthz(t *testing.T) {
	clock := newFakeClock()
	hub, s, ts := newTestServer(t, WithStallTimeout(3*time.Second))
	hub.now, s.now = clock.now, clock.now

	check := func(code int, want string) {
		t.Helper()
		resp, body := get(t, ts.URL+"/healthz")
		if resp.StatusCode != code || strings.TrimSpace(string(body)) != want {
			t.Fatalf("healthz = %d %q, want %d %q", resp.StatusCode, body, code, want)
		}
	}
	check(503, "waiting for the first frame")
	publish(t, hub, "rock", 1)
	check(200, "ok")
	clock.advance(2900 * time.Millisecond)
	check(200, "ok")
	clock.advance(200 * time.Millisecond)
	check(503, "stalled: no frame for 3.1s (limit 3s)")
	hub.SetStatus("reconnecting")
	check(503, "reconnecting")
	publish(t, hub, "paper", 2)
	check(200, "ok")
	hub.Close()
	check(503, "source ended")
}

// fakeRecording counts calls and fails on request.
type fakeRecording struct {
	mu       sync.Mutex
	active   bool
	starts   int
	stops    int
	startErr error
}

func (f *fakeRecording) Start() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return "", f.startErr
	}
	f.active = true
	f.starts++
	return "/rec/rpscam-" + strconv.Itoa(f.starts) + ".mp4", nil
}

func (f *fakeRecording) Stop() (string, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active = false
	f.stops++
	return "/rec/rpscam-" + strconv.Itoa(f.starts) + ".mp4", 42, nil
}

func (f *fakeRecording) Active() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active
}

func postRecord(t *testing.T, url, contentType, body string) (int, recordJSON, string) {
	t.Helper()
	resp, err := http.Post(url+"/api/record", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r recordJSON
	_ = json.Unmarshal(raw, &r)
	var e struct{ Error string }
	_ = json.Unmarshal(raw, &e)
	return resp.StatusCode, r, e.Error
}

func TestRecordAPI(t *testing.T) {
	_, _, off := newTestServer(t)
	resp, body := get(t, off.URL+"/api/record")
	wantStatus(t, resp, body, 200, "application/json")
	if strings.TrimSpace(string(body)) != `{"available":false,"active":false}` {
		t.Fatalf("GET /api/record without recording = %s", body)
	}
	if code, _, msg := postRecord(t, off.URL, "application/json", `{"action":"start"}`); code != 501 || !strings.Contains(msg, "--record-dir") {
		t.Fatalf("start without recording: %d %q", code, msg)
	}

	rec := &fakeRecording{}
	_, _, ts := newTestServer(t, WithRecording(rec))
	if code, _, msg := postRecord(t, ts.URL, "application/x-www-form-urlencoded", `action=start`); code != 415 || rec.starts != 0 {
		t.Fatalf("form post: %d %q, starts %d; want 415 and no recording", code, msg, rec.starts)
	}
	if code, _, _ := postRecord(t, ts.URL, "application/json", `{"action":"pause"}`); code != 400 {
		t.Fatalf("unknown action: %d", code)
	}
	if code, _, _ := postRecord(t, ts.URL, "application/json", `{"action":`); code != 400 {
		t.Fatalf("truncated body: %d", code)
	}
	if code, _, _ := postRecord(t, ts.URL, "application/json", `{"action":"stop"}`); code != 409 {
		t.Fatalf("stop while idle: %d, want 409", code)
	}
	code, r, _ := postRecord(t, ts.URL, "application/json; charset=utf-8", `{"action":"start"}`)
	if code != 200 || !r.Available || !r.Active || r.Path != "/rec/rpscam-1.mp4" {
		t.Fatalf("start: %d %+v", code, r)
	}
	if code, _, _ := postRecord(t, ts.URL, "application/json", `{"action":"start"}`); code != 409 || rec.starts != 1 {
		t.Fatalf("second start: %d, starts %d; want 409, 1", code, rec.starts)
	}
	resp, body = get(t, ts.URL+"/api/record")
	if strings.TrimSpace(string(body)) != `{"available":true,"active":true,"path":"/rec/rpscam-1.mp4"}` {
		t.Fatalf("GET while recording = %s", body)
	}
	code, r, _ = postRecord(t, ts.URL, "application/json", `{"action":"stop"}`)
	if code != 200 || r.Active || r.Frames == nil || *r.Frames != 42 || r.Path != "/rec/rpscam-1.mp4" {
		t.Fatalf("stop: %d %+v", code, r)
	}
	rec.startErr = errors.New("disk full")
	if code, _, msg := postRecord(t, ts.URL, "application/json", `{"action":"start"}`); code != 500 || msg != "disk full" {
		t.Fatalf("failing start: %d %q", code, msg)
	}
}

func parseMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := get(t, url+"/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// metricValue returns the value of the family's sample whose labels include want.
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s missing", name)
	}
next:
	for _, m := range fam.GetMetric() {
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	t.Fatalf("metric %s has no sample with labels %v", name, want)
	return nil
}

func TestMetrics(t *testing.T) {
	hub, s, ts := newTestServer(t)
	fams := parseMetrics(t, ts.URL)
	if v := metricValue(t, fams, "rpscam_source_up", nil).GetGauge().GetValue(); v != 0 {
		t.Fatalf("source_up before frames = %v", v)
	}
	labels := []string{"rock", "rock", "paper", "scissors", "rock"}
	for i, l := range labels {
		s.ObserveFrame(FrameStats{
			Stages:     map[string]time.Duration{"capture": time.Millisecond, "infer": 8 * time.Millisecond},
			Dropped:    uint64(i % 2), // 0,1,0,1,0
			InferError: i == 3,
		})
		publish(t, hub, l, uint64(i))
	}
	mr, closeStream := openStream(t, ts.URL+"/stream.mjpg")
	defer closeStream()
	readPart(t, mr)

	fams = parseMetrics(t, ts.URL)
	counter := func(name string, lbl map[string]string) float64 {
		return metricValue(t, fams, name, lbl).GetCounter().GetValue()
	}
	if v := counter("rpscam_frames_processed_total", nil); v != 5 {
		t.Errorf("frames processed = %v, want 5", v)
	}
	if v := counter("rpscam_frames_dropped_total", nil); v != 2 {
		t.Errorf("frames dropped = %v, want 2", v)
	}
	if v := counter("rpscam_inference_errors_total", nil); v != 1 {
		t.Errorf("inference errors = %v, want 1", v)
	}
	for l, want := range map[string]float64{"rock": 3, "paper": 1, "scissors": 1} {
		if v := counter("rpscam_predictions_total", map[string]string{"label": l}); v != want {
			t.Errorf("predictions{label=%s} = %v, want %v", l, v, want)
		}
	}
	for stage, want := range map[string]uint64{"capture": 5, "infer": 5, stageEncode: 5, stageEndToEnd: 5} {
		h := metricValue(t, fams, "rpscam_stage_latency_seconds", map[string]string{"stage": stage}).GetHistogram()
		if h.GetSampleCount() != want {
			t.Errorf("stage %s: %d samples, want %d", stage, h.GetSampleCount(), want)
		}
	}
	infer := metricValue(t, fams, "rpscam_stage_latency_seconds", map[string]string{"stage": "infer"}).GetHistogram()
	if sum := infer.GetSampleSum(); sum < 0.0399 || sum > 0.0401 {
		t.Errorf("infer latency sum = %v, want 0.04", sum)
	}
	if v := metricValue(t, fams, "rpscam_clients_connected", map[string]string{"endpoint": "stream"}).GetGauge().GetValue(); v != 1 {
		t.Errorf("stream clients = %v, want 1", v)
	}
	if v := metricValue(t, fams, "rpscam_fps", nil).GetGauge().GetValue(); v != 30 {
		t.Errorf("fps = %v, want 30", v)
	}
	if v := metricValue(t, fams, "rpscam_source_up", nil).GetGauge().GetValue(); v != 1 {
		t.Errorf("source_up = %v, want 1", v)
	}
	// The handler counts a frame as sent after its write returns, which may
	// be just after the client has read it: wait for the count (never past 1).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		v := metricValue(t, parseMetrics(t, ts.URL), "rpscam_client_frames_sent_total", map[string]string{"endpoint": "stream"}).GetCounter().GetValue()
		if v == 1 {
			break
		}
		if v > 1 || time.Now().After(deadline) {
			t.Fatalf("stream frames sent = %v, want 1", v)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("Go runtime metrics missing")
	}
}

func TestTwoServersHaveSeparateMetrics(t *testing.T) {
	hubA, _, tsA := newTestServer(t)
	_, _, tsB := newTestServer(t)
	publish(t, hubA, "rock", 1)
	a := metricValue(t, parseMetrics(t, tsA.URL), "rpscam_frames_processed_total", nil).GetCounter().GetValue()
	b := metricValue(t, parseMetrics(t, tsB.URL), "rpscam_frames_processed_total", nil).GetCounter().GetValue()
	if a != 1 || b != 0 {
		t.Fatalf("frames processed: server A %v, server B %v; want 1, 0", a, b)
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	hub := newTestHub(t)
	rec := &fakeRecording{}
	s, err := NewServer(hub, WithRecording(rec))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	publish(t, hub, "rock", 1)
	mr, closeStream := openStream(t, url+"/stream.mjpg")
	defer closeStream()
	readPart(t, mr)
	events, closeEvents := openEvents(t, url+"/api/events")
	defer closeEvents()
	events.nextPrediction()
	if code, _, _ := postRecord(t, url, "application/json", `{"action":"start"}`); code != 200 {
		t.Fatalf("start recording: %d", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	if rec.stops != 1 || rec.Active() {
		t.Fatalf("recording stops %d, active %v: shutdown must finalize it", rec.stops, rec.Active())
	}
	// Both streams have ended: reading runs out instead of blocking.
	if _, err := mr.NextPart(); err == nil {
		t.Fatal("stream still delivers parts after shutdown")
	}
	if _, err := io.ReadAll(events.br); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("events ended with %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("server still accepts requests after shutdown")
	}
}

func TestListenAndServeReportsABusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := NewServer(newTestHub(t))
	if err != nil {
		t.Fatal(err)
	}
	err = s.ListenAndServe(context.Background(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "--addr") {
		t.Fatalf("ListenAndServe on a busy address = %v", err)
	}
}
