package sink

import (
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// orange is the distinctive colour frames are filled with; lossy codecs
// must bring it back within a few levels.
var orange = color.RGBA{R: 240, G: 130, B: 30, A: 255}

func solid(w, h int, c color.RGBA) gocv.Mat {
	return gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0), h, w, gocv.MatTypeCV8UC3)
}

// video is what reading a file back found.
type video struct {
	frames int
	size   image.Point
	fps    float64
	centre color.RGBA // of the middle frame
}

func readBack(t *testing.T, path string) video {
	t.Helper()
	capture, err := gocv.VideoCaptureFile(path)
	if err != nil {
		t.Fatalf("open %s for reading: %v", path, err)
	}
	defer capture.Close()
	if !capture.IsOpened() {
		t.Fatalf("%s does not open as a video", path)
	}
	v := video{fps: capture.Get(gocv.VideoCaptureFPS)}
	img := gocv.NewMat()
	defer img.Close()
	var centres []color.RGBA
	for capture.Read(&img) {
		if img.Empty() {
			break
		}
		v.frames++
		v.size = image.Pt(img.Cols(), img.Rows())
		px := img.GetVecbAt(img.Rows()/2, img.Cols()/2)
		centres = append(centres, color.RGBA{B: px[0], G: px[1], R: px[2], A: 255})
	}
	if len(centres) > 0 {
		v.centre = centres[len(centres)/2]
	}
	return v
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) int { return int(math.Abs(float64(int(x) - int(y)))) }
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol
}

func record(t *testing.T, path string, n int, opts ...RecorderOption) *Recorder {
	t.Helper()
	r, err := NewRecorder(path, 30, 320, 240, opts...)
	if err != nil {
		t.Fatalf("NewRecorder(%s): %v", path, err)
	}
	img := solid(320, 240, orange)
	defer img.Close()
	for i := 0; i < n; i++ {
		if err := r.Write(img); err != nil {
			t.Fatalf("Write frame %d: %v", i, err)
		}
	}
	return r
}

func TestRecorderWritesPlayableFiles(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, codec string
	}{
		{"out.mp4", "avc1"},
		{"out.avi", "MJPG"},
		{"out.mkv", "avc1"},
		{"out.MOV", "avc1"},
	} {
		path := filepath.Join(dir, c.name)
		r := record(t, path, 45)
		if r.Codec() != c.codec {
			t.Errorf("%s: codec %s, want %s", c.name, r.Codec(), c.codec)
		}
		if r.Frames() != 45 || r.Path() != path {
			t.Errorf("%s: Frames()=%d Path()=%q, want 45 and %q", c.name, r.Frames(), r.Path(), path)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("%s: Close: %v", c.name, err)
		}
		v := readBack(t, path)
		if v.frames != 45 {
			t.Errorf("%s: read back %d frames, want 45", c.name, v.frames)
		}
		if v.size != image.Pt(320, 240) {
			t.Errorf("%s: frame size %v, want 320x240", c.name, v.size)
		}
		if !near(v.centre, orange, 8) {
			t.Errorf("%s: frame colour %v, want about %v", c.name, v.centre, orange)
		}
		if math.Abs(v.fps-30) > 0.01 {
			t.Errorf("%s: %.2f FPS in the file, want 30", c.name, v.fps)
		}
	}
}

func TestRecorderForcedFourCC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.mp4")
	r := record(t, path, 12, WithFourCC("mp4v"))
	if r.Codec() != "mp4v" {
		t.Errorf("codec %s, want the forced mp4v", r.Codec())
	}
	r.Close()
	if v := readBack(t, path); v.frames != 12 || !near(v.centre, orange, 8) {
		t.Errorf("read back %d frames of colour %v, want 12 of about %v", v.frames, v.centre, orange)
	}
}

func TestRecorderConvertsFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.avi")
	r, err := NewRecorder(path, 0, 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	if r.FPS() != 30 {
		t.Errorf("FPS() = %v for fps 0, want the default 30", r.FPS())
	}
	big := solid(640, 480, orange)
	defer big.Close()
	grey := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(200, 0, 0, 0), 240, 320, gocv.MatTypeCV8UC1)
	defer grey.Close()
	bgra := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(orange.B), float64(orange.G), float64(orange.R), 255), 100, 100, gocv.MatTypeCV8UC4)
	defer bgra.Close()
	for _, img := range []gocv.Mat{big, big, grey, bgra, bgra} {
		if err := r.Write(img); err != nil {
			t.Fatalf("Write %dx%d type %v: %v", img.Cols(), img.Rows(), img.Type(), err)
		}
	}
	float := gocv.NewMatWithSize(240, 320, gocv.MatTypeCV32FC3)
	defer float.Close()
	if err := r.Write(float); err == nil || !strings.Contains(err.Error(), "8-bit") {
		t.Errorf("Write of a float frame: %v, want an error naming the 8-bit formats", err)
	}
	empty := gocv.NewMat()
	defer empty.Close()
	if err := r.Write(empty); err == nil || !strings.Contains(err.Error(), "empty frame") {
		t.Errorf("Write of an empty frame: %v, want an empty frame error", err)
	}
	// A bad frame is the caller's mistake, not a broken output: the
	// recording goes on.
	if err := r.Write(big); err != nil {
		t.Errorf("Write after a rejected frame: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	v := readBack(t, path)
	if v.frames != 6 || v.size != image.Pt(320, 240) {
		t.Errorf("read back %d frames of %v, want 6 of 320x240", v.frames, v.size)
	}
}

func TestRecorderRejectsBadSettings(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		path string
		w, h int
		opts []RecorderOption
		want string
	}{
		{"parent is a file", filepath.Join(notDir, "out.mp4"), 320, 240, nil, "is not a directory"},
		{"parent under /proc", "/proc/rpscam-no-such-dir/out.mp4", 320, 240, nil, "does not exist"},
		{"unwritable /proc", "/proc/out.mp4", 320, 240, nil, "not writable"},
		{"missing directory", filepath.Join(dir, "nope", "out.mp4"), 320, 240, nil, "does not exist; create it first"},
		{"path is a directory", dir + "/sub.mp4/", 320, 240, nil, ""},
		{"unsupported extension", filepath.Join(dir, "out.webm"), 320, 240, nil, ".avi, .mkv, .mov, .mp4"},
		{"no extension", filepath.Join(dir, "out"), 320, 240, nil, "not supported"},
		{"empty path", "", 320, 240, nil, "path is empty"},
		{"zero size", filepath.Join(dir, "out.mp4"), 0, 240, nil, "frame size 0x240"},
		{"fourcc too long", filepath.Join(dir, "out.mp4"), 320, 240, []RecorderOption{WithFourCC("h2645")}, "exactly 4 characters"},
		{"fourcc too short", filepath.Join(dir, "out.mp4"), 320, 240, []RecorderOption{WithFourCC("mp4")}, "exactly 4 characters"},
		{"fourcc without encoder", filepath.Join(dir, "out.mp4"), 320, 240, []RecorderOption{WithFourCC("XXXX")}, "no encoder"},
	} {
		if c.name == "path is a directory" {
			if err := os.Mkdir(filepath.Join(dir, "sub.mp4"), 0o755); err != nil {
				t.Fatal(err)
			}
			c.path = filepath.Join(dir, "sub.mp4")
			c.want = "it is a directory"
		}
		r, err := NewRecorder(c.path, 30, c.w, c.h, c.opts...)
		if err == nil {
			r.Close()
			t.Errorf("%s: NewRecorder(%q) succeeded, want an error", c.name, c.path)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want it to say %q", c.name, err, c.want)
		}
		pathProblem := !strings.HasPrefix(c.name, "fourcc") && c.name != "zero size" && c.name != "empty path"
		if pathProblem && !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: error %q does not name the path %s", c.name, err, c.path)
		}
	}
	// Nothing was left behind: no video, no write-check file.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "file.txt" && e.Name() != "sub.mp4" {
			t.Errorf("left %s in the output directory", e.Name())
		}
	}
}

func TestRecorderCloseIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.mp4")
	r := record(t, path, 3)
	if err := r.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	img := solid(320, 240, orange)
	defer img.Close()
	if err := r.Write(img); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
}

func TestRecorderInterruptedPlaysWhatWasWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.mp4")
	r := record(t, path, 10)
	// Interrupted after 10 of 20 intended frames, as on Ctrl-C.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	img := solid(320, 240, orange)
	defer img.Close()
	for i := 10; i < 20; i++ {
		if err := r.Write(img); !errors.Is(err, ErrClosed) {
			t.Fatalf("Write frame %d after Close: %v, want ErrClosed", i, err)
		}
	}
	if v := readBack(t, path); v.frames != 10 {
		t.Errorf("read back %d frames, want 10", v.frames)
	}
}

func TestRecorderCloseWhileWriting(t *testing.T) {
	// A signal handler closes the recorder while the capture loop writes.
	path := filepath.Join(t.TempDir(), "out.mkv")
	r, err := NewRecorder(path, 30, 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	img := solid(320, 240, orange)
	defer img.Close()
	started := make(chan struct{})
	var wg sync.WaitGroup
	var loopErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			if i == 5 {
				close(started)
			}
			if err := r.Write(img); err != nil {
				loopErr = err
				return
			}
		}
	}()
	<-started
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !errors.Is(loopErr, ErrClosed) {
		t.Errorf("writer loop ended with %v, want ErrClosed", loopErr)
	}
	if v := readBack(t, path); v.frames != r.Frames() || v.frames < 5 {
		t.Errorf("read back %d frames, Frames() = %d: want them equal and at least 5", v.frames, r.Frames())
	}
}

func TestRecorderReportsVanishedOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.avi")
	r := record(t, path, 3)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	img := solid(320, 240, orange)
	defer img.Close()
	var err error
	written := 3
	// The check after write statEvery fails; the frame it follows is in the
	// (deleted) file, so the error comes with the next write.
	for ; written <= 3+statEvery && err == nil; written++ {
		err = r.Write(img)
	}
	if err == nil || !strings.Contains(err.Error(), "gone") || !strings.Contains(err.Error(), path) {
		t.Fatalf("after deleting the output and %d writes: %v, want an error saying %s is gone", statEvery, err, path)
	}
	// The error sticks.
	if err2 := r.Write(img); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("next Write: %v, want the same error again", err2)
	}
	if err := r.Close(); err == nil {
		t.Error("Close after the output vanished returned nil, want the recording's error")
	}
}

func TestRecorderReportsReplacedOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.avi")
	r := record(t, path, 3)
	defer r.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("someone else's file"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := solid(320, 240, orange)
	defer img.Close()
	var err error
	for i := 0; i <= statEvery && err == nil; i++ {
		err = r.Write(img)
	}
	if err == nil || !strings.Contains(err.Error(), "replaced") {
		t.Errorf("after replacing the output: %v, want an error saying it was replaced", err)
	}
}

func TestRecorderWithoutFramesLeavesNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.mp4")
	r, err := NewRecorder(path, 30, 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a recording of no frames left %s (stat: %v); want it removed", path, err)
	}
}

func TestRecorderAbsurdFPS(t *testing.T) {
	for _, fps := range []float64{-5, 0, math.NaN(), 1e6} {
		r, err := NewRecorder(filepath.Join(t.TempDir(), "out.avi"), fps, 32, 32)
		if err != nil {
			t.Fatal(err)
		}
		if r.FPS() != 30 {
			t.Errorf("fps %v: FPS() = %v, want 30", fps, r.FPS())
		}
		r.Close()
	}
}

func BenchmarkRecorderWrite640x480(b *testing.B) {
	for _, ext := range []string{".mp4", ".avi"} {
		b.Run(ext, func(b *testing.B) {
			r, err := NewRecorder(filepath.Join(b.TempDir(), "out"+ext), 30, 640, 480)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			// A camera-like frame: smooth colour blobs (random noise
			// would measure the encoder's worst case, not a webcam),
			// with a square that moves so frames differ.
			small := gocv.NewMatWithSize(12, 16, gocv.MatTypeCV8UC3)
			defer small.Close()
			gocv.RandU(&small, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(255, 255, 255, 0))
			img := gocv.NewMat()
			defer img.Close()
			gocv.Resize(small, &img, image.Pt(640, 480), 0, 0, gocv.InterpolationCubic)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				x := (i * 7) % 560
				gocv.Rectangle(&img, image.Rect(x, 200, x+80, 280), orange, -1)
				if err := r.Write(img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTimestampedPathNeverOverwrites: a second recording started within the
// same second gets -2, a third -3.
func TestTimestampedPathNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 5, 12, 30, 1, 0, time.UTC)
	want := []string{"rpscam-20261205-123001.mp4", "rpscam-20261205-123001-2.mp4", "rpscam-20261205-123001-3.mp4"}
	for _, w := range want {
		path := TimestampedPath(dir, at, ".mp4")
		if path != filepath.Join(dir, w) {
			t.Fatalf("TimestampedPath = %s, want %s", path, w)
		}
		if err := os.WriteFile(path, []byte("recorded"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecorderOddSizeIsWrittenEven: 4:2:0 codecs need even sides, and
// OpenCV's writer quietly wrote a 641x481 source as 640x480 while the
// summary said 641x481. The recorder now writes and reports the even size,
// cropping the odd column and row rather than scaling the picture.
func TestRecorderOddSizeIsWrittenEven(t *testing.T) {
	green := color.RGBA{G: 200, A: 255}
	for _, name := range []string{"odd.mp4", "odd.avi"} {
		path := filepath.Join(t.TempDir(), name)
		r, err := NewRecorder(path, 30, 641, 481)
		if err != nil {
			t.Fatal(err)
		}
		if r.Size() != image.Pt(640, 480) {
			t.Errorf("%s: Size() %v, want 640x480", name, r.Size())
		}
		img := solid(641, 481, orange)
		left := img.Region(image.Rect(0, 0, 200, 481))
		left.SetTo(gocv.NewScalar(float64(green.B), float64(green.G), float64(green.R), 0))
		left.Close()
		for i := 0; i < 10; i++ {
			if err := r.Write(img); err != nil {
				t.Fatalf("%s: Write: %v", name, err)
			}
		}
		img.Close()
		var summary strings.Builder
		r.WriteSummary(&summary, 10, 0)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(summary.String(), "640x480") {
			t.Errorf("%s: summary names another size than the file's 640x480:\n%s", name, summary.String())
		}
		v := readBack(t, path)
		if v.frames != 10 || v.size != image.Pt(640, 480) {
			t.Errorf("%s: read back %d frames of %v, want 10 of 640x480", name, v.frames, v.size)
		}
		if !near(v.centre, orange, 10) {
			t.Errorf("%s: centre %v, want about %v", name, v.centre, orange)
		}
	}
}
