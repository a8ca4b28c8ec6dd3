package capture_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
)

func TestFileReadsEveryFrameInOrder(t *testing.T) {
	const n = 30
	path := writeClip(t, t.TempDir(), "clip.avi", "MJPG", n, 320, 240)
	src, err := capture.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer src.Close()

	info := src.Info()
	if info.Kind != capture.File || info.Live || info.Width != 320 || info.Height != 240 || info.FrameCount != n || info.FPS != 30 {
		t.Errorf("Info = %+v, want file 320x240, 30 fps, %d frames, not live", info, n)
	}
	if info.Codec != "MJPG" {
		t.Errorf("Info.Codec = %q, want MJPG", info.Codec)
	}
	js, _ := json.Marshal(info)
	if !strings.Contains(string(js), `"kind":"file"`) || !strings.Contains(string(js), `"frame_count":30`) {
		t.Errorf("Info JSON %s lacks kind/frame_count", js)
	}

	seqs, pixels, err := readAll(t, src, 0)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("end of file: err = %v, want io.EOF", err)
	}
	if len(seqs) != n {
		t.Fatalf("read %d frames, want %d", len(seqs), n)
	}
	for i := range seqs {
		if seqs[i] != uint64(i) {
			t.Errorf("frame %d has Seq %d", i, seqs[i])
		}
		if want := frameColour(i); !near(pixels[i], want, colourTolerance) {
			t.Errorf("frame %d centre pixel %v, want %v ±%d (frames out of order or corrupted)", i, pixels[i], want, colourTolerance)
		}
	}
	// The end stays the end.
	if _, _, err := src.Read(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("Read after EOF: %v, want io.EOF", err)
	}
	if st := src.Stats(); st.Read != n || st.Dropped != 0 {
		t.Errorf("Stats = %+v, want Read %d, Dropped 0", st, n)
	}
}

func TestFileMP4H264(t *testing.T) {
	path := writeClip(t, t.TempDir(), "clip.mp4", "avc1", 12, 320, 240)
	src, err := capture.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer src.Close()
	seqs, pixels, err := readAll(t, src, 0)
	if !errors.Is(err, io.EOF) || len(seqs) != 12 {
		t.Fatalf("read %d frames ending with %v, want 12 then io.EOF", len(seqs), err)
	}
	// H.264 is lossier than MJPG on flat colours, but neighbours stay apart.
	for i, p := range pixels {
		if !near(p, frameColour(i), 6) {
			t.Errorf("frame %d centre pixel %v, want %v ±6", i, p, frameColour(i))
		}
	}
}

func TestReleaseAndCloseAreSafe(t *testing.T) {
	path := writeClip(t, t.TempDir(), "clip.avi", "MJPG", 3, 64, 48)
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, release, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
	release() // twice is harmless
	f, release2, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// A frame held across Close is still valid until released.
	if f.Mat.Cols() != 64 {
		t.Errorf("held frame has %d columns after Close, want 64", f.Mat.Cols())
	}
	release2()
	if _, _, err := src.Read(context.Background()); !errors.Is(err, capture.ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
}

func TestReadHonoursCancelledContext(t *testing.T) {
	path := writeClip(t, t.TempDir(), "clip.avi", "MJPG", 3, 64, 48)
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := src.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with cancelled ctx: %v, want context.Canceled", err)
	}
	// Cancellation is not the end: the frame is still there.
	f, release, err := src.Read(context.Background())
	if err != nil || f.Seq != 0 {
		t.Fatalf("Read after cancelled Read: seq %d, %v; want frame 0", f.Seq, err)
	}
	release()
}

func TestRealtimeFileDropsForSlowReader(t *testing.T) {
	const n = 30
	path := writeClip(t, t.TempDir(), "clip.avi", "MJPG", n, 160, 120)
	src, err := capture.Open(path, capture.WithRealtime(true))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer src.Close()
	if !src.Info().Live {
		t.Errorf("realtime file Info.Live = false")
	}
	// At 30 fps a frame lasts 33 ms; a reader taking 100 ms must miss some.
	seqs, pixels, err := readAll(t, src, 100*time.Millisecond)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("end: %v, want io.EOF", err)
	}
	st := src.Stats()
	if st.Dropped == 0 {
		t.Errorf("slow reader of a realtime file saw no drops (read %d)", st.Read)
	}
	if st.Read+st.Dropped != n {
		t.Errorf("Read %d + Dropped %d != %d frames in the file", st.Read, st.Dropped, n)
	}
	if g := seqGaps(seqs); g != st.Dropped {
		t.Errorf("Seq gaps add to %d, Dropped says %d (seqs %v)", g, st.Dropped, seqs)
	}
	if last := seqs[len(seqs)-1]; last != n-1 {
		t.Errorf("last frame read has Seq %d, want %d: the newest frame must survive to the end", last, n-1)
	}
	for i, s := range seqs {
		if !near(pixels[i], frameColour(int(s)), colourTolerance) {
			t.Errorf("frame Seq %d has colour %v, want %v: Seq does not match content", s, pixels[i], frameColour(int(s)))
		}
	}
}

// testPipeline is a finite GStreamer source that produces frames as fast as
// they are taken.
const testPipeline = "videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240 ! videoconvert ! appsink"

func TestGStreamerLiveSlowReaderSeesDrops(t *testing.T) {
	src, err := capture.Open(testPipeline)
	if err != nil {
		if errors.Is(err, capture.ErrSourceUnavailable) {
			t.Skipf("OpenCV here has no working GStreamer backend: %v", err)
		}
		t.Fatalf("Open: %v", err)
	}
	defer src.Close()
	info := src.Info()
	if info.Kind != capture.GStreamer || !info.Live || info.Width != 320 || info.Height != 240 {
		t.Errorf("Info = %+v, want live gstreamer 320x240", info)
	}
	// appsink syncs to the clock, so videotestsrc runs at its default 30
	// fps; a reader taking 100 ms per frame must miss some.
	seqs, _, err := readAll(t, src, 100*time.Millisecond)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("end of a num-buffers pipeline: %v, want io.EOF", err)
	}
	st := src.Stats()
	if len(seqs) == 0 || st.Read != uint64(len(seqs)) {
		t.Fatalf("read %d frames, Stats.Read %d", len(seqs), st.Read)
	}
	if st.Dropped == 0 {
		t.Errorf("slow reader saw no drops (read %d of 30)", st.Read)
	}
	if g := seqGaps(seqs); g != st.Dropped {
		t.Errorf("Seq gaps add to %d, Dropped says %d (seqs %v)", g, st.Dropped, seqs)
	}
	if st.Read+st.Dropped != 30 {
		t.Errorf("Read %d + Dropped %d != 30 buffers", st.Read, st.Dropped)
	}
}

func TestGStreamerPipelineThatFails(t *testing.T) {
	_, err := capture.Open("filesrc location=/nonexistent ! decodebin ! videoconvert ! appsink")
	if !errors.Is(err, capture.ErrSourceUnavailable) {
		t.Fatalf("Open of a failing pipeline: %v, want ErrSourceUnavailable", err)
	}
	var oe *capture.OpenError
	if !errors.As(err, &oe) || !strings.Contains(oe.Hint, "gst-launch-1.0 filesrc location=/nonexistent ! decodebin ! videoconvert ! fakesink") {
		t.Errorf("error %v: want an *OpenError whose hint gives the gst-launch-1.0 command", err)
	}
}

func TestCorruptVideoFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.avi")
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i*7 + i/13)
	}
	if err := os.WriteFile(garbage, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mp4")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{garbage, empty} {
		_, err := capture.Open(p)
		var oe *capture.OpenError
		if !errors.As(err, &oe) || !errors.Is(err, capture.ErrSourceUnavailable) {
			t.Errorf("Open(%s): %v, want *OpenError wrapping ErrSourceUnavailable", filepath.Base(p), err)
			continue
		}
		if oe.Spec != p || oe.Hint == "" || !strings.Contains(err.Error(), p) {
			t.Errorf("Open(%s): error %q should name the file and carry a hint", filepath.Base(p), err)
		}
	}

	// A real clip cut in half: either refused at Open or read to a clean EOF.
	full := writeClip(t, dir, "full.avi", "MJPG", 30, 320, 240)
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{len(data) / 2, 200} {
		half := filepath.Join(dir, "cut.avi")
		if err := os.WriteFile(half, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := capture.Open(half)
		if err != nil {
			if !errors.Is(err, capture.ErrSourceUnavailable) {
				t.Errorf("cut at %d bytes: Open: %v, want ErrSourceUnavailable", cut, err)
			}
			t.Logf("cut at %d bytes: refused at Open: %v", cut, err)
			continue
		}
		seqs, _, err := readAll(t, src, 0)
		src.Close()
		t.Logf("cut at %d bytes: read %d frames, then %v", cut, len(seqs), err)
		if !errors.Is(err, io.EOF) {
			t.Errorf("cut at %d bytes: ended with %v, want io.EOF", cut, err)
		}
		if len(seqs) == 0 || len(seqs) >= 30 {
			t.Errorf("cut at %d bytes: read %d frames, want some but fewer than 30", cut, len(seqs))
		}
	}
}

func TestCameraUnavailable(t *testing.T) {
	const idx = "87"
	if _, err := os.Stat("/dev/video" + idx); err == nil {
		t.Skip("/dev/video87 exists on this machine")
	}
	for _, spec := range []string{idx, "/dev/video" + idx} {
		_, err := capture.Open(spec, capture.WithSize(640, 480), capture.WithMJPG(true))
		var oe *capture.OpenError
		if !errors.As(err, &oe) || !errors.Is(err, capture.ErrSourceUnavailable) {
			t.Fatalf("Open(%s): %v, want *OpenError wrapping ErrSourceUnavailable", spec, err)
		}
		if !strings.Contains(oe.Reason, "/dev/video87 does not exist") {
			t.Errorf("Open(%s) reason %q should say the device node is missing", spec, oe.Reason)
		}
		for _, want := range []string{"ls /dev/video*", "another index", "video"} {
			if !strings.Contains(oe.Hint, want) {
				t.Errorf("Open(%s) hint %q lacks %q", spec, oe.Hint, want)
			}
		}
	}
}

func TestOptionValidation(t *testing.T) {
	for name, opt := range map[string]capture.Option{
		"size":  capture.WithSize(0, 480),
		"fps":   capture.WithFPS(-1),
		"stall": capture.WithStallTimeout(-time.Second),
	} {
		if _, err := capture.Open(testPipeline, opt); err == nil || errors.Is(err, capture.ErrSourceUnavailable) {
			t.Errorf("%s: Open with an invalid option: %v, want an option error", name, err)
		}
	}
}

func TestLatestOnlyFalseQueuesFrames(t *testing.T) {
	src, err := capture.Open(testPipeline, capture.WithLatestOnly(false))
	if err != nil {
		if errors.Is(err, capture.ErrSourceUnavailable) {
			t.Skipf("no GStreamer backend: %v", err)
		}
		t.Fatal(err)
	}
	defer src.Close()
	// 30 buffers fit the 32-frame queue: a slow reader still gets them all.
	seqs, _, err := readAll(t, src, 5*time.Millisecond)
	if !errors.Is(err, io.EOF) || len(seqs) != 30 || seqGaps(seqs) != 0 || src.Stats().Dropped != 0 {
		t.Errorf("queued live read: %d frames, gaps %d, dropped %d, end %v; want all 30, none dropped, io.EOF",
			len(seqs), seqGaps(seqs), src.Stats().Dropped, err)
	}
}

func BenchmarkFileRead640x480(b *testing.B) {
	const n = 60
	path := writeClip(b, b.TempDir(), "bench.avi", "MJPG", n, 640, 480)
	ctx := context.Background()
	b.ReportAllocs() // Go allocations only; Mats are pooled
	b.ResetTimer()
	frames := 0
	for frames < b.N {
		src, err := capture.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		for frames < b.N {
			_, release, err := src.Read(ctx)
			if err != nil {
				break
			}
			release()
			frames++
		}
		src.Close()
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
}

// OpenCV hands 4:2:0 GStreamer frames over raw, as one tall grey plane;
// capture must turn them into BGR of the right size and colour.
func TestGStreamerPixelFormats(t *testing.T) {
	const solidRed = "videotestsrc num-buffers=2 pattern=solid-color foreground-color=0xffff0000"
	for _, tt := range []struct {
		format string
		want   [3]uint8
		tol    int
	}{
		{"BGR", [3]uint8{0, 0, 255}, 0},
		{"I420", [3]uint8{0, 0, 255}, 6},
		{"NV12", [3]uint8{0, 0, 255}, 6},
		{"YV12", [3]uint8{0, 0, 255}, 6},
		{"GRAY8", [3]uint8{63, 63, 63}, 20}, // luma of pure red, expanded to three channels
	} {
		src, err := capture.Open(solidRed + " ! video/x-raw,format=" + tt.format + ",width=64,height=48 ! appsink")
		if err != nil {
			if errors.Is(err, capture.ErrSourceUnavailable) && tt.format == "BGR" {
				t.Skipf("no GStreamer backend: %v", err)
			}
			t.Errorf("%s: %v", tt.format, err)
			continue
		}
		f, release, err := src.Read(context.Background())
		if err != nil {
			t.Errorf("%s: %v", tt.format, err)
		} else {
			if f.Mat.Cols() != 64 || f.Mat.Rows() != 48 || f.Mat.Type() != gocv.MatTypeCV8UC3 {
				t.Errorf("%s: frame %dx%d %v, want 64x48 8UC3", tt.format, f.Mat.Cols(), f.Mat.Rows(), f.Mat.Type())
			} else if got := centrePixel(f.Mat); !near(got, tt.want, tt.tol) {
				t.Errorf("%s: centre pixel %v, want %v ±%d", tt.format, got, tt.want, tt.tol)
			}
			release()
		}
		src.Close()
	}
}
