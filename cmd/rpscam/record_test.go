package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/tinymodel"
	"github.com/rpscam/rpscam/overlay"
)

// runCmd runs the rpscam command line in-process and returns the exit code
// and what it wrote.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(&cliEnv{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// tinyModelFile writes the mean-colour model (red -> rock, green -> paper,
// blue -> scissors), skipping the test when ONNX Runtime is not installed.
func tinyModelFile(t *testing.T) string {
	t.Helper()
	if _, err := ort.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not installed: %v", err)
	}
	p := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := tinymodel.WriteMeanColour(p, 8); err != nil {
		t.Fatal(err)
	}
	return p
}

// clipColours are BGR: frame i of a colour clip is clipColours[i%3], so the
// tiny model says rock, paper, scissors in turn.
var clipColours = [3]gocv.Scalar{gocv.NewScalar(0, 0, 255, 0), gocv.NewScalar(0, 255, 0, 0), gocv.NewScalar(255, 0, 0, 0)}

// writeColourClip writes n frames of w x h in the clipColours cycle to an
// MJPG .avi (near-lossless on solid colours).
func writeColourClip(t *testing.T, n, w, h int) string {
	t.Helper()
	return writeClip(t, clipColours[:], n, w, h)
}

// writeClip writes n frames of w x h, frame i in colours[i%len(colours)],
// to an MJPG .avi.
func writeClip(t *testing.T, colours []gocv.Scalar, n, w, h int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "colours.avi")
	vw, err := gocv.VideoWriterFile(p, "MJPG", 30, w, h, true)
	if err != nil {
		t.Fatal(err)
	}
	frame := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	defer frame.Close()
	for i := 0; i < n; i++ {
		frame.SetTo(colours[i%len(colours)])
		if err := vw.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := vw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// readVideo returns the frame count of a video file and calls each (if not
// nil) on every frame.
func readVideo(t *testing.T, path string, each func(i int, m gocv.Mat)) int {
	t.Helper()
	vc, err := gocv.VideoCaptureFile(path)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	n := 0
	for vc.Read(&m) && !m.Empty() {
		if each != nil {
			each(n, m)
		}
		n++
	}
	return n
}

func near(px gocv.Vecb, bgr [3]uint8, tol int) bool {
	for i := 0; i < 3; i++ {
		d := int(px[i]) - int(bgr[i])
		if d < -tol || d > tol {
			return false
		}
	}
	return true
}

func TestRecordFileReadBack(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 30, 640, 480)
	out := filepath.Join(t.TempDir(), "annotated.mp4")
	code, stdout, stderr := runCmd(t, "record", "--model", model, "--device", "cpu", "--input", clip, "--output", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"frames processed: 30\n", "frames written: 30\n", "frames dropped by the source: 0\n", "(source ended)", "predictions: rock 10, paper 10, scissors 10, uncertain 0\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	// The overlay is in the written video: the ROI box (the centre square
	// of 640x480) in the overlay's cyan on its right edge, on every frame.
	roi := infer.CentreSquare(640, 480)
	c := overlay.ROIRGB
	cyan := [3]uint8{uint8(c), uint8(c >> 8), uint8(c >> 16)}
	var missing []int
	n := readVideo(t, out, func(i int, m gocv.Mat) {
		if !near(m.GetVecbAt(roi.Min.Y+roi.Dy()/2, roi.Max.X), cyan, 40) {
			missing = append(missing, i)
		}
	})
	if n != 30 {
		t.Fatalf("%s holds %d frames, want the 30 processed", out, n)
	}
	if len(missing) > 0 {
		t.Fatalf("frames %v lack the ROI box", missing)
	}
}

func TestRecordFrameLimitAndAVI(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 30, 320, 240)
	out := filepath.Join(t.TempDir(), "first.avi")
	code, stdout, stderr := runCmd(t, "record", "--model", model, "--device", "cpu", "--input", clip, "--output", out, "--frames", "7", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "frames processed: 7\n") || !strings.Contains(stdout, "MJPG") || !strings.Contains(stdout, "(frame limit reached)") {
		t.Fatalf("summary:\n%s", stdout)
	}
	if n := readVideo(t, out, nil); n != 7 {
		t.Fatalf("%s holds %d frames, want 7", out, n)
	}
}

func TestRecordUsageAndEnvironmentErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"record", "--input", "x.mp4"}, 2, "--output is required"},
		{[]string{"record", "--output", "o.mp4", "--threshold", "2"}, 2, "--threshold 2 is outside 0..1"},
		{[]string{"record", "--output", "o.mp4", "--fps", "-3"}, 2, "--fps -3 is outside 0 (the camera's default)..1000"},
		{[]string{"record", "--output", "o.mp4", "--smooth", "wobble"}, 2, "smoothing \"wobble\""},
		{[]string{"record", "--output", "o.mp4", "--roi", "1,2,3"}, 2, "want x,y,w,h"},
		{[]string{"record", "--output", "o.mp4", "--device", "tpu"}, 2, "want auto, cpu or cuda"},
		{[]string{"record", "--output", "o.mp4", "--model", "/nonexistent/m.onnx"}, 2, "--model /nonexistent/m.onnx"},
	}
	for _, c := range cases {
		code, _, stderr := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
	// A source that does not exist is the environment's fault: exit 2.
	model := tinyModelFile(t)
	code, _, stderr := runCmd(t, "record", "--model", model, "--device", "cpu", "--input", filepath.Join(t.TempDir(), "none.mp4"), "--output", filepath.Join(t.TempDir(), "o.mp4"))
	if code != 2 {
		t.Fatalf("missing input: exit %d, want 2; stderr %s", code, stderr)
	}
	// So is a missing default model, with the fix in the message.
	if _, err := infer.ResolveModel("models/definitely-not-here.onnx", false); err == nil || !classifyEnvError(err) || !strings.Contains(err.Error(), "scripts/setup.sh") {
		t.Fatalf("missing default model: %v", err)
	}
}

// TestRecordRefusesToOverwriteItsInput: --output naming the --input file
// (here through a second path to it) is refused before anything is opened,
// and the clip is left as it was; a folder as --output is named as such.
func TestRecordRefusesToOverwriteItsInput(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 10, 320, 240)
	before, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	same := filepath.Join(filepath.Dir(clip), ".", filepath.Base(clip))
	code, _, stderr := runCmd(t, "record", "--model", model, "--device", "cpu", "--input", clip, "--output", same)
	if code != 2 || !strings.Contains(stderr, "is the --input file") {
		t.Fatalf("output = input: exit %d, stderr %q; want 2 and the reason", code, stderr)
	}
	if after, err := os.ReadFile(clip); err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the input clip changed (%v)", err)
	}
	dir := t.TempDir()
	code, _, stderr = runCmd(t, "record", "--model", model, "--device", "cpu", "--input", clip, "--output", dir)
	if code != 2 || !strings.Contains(stderr, "it is a directory") {
		t.Fatalf("output a folder: exit %d, stderr %q; want 2 and \"it is a directory\"", code, stderr)
	}
}

// buildRpscam builds the command into a temporary folder.
func buildRpscam(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rpscam")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lineWatcher collects a process's stderr and signals when a line matches.
type lineWatcher struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	done    chan struct{}
	matched chan struct{}
}

func watch(r io.Reader, match *regexp.Regexp) *lineWatcher {
	w := &lineWatcher{done: make(chan struct{})}
	matched := make(chan struct{})
	var once sync.Once
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(r)
		sc.Split(scanLinesOrCR)
		for sc.Scan() {
			w.mu.Lock()
			w.buf.WriteString(sc.Text() + "\n")
			w.mu.Unlock()
			if match.MatchString(sc.Text()) {
				once.Do(func() { close(matched) })
			}
		}
	}()
	w.matched = matched
	return w
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// scanLinesOrCR splits on \n or \r (the progress line rewrites itself).
func scanLinesOrCR(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == '\n' || b == '\r' {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// TestRecordSIGINTLeavesPlayableFile records an endless live GStreamer
// source with the built binary, interrupts it as Ctrl-C would, and checks
// the file plays and holds exactly the frames the summary says were
// processed. The second run sends the signal twice, 50 ms apart, as
// `timeout` does (to the process and to its group): one request to stop,
// which must not kill the process while it finishes the file.
func TestRecordSIGINTLeavesPlayableFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	model := tinyModelFile(t)
	bin := buildRpscam(t)
	for _, signals := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d signals", signals), func(t *testing.T) { recordAndInterrupt(t, bin, model, signals) })
	}
}

func recordAndInterrupt(t *testing.T, bin, model string, signals int) {
	out := filepath.Join(t.TempDir(), "interrupted.mp4")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "record", "--model", model, "--device", "cpu",
		"--input", "videotestsrc is-live=true pattern=smpte ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! appsink",
		"--output", out)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The progress line comes once a second; wait for one past 20 frames.
	w := watch(stderr, regexp.MustCompile(`recording: ([2-9]\d|\d{3,}) frames`))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.matched:
	case <-w.done:
		cmd.Wait()
		t.Fatalf("rpscam ended before recording 20 frames:\n%s%s", stdout.String(), w.String())
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no progress after 90s:\n%s", w.String())
	}
	for i := range signals {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
	}
	<-w.done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rpscam after SIGINT: %v\n%s%s", err, stdout.String(), w.String())
	}
	m := regexp.MustCompile(`frames processed: (\d+)\n`).FindStringSubmatch(stdout.String())
	if m == nil || !strings.Contains(stdout.String(), "(interrupted)") {
		t.Fatalf("summary lacks the processed count or the reason:\n%s", stdout.String())
	}
	processed, _ := strconv.Atoi(m[1])
	if processed < 20 {
		t.Fatalf("processed %d frames, want at least the 20 seen before the signal", processed)
	}
	// Every processed frame is in the file; a live source is written by
	// capture time, so a frame late under load adds a repeat and an early
	// one is left out (the summary counts both, see TestRecordDuration).
	written, repeated, skipped := writtenCounts(stdout.String())
	if written != processed+repeated-skipped {
		t.Fatalf("written %d, processed %d, repeated %d, left out %d: want written = processed + repeated - left out\n%s", written, processed, repeated, skipped, stdout.String())
	}
	if n := readVideo(t, out, nil); n != written {
		t.Fatalf("%s plays %d frames, the summary says %d were written (%d processed)", out, n, written, processed)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("output file: %v", err)
	}
	t.Logf("interrupted after %d frames", processed)
}

func TestRecordDuration(t *testing.T) {
	model := tinyModelFile(t)
	out := filepath.Join(t.TempDir(), "timed.mkv")
	code, stdout, stderr := runCmd(t, "record", "--model", model, "--device", "cpu", "-q", "--duration", "1500ms",
		"--input", "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! appsink",
		"--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	m := regexp.MustCompile(`frames processed: (\d+)\n`).FindStringSubmatch(stdout)
	if m == nil || !strings.Contains(stdout, "(duration reached)") {
		t.Fatalf("summary:\n%s", stdout)
	}
	processed, _ := strconv.Atoi(m[1])
	// A 30 fps live source over 1.5 s: some frames, and never more than it
	// can have produced.
	if processed < 5 || processed > 50 {
		t.Fatalf("processed %d frames in 1.5 s of a 30 fps source", processed)
	}
	// A live source is written by capture time: a frame late under load
	// is preceded by a repeat, an early one left out; the summary counts both.
	written, repeated, skipped := writtenCounts(stdout)
	if written != processed+repeated-skipped {
		t.Fatalf("written %d, processed %d, repeated %d, left out %d: want written = processed + repeated - left out\n%s", written, processed, repeated, skipped, stdout)
	}
	if n := readVideo(t, out, nil); n != written {
		t.Fatalf("%s holds %d frames, the summary says %d written", out, n, written)
	}
}

// writtenCounts reads a record summary's frames written and its real-time
// repeats and early frames left out (0 when it has no such line).
func writtenCounts(summary string) (written, repeated, skipped int) {
	for _, line := range strings.Split(summary, "\n") {
		fmt.Sscanf(line, "frames written: %d", &written)
		fmt.Sscanf(line, "real-time timing: %d frames repeated over gaps, %d early", &repeated, &skipped)
	}
	return written, repeated, skipped
}
