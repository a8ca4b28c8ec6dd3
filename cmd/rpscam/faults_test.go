package main

import (
	"errors"
	"fmt"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/tinymodel"
)

// This file drives the faults of issue 5 through the command line, one
// case per row of the fault table that can run in-process: the exit code
// (2 for usage and environment errors, 1 for failures of the work, 0 for a
// clean end) and the words a user needs in the message. The rows that need
// a real process (signals) are in record_test.go and serve_faults_test.go.

// faultCase is one command line and what it must do.
type faultCase struct {
	name string
	args []string
	code int
	// want are substrings of stderr (or stdout for code 0).
	want []string
	// not are substrings that must not appear (e.g. a start-of-capture line
	// for an error that must come before capture).
	not []string
}

func runFaultCases(t *testing.T, cases []faultCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, c.args...)
			out := stderr + stdout
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range c.not {
				if strings.Contains(out, n) {
					t.Errorf("output has %q, which must not appear:\n%s", n, out)
				}
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Errorf("output shows a panic:\n%s", out)
			}
		})
	}
}

// writeModel writes m to dir/name.
func writeFaultModel(t *testing.T, dir, name string, m onnx.Model) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := tinymodel.Write(p, m); err != nil {
		t.Fatal(err)
	}
	return p
}

// wrongModels writes models that are each wrong in one way the loader must
// name: not ONNX, input of rank 2, int32 input, 4 channels, and 2 labels for
// 3 outputs.
func wrongModels(t *testing.T) map[string]string {
	dir := t.TempDir()
	notONNX := filepath.Join(dir, "photo.onnx")
	if err := os.WriteFile(notONNX, []byte("\xff\xd8\xff\xe0 this is a JPEG, not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	rank2 := tinymodel.MeanColour(8)
	rank2.Graph.Nodes = []onnx.Node{{Name: "softmax", Op: "Softmax", Inputs: []string{"image"}, Outputs: []string{"probabilities"}, Attrs: []onnx.Attr{onnx.AttrInt("axis", 1)}}}
	rank2.Graph.Initializers = nil
	rank2.Graph.Inputs[0] = onnx.ValueInfo{Name: "image", Type: onnx.Float32, Dims: []onnx.Dim{{Param: "N"}, {Value: 3}}}
	int32In := tinymodel.MeanColour(8)
	int32In.Graph.Inputs[0].Type = onnx.Int32
	fourCh := tinymodel.MeanColour(8)
	fourCh.Graph.Inputs[0].Dims[3] = onnx.Dim{Value: 4}
	fourCh.Graph.Initializers[0] = onnx.Tensor{Name: "w", Type: onnx.Float32, Dims: []int64{4, 3}, Float: make([]float32, 12)}
	twoLabels := tinymodel.MeanColour(8)
	twoLabels.Metadata["labels"] = "rock,paper"
	return map[string]string{
		"not ONNX":     notONNX,
		"rank 2":       writeFaultModel(t, dir, "rank2.onnx", rank2),
		"int32 input":  writeFaultModel(t, dir, "int32.onnx", int32In),
		"4 channels":   writeFaultModel(t, dir, "rgba.onnx", fourCh),
		"2 labels":     writeFaultModel(t, dir, "labels.onnx", twoLabels),
		"missing file": filepath.Join(dir, "nowhere.onnx"),
	}
}

// TestFaultTable runs every in-process row of the fault table.
func TestFaultTable(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 12, 320, 240)
	out := func(name string) string { return filepath.Join(t.TempDir(), name) }
	models := wrongModels(t)
	redImage := filepath.Join(t.TempDir(), "red.png")
	writeSolidImage(t, redImage, color.RGBA{R: 255, A: 255})
	cpu := []string{"--model", model, "--device", "cpu"}
	rec := func(extra ...string) []string {
		return append(append([]string{"record", "-q"}, cpu...), extra...)
	}
	const liveEnds = "videotestsrc is-live=true num-buffers=20 ! video/x-raw,width=160,height=120,framerate=60/1 ! videoconvert ! appsink"

	cases := []faultCase{
		// camera absent: one clear error naming the device and what to try.
		{name: "camera absent", args: rec("--input", "57", "--output", out("a.mp4")), code: 2,
			want: []string{"camera 57", "/dev/video57 does not exist", "ls /dev/video*", "another index"}},
		{name: "camera absent serve", args: append(append([]string{"serve", "--addr", "127.0.0.1:0"}, cpu...), "--input", "57"), code: 2,
			want: []string{"camera 57", "/dev/video57 does not exist"}},
		// a stream that cannot be reached, a pipeline that errors.
		{name: "gstreamer pipeline error", args: rec("--input", "nosuchelement ! videoconvert ! appsink", "--output", out("g.mp4")), code: 2,
			want: []string{"GStreamer has no element \"nosuchelement\"", "gst-inspect-1.0 nosuchelement"}},
		// source lost mid-run, record --on-source-loss stop: clean end, valid file.
		{name: "source lost, stop", args: rec("--input", liveEnds, "--on-source-loss", "stop", "--output", out("lost.mkv")), code: 0,
			want: []string{"stopped delivering frames after 20 frames", "finished and playable", "frames processed: 20\n", "frames written: 20\n", "(source lost)"}},
		// file source ends: clean end, summary.
		{name: "file ends", args: rec("--input", clip, "--output", out("f.mp4")), code: 0,
			want: []string{"frames processed: 12\n", "frames written: 12\n", "(source ended)", "predictions: rock 4, paper 4, scissors 4"}},
		// corrupt inputs.
		{name: "corrupt video", args: rec("--input", writeGarbage(t, "broken.mp4", 4096), "--output", out("c.mp4")), code: 2,
			want: []string{"broken.mp4", "corrupt, truncated, or not a video", "ffprobe"}},
		{name: "empty video file", args: rec("--input", writeGarbage(t, "empty.mp4", 0), "--output", out("e.mp4")), code: 2,
			want: []string{"empty.mp4", "corrupt, truncated, or not a video"}},
		{name: "source is a folder", args: rec("--input", t.TempDir(), "--output", out("d.mp4")), code: 2,
			want: []string{"is a directory, not a video file", "classify"}},
		{name: "source typo", args: rec("--input", "clip.mpp4", "--output", out("t.mp4")), code: 2,
			want: []string{"no such file exists", "accepted forms"}},
		{name: "classify empty folder", args: append(append([]string{"classify"}, cpu...), t.TempDir()), code: 2,
			want: []string{"holds no images"}},
		// models wrong on purpose: clear error at load naming the file and what was expected.
		{name: "model missing", args: rec("--model", models["missing file"], "--input", clip, "--output", out("m.mp4")), code: 2,
			want: []string{"--model " + models["missing file"], "no such file"}},
		{name: "model not ONNX", args: rec("--model", models["not ONNX"], "--input", clip, "--output", out("m.mp4")), code: 2,
			want: []string{"model " + models["not ONNX"], "ONNX Runtime cannot load it", "expected an ONNX model file"}},
		{name: "model input rank", args: rec("--model", models["rank 2"], "--input", clip, "--output", out("m.mp4")), code: 2,
			want: []string{"model " + models["rank 2"], "rank 2", "expected"}},
		{name: "model input type", args: rec("--model", models["int32 input"], "--input", clip, "--output", out("m.mp4")), code: 2,
			want: []string{"model " + models["int32 input"], "element type int32", "expected"}},
		{name: "model input size", args: rec("--model", models["4 channels"], "--input", clip, "--output", out("m.mp4")), code: 2,
			want: []string{"model " + models["4 channels"], "4 channels", "expected"}},
		{name: "labels != outputs", args: rec("--model", models["2 labels"], "--input", clip, "--output", out("m.mp4")), code: 2,
			want: []string{"model " + models["2 labels"], "3 outputs", "2 labels", "one comma-separated class name per output"}},
		{name: "classify labels != outputs", args: []string{"classify", "--model", models["2 labels"], "--device", "cpu", redImage}, code: 2,
			want: []string{"model " + models["2 labels"]}},
		// ONNX Runtime library missing.
		{name: "ort library missing", args: append(rec("--input", clip, "--output", out("o.mp4")), "--ort-lib", "/opt/nowhere/libonnxruntime.so"), code: 2,
			want: []string{"ONNX Runtime library", "/opt/nowhere/libonnxruntime.so", "does not exist", "scripts/setup.sh"}},
		// --device cuda without CUDA; auto falls back with one line (TestDeviceAutoFallsBackOnce).
		{name: "device cuda", args: []string{"record", "-q", "--model", model, "--device", "cuda", "--input", clip, "--output", out("cu.mp4")}, code: 2,
			want: []string{"CUDA execution provider unavailable", "--device cpu"}},
		// output unwritable: refused before capture starts.
		{name: "output folder missing", args: rec("--input", clip, "--output", filepath.Join(t.TempDir(), "no", "dir", "x.mp4")), code: 2,
			want: []string{"--output", "does not exist; create it first"}, not: []string{"recording " + clip}},
		{name: "output extension", args: rec("--input", clip, "--output", out("x.gif")), code: 2,
			want: []string{"extension \".gif\" is not supported", ".mp4"}},
		// bad flags / ROI outside the frame: usage error, exit 2.
		{name: "roi outside frame", args: rec("--input", clip, "--roi", "200,100,224,224", "--output", out("r.mp4")), code: 2,
			want: []string{"--roi", "320x240"}},
		{name: "roi malformed", args: rec("--input", clip, "--roi", "10,10,-5,5", "--output", out("r.mp4")), code: 2,
			want: []string{"roi"}},
		{name: "unknown flag", args: rec("--frobnicate"), code: 2, want: []string{"unknown flag: --frobnicate"}},
		{name: "bad duration", args: rec("--duration", "ten", "--output", out("x.mp4")), code: 2, want: []string{"--duration"}},
		{name: "negative frames", args: rec("--frames", "-3", "--output", out("x.mp4")), code: 2, want: []string{"must not be negative"}},
		{name: "on-source-loss", args: rec("--on-source-loss", "retry", "--output", out("x.mp4")), code: 2, want: []string{"want reconnect or stop"}},
		{name: "source-timeout", args: rec("--source-timeout", "-1s", "--input", clip, "--output", out("x.mp4")), code: 2, want: []string{"--source-timeout"}},
		{name: "democlip size", args: []string{"democlip", "--size", "640by480", "--out", out("d.mp4")}, code: 2, want: []string{"--size \"640by480\"", "WIDTHxHEIGHT"}},
		{name: "width without height", args: rec("--input", "0", "--width", "640", "--output", out("x.mp4")), code: 2, want: []string{"give both"}},
		{name: "unknown command", args: []string{"recrod"}, code: 2, want: []string{"unknown command \"recrod\""}},
		{name: "help for a command", args: []string{"help", "record"}, code: 0, want: []string{"Usage: rpscam record --input SOURCE --output FILE", ".mov"}, not: []string{"Commands:"}},
	}
	runFaultCases(t, cases)
}

// writeGarbage writes n bytes that are no video format to a temp file.
func writeGarbage(t *testing.T, name string, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/13)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNoDisplayForLive: live without a display says what to do instead
// and exits 2, never reaching Qt (which would abort the process).
func TestNoDisplayForLive(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	runFaultCases(t, []faultCase{
		{name: "live no display", args: []string{"live", "--input", "57"}, code: 2, want: []string{"no display", "rpscam record", "rpscam serve"}},
	})
}

// TestCameraBusy: a device node that exists but cannot capture (what a
// camera held by another program looks like to V4L2) is told apart from a
// missing one. The node is a plain file created under /dev for the test.
func TestCameraBusy(t *testing.T) {
	model := tinyModelFile(t)
	node := "/dev/video-rpscam-test-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(node, nil, 0o600); err != nil {
		t.Skipf("cannot create %s to stand in for a busy camera (needs root): %v", node, err)
	}
	defer os.Remove(node)
	runFaultCases(t, []faultCase{
		{name: "device busy", args: []string{"record", "--model", model, "--device", "cpu", "--input", node, "--output", filepath.Join(t.TempDir(), "b.mp4")}, code: 2,
			want: []string{node, "exists but could not be opened for capture", "another program may be using it", "close other apps using the camera"}},
	})
}

// TestRecordReconnectsAfterLoss: a live pipeline that stops after 20 frames
// is reopened (--on-source-loss reconnect, the default) and the recording
// goes on in the same file up to --frames, which it holds exactly.
func TestRecordReconnectsAfterLoss(t *testing.T) {
	model := tinyModelFile(t)
	out := filepath.Join(t.TempDir(), "resumed.mkv")
	code, stdout, stderr := runCmd(t, "record", "-q", "--model", model, "--device", "cpu", "--frames", "50",
		"--input", "videotestsrc is-live=true num-buffers=20 ! video/x-raw,width=160,height=120,framerate=60/1 ! videoconvert ! appsink",
		"--output", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"stopped delivering frames after 20 frames", "reconnecting to videotestsrc", "is back; frames flow again"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, want := range []string{"frames processed: 50\n", "(frame limit reached)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	// A live source is recorded by capture time: the outages are the last
	// frame repeated, so the file holds the 50 frames plus the repeats,
	// less any frame left out for coming early.
	var written, repeated, skipped int
	for _, line := range strings.Split(stdout, "\n") {
		fmt.Sscanf(line, "frames written: %d", &written)
		fmt.Sscanf(line, "real-time timing: %d frames repeated over gaps, %d early", &repeated, &skipped)
	}
	if written != 50+repeated-skipped || repeated == 0 {
		t.Errorf("written %d, repeated %d, skipped %d: want written = 50 + repeated - skipped, with repeats over the outages\n%s", written, repeated, skipped, stdout)
	}
	if n := readVideo(t, out, nil); n != written {
		t.Fatalf("%s holds %d frames, the summary says %d written", out, n, written)
	}
}

// TestRecordTruncatedVideo: a clip cut off mid-file is recorded up to where
// it breaks: a clean end, every decodable frame, never a panic.
func TestRecordTruncatedVideo(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 60, 320, 240)
	data, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.avi")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "cut-annotated.mp4")
	code, stdout, stderr := runCmd(t, "record", "-q", "--model", model, "--device", "cpu", "--input", cut, "--output", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	m := regexp.MustCompile(`frames processed: (\d+)\n`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no summary:\n%s", stdout)
	}
	n, _ := strconv.Atoi(m[1])
	if n < 20 || n >= 60 {
		t.Fatalf("processed %d frames of a 60-frame clip cut in half", n)
	}
	if got := readVideo(t, out, nil); got != n {
		t.Fatalf("%s holds %d frames, the summary says %d", out, got, n)
	}
	if !strings.Contains(stdout, fmt.Sprintf("(source ended after %d of the 60 frames its header declares: the file is truncated or damaged)", n)) {
		t.Errorf("summary does not say the source ended early:\n%s", stdout)
	}
	if !strings.Contains(stderr, "warning: "+cut) {
		t.Errorf("no warning naming the file:\n%s", stderr)
	}
	t.Logf("truncated clip: %d of 60 frames; summary:\n%s", n, stdout)
}

// TestClassifySkipsUnreadableImages: a corrupt image and an empty file
// among good ones are skipped with a warning each and counted; the others
// are classified.
func TestClassifySkipsUnreadableImages(t *testing.T) {
	model := tinyModelFile(t)
	dir := t.TempDir()
	writeSolidImage(t, filepath.Join(dir, "red.png"), color.RGBA{R: 255, A: 255})
	writeSolidImage(t, filepath.Join(dir, "green.png"), color.RGBA{G: 255, A: 255})
	if err := os.WriteFile(filepath.Join(dir, "broken.jpg"), []byte("\xff\xd8\xff\xe0 not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.png"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	runFaultCases(t, []faultCase{
		{name: "mixed folder", args: []string{"classify", "--model", model, "--device", "cpu", dir}, code: 0,
			want: []string{"skipping " + filepath.Join(dir, "broken.jpg"), "skipping " + filepath.Join(dir, "empty.png"), "Skipped: 2 unreadable image(s)", "red.png: rock", "green.png: paper"}},
		{name: "only unreadable", args: []string{"classify", "--model", model, "--device", "cpu", filepath.Join(dir, "broken.jpg")}, code: 1,
			want: []string{"none of the 1 image(s) could be classified"}},
	})
}

// TestDeviceAutoFallsBackOnce: --device auto on a machine without CUDA says
// so in exactly one line, even with two model instances.
func TestDeviceAutoFallsBackOnce(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 6, 160, 120)
	code, stdout, stderr := runCmd(t, "record", "-q", "--model", model, "--device", "auto", "--workers", "2", "--input", clip, "--output", filepath.Join(t.TempDir(), "a.mp4"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "CUDA unavailable"); n != 1 {
		if strings.Contains(stderr, "on CUDA") {
			t.Skip("CUDA is available here: no fallback to report")
		}
		t.Fatalf("%d fallback lines, want exactly 1:\n%s", n, stderr)
	}
	if !strings.Contains(stderr, "using CPU") || !strings.Contains(stderr, "on CPU (2 instance(s))") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

// TestDiskFullMidRecording: a recording onto a small tmpfs stops before the
// disk is full with an error (exit 1) and leaves a playable file holding
// exactly the frames written.
func TestDiskFullMidRecording(t *testing.T) {
	model := tinyModelFile(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	out := filepath.Join(dir, "noise.avi")
	code, stdout, stderr := runCmd(t, "record", "-q", "--model", model, "--device", "cpu",
		"--input", "videotestsrc pattern=snow num-buffers=2000 ! video/x-raw,width=640,height=480 ! videoconvert ! appsink",
		"--output", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the recording failed)\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"disk full", "left on its file system", "playable", "record to another disk"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	m := regexp.MustCompile(`frames written: (\d+)\n`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no summary:\n%s", stdout)
	}
	written, _ := strconv.Atoi(m[1])
	if written < 5 || written >= 2000 {
		t.Fatalf("%d frames written before a 40 MiB disk (32 MiB reserve) filled", written)
	}
	if n := readVideo(t, out, nil); n != written {
		t.Fatalf("%s plays %d frames, the summary says %d were written", out, n, written)
	}
	// Every frame in the file was processed, and no processed one is missing.
	if !strings.Contains(stdout, fmt.Sprintf("frames processed: %d\n", written)) {
		t.Fatalf("the summary's processed count is not the %d frames written:\n%s", written, stdout)
	}

	// A disk already below the reserve is refused before capture.
	small := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", small).Run(); err == nil {
		defer exec.Command("umount", small).Run()
		runFaultCases(t, []faultCase{{name: "disk full at start", args: []string{"record", "--model", model, "--device", "cpu", "--input", "57", "--output", filepath.Join(small, "x.mp4")}, code: 2,
			want: []string{"disk full", "free some space"}, not: []string{"camera 57"}}})
	}
}

// TestORTLibraryNotONNXRuntime: a library that is not ONNX Runtime (or is
// too old to have the API this build needs) is a clear exit-2 error naming
// it and the fix. It runs the binary: ONNX Runtime is loaded once per
// process, and this test process has loaded the real one.
func TestORTLibraryNotONNXRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	wrong := "/usr/lib/x86_64-linux-gnu/libz.so.1"
	if _, err := os.Stat(wrong); err != nil {
		t.Skipf("no stand-in library at %s", wrong)
	}
	model := tinyModelFile(t)
	img := filepath.Join(t.TempDir(), "red.png")
	writeSolidImage(t, img, color.RGBA{R: 255, A: 255})
	cmd := exec.Command(buildRpscam(t), "classify", "--model", model, "--device", "cpu", "--ort-lib", wrong, img)
	cmd.Env = append(os.Environ(), "ONNXRUNTIME_SHARED_LIBRARY_PATH=")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2:\n%s", err, out)
	}
	for _, want := range []string{"ONNX Runtime library", wrong, "is not ONNX Runtime", "scripts/setup.sh", "--ort-lib"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
