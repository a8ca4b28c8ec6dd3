package serve

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// countVideoFrames reads a video file back and counts its decodable frames.
func countVideoFrames(t *testing.T, path string) (frames, width, height int) {
	t.Helper()
	vc, err := gocv.VideoCaptureFile(path)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	for vc.Read(&m) && !m.Empty() {
		frames++
		width, height = m.Cols(), m.Rows()
	}
	return frames, width, height
}

func TestVideoRecorderWritesPlayableFiles(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []RecorderOption
		ext  string
	}{
		{"mp4", nil, ".mp4"},
		{"avi", []RecorderOption{withContainer(".avi", "MJPG")}, ".avi"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "recordings") // created by NewVideoRecorder
			rec, err := NewVideoRecorder(dir, 15, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			rec.now = func() time.Time { return time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC) }
			frame := drawFrame("paper", 1, 320, 240)
			defer frame.Close()
			big := drawFrame("rock", 1, 640, 480)
			defer big.Close()

			// Frames before Start are not recorded.
			if err := rec.WriteFrame(frame); err != nil {
				t.Fatal(err)
			}
			path, err := rec.Start()
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, "rpscam-20240501-123000"+c.ext); path != want {
				t.Fatalf("path %s, want %s", path, want)
			}
			if _, err := rec.Start(); !errors.Is(err, ErrRecordingActive) {
				t.Fatalf("second Start = %v, want ErrRecordingActive", err)
			}
			for i := 0; i < 12; i++ {
				f := frame
				if i == 5 {
					f = big // a resolution change mid-recording is scaled, not dropped
				}
				if err := rec.WriteFrame(f); err != nil {
					t.Fatal(err)
				}
			}
			gotPath, n, err := rec.Stop()
			if err != nil || gotPath != path || n != 12 || rec.Active() {
				t.Fatalf("Stop = %s, %d, %v (active %v); want %s, 12, nil", gotPath, n, err, rec.Active(), path)
			}
			if frames, w, h := countVideoFrames(t, path); frames != 12 || w != 320 || h != 240 {
				t.Fatalf("%s holds %d frames of %dx%d, want 12 of 320x240", path, frames, w, h)
			}
			if _, _, err := rec.Stop(); !errors.Is(err, ErrRecordingInactive) {
				t.Fatalf("second Stop = %v, want ErrRecordingInactive", err)
			}
			// The same second again gets a fresh name, never overwriting.
			path2, err := rec.Start()
			if err != nil || path2 != filepath.Join(dir, "rpscam-20240501-123000-2"+c.ext) {
				t.Fatalf("second recording path %s, %v", path2, err)
			}
			_, n, err = rec.Stop()
			if err == nil || n != 0 || !strings.Contains(err.Error(), "no frame arrived") {
				t.Fatalf("Stop without frames = %d, %v", n, err)
			}
			if _, err := os.Stat(path2); !os.IsNotExist(err) {
				t.Fatalf("empty recording left a file: %v", err)
			}
		})
	}
}

func TestVideoRecorderRejectsBadInput(t *testing.T) {
	if _, err := NewVideoRecorder("", 30); err == nil {
		t.Error("empty directory accepted")
	}
	if _, err := NewVideoRecorder(t.TempDir(), 0); err == nil {
		t.Error("0 fps accepted")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewVideoRecorder(file, 30); err == nil {
		t.Error("a file as the directory accepted")
	}
	for _, o := range []RecorderOption{withContainer("mp4", "avc1"), withContainer(".mp4"), withContainer(".mp4", "h264x")} {
		if _, err := NewVideoRecorder(t.TempDir(), 30, o); err == nil {
			t.Error("bad container option accepted")
		}
	}
	rec, err := NewVideoRecorder(t.TempDir(), 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	gray := gocv.NewMatWithSize(10, 10, gocv.MatTypeCV8UC1)
	defer gray.Close()
	if err := rec.WriteFrame(gray); err == nil || !strings.Contains(err.Error(), "CV_8UC3") {
		t.Fatalf("grey frame: %v", err)
	}
	// The failed recording is what StopFailed stops; one started after it
	// (a user's stop and start in between) is left running.
	if _, _, err, stopped := rec.StopFailed(); !stopped || err == nil || !strings.Contains(err.Error(), "CV_8UC3") {
		t.Fatalf("StopFailed after the failed write: stopped %v, %v", stopped, err)
	}
	if _, err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, stopped := rec.StopFailed(); stopped || !rec.Active() {
		t.Fatalf("StopFailed stopped a recording that had not failed (stopped %v, active %v)", stopped, rec.Active())
	}

	// A folder that went away since the server started: Start says so
	// (the API answers the error) instead of a recording that never writes.
	dir := t.TempDir()
	gone, err := NewVideoRecorder(dir, 30)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if path, err := gone.Start(); err == nil || !strings.Contains(err.Error(), "does not exist") || gone.Active() {
		t.Fatalf("Start into a removed folder: %q, %v (active %v), want the reason", path, err, gone.Active())
	}
}

// The recorder behind the HTTP API: start and stop through /api/record while
// frames are fed, then read the file back.
func TestRecordAPIWithVideoRecorder(t *testing.T) {
	rec, err := NewVideoRecorder(t.TempDir(), 30, withContainer(".avi", "MJPG"))
	if err != nil {
		t.Fatal(err)
	}
	hub, _, ts := newTestServer(t, WithRecording(rec))
	frame := drawFrame("scissors", 1, 160, 120)
	defer frame.Close()
	feed := func(n int) {
		for i := 0; i < n; i++ {
			if err := rec.WriteFrame(frame); err != nil {
				t.Fatal(err)
			}
			if err := hub.Publish(frame, testPrediction("scissors", uint64(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	feed(3)
	code, r, msg := postRecord(t, ts.URL, "application/json", `{"action":"start"}`)
	if code != 200 {
		t.Fatalf("start: %d %s", code, msg)
	}
	feed(7)
	code, stopped, msg := postRecord(t, ts.URL, "application/json", `{"action":"stop"}`)
	if code != 200 || stopped.Path != r.Path || stopped.Frames == nil || *stopped.Frames != 7 {
		t.Fatalf("stop: %d %+v %s", code, stopped, msg)
	}
	feed(2)
	if n, _, _ := countVideoFrames(t, r.Path); n != 7 {
		t.Fatalf("%s holds %d frames, want 7", r.Path, n)
	}
}

// With WithRealTime a recording follows the capture clock: 10 frames
// captured over 1 s of a 15 fps recording, with a 400 ms gap in the middle,
// play for 1 s (15 frames: the gap filled by repeating the frame before it).
func TestVideoRecorderRealTime(t *testing.T) {
	rec, err := NewVideoRecorder(t.TempDir(), 15, withContainer(".avi", "MJPG"), WithRealTime())
	if err != nil {
		t.Fatal(err)
	}
	frame := drawFrame("paper", 1, 160, 120)
	defer frame.Close()
	if _, err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	step := time.Second / 15
	var at []time.Duration
	for i := 0; i < 15; i++ {
		if i >= 5 && i < 11 { // 6 frames (400 ms) never captured
			continue
		}
		at = append(at, time.Duration(i)*step)
	}
	for _, d := range at {
		if err := rec.WriteFrameAt(frame, t0.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	path, n, err := rec.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if frames, _, _ := countVideoFrames(t, path); frames != 15 || n != 15 {
		t.Errorf("%d frames captured over 1 s: file holds %d (recorder says %d), want 15", len(at), frames, n)
	}
}
