package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/internal/sharedtest"
	"github.com/rpscam/rpscam/internal/tmpfstest"
)

// shippedForTeach is the model setup builds (with its committed params
// beside it), which teaching starts from; the test skips without it.
func shippedForTeach(t *testing.T) (model, shared string) {
	t.Helper()
	tinyModelFile(t) // skips without ONNX Runtime
	model = filepath.Join("..", "..", "models", "rps_mobilenetv2.onnx")
	if _, err := os.Stat(model); err != nil {
		t.Skipf("shipped model not built (run scripts/setup.sh): %v", err)
	}
	return model, sharedtest.Dir(t, "models")
}

// blockClip writes a clip of k frames of each colour in turn.
func blockClip(t *testing.T, k int, colours ...gocv.Scalar) string {
	t.Helper()
	var frames []gocv.Scalar
	for _, c := range colours {
		for range k {
			frames = append(frames, c)
		}
	}
	return writeClip(t, frames, len(frames), 160, 120)
}

var (
	bgrRed   = gocv.NewScalar(0, 0, 255, 0)
	bgrGreen = gocv.NewScalar(0, 255, 0, 0)
	bgrBlue  = gocv.NewScalar(255, 0, 0, 0)
	bgrGrey  = gocv.NewScalar(128, 128, 128, 0)
)

func TestTeachCapturesFromAClipThenTrains(t *testing.T) {
	model, shared := shippedForTeach(t)
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	clip := blockClip(t, 6, bgrRed, bgrGreen, bgrBlue, bgrGrey)
	dir := t.TempDir()
	samples, out := filepath.Join(dir, "samples"), filepath.Join(dir, "taught.onnx")
	code, stdout, stderr := runCmd(t, "teach", "--input", clip, "--model", model, "--precision", "fp32", "--shared", shared,
		"--samples", samples, "--out", out, "--countdown", "0", "--frames-per-class", "6", "--min-per-class", "5",
		"--general", "0", "--epochs", "3", "--hold-out", "0.2")
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	for _, want := range []string{"no display, prompts on the terminal only", "recording ROCK: 6 frames", "NO HAND (the empty box): 6 frames saved",
		"rock 6, paper 6, scissors 6, none 6"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "model written: "+out) || !strings.Contains(stdout, "held-out samples (each class's newest frames): 8") {
		t.Errorf("stdout:\n%s", stdout)
	}
	// Each class's samples are its block's frames: the clip's colour, as
	// captured (no overlay), at the model's input size.
	want := map[string]gocv.Scalar{"rock": bgrRed, "paper": bgrGreen, "scissors": bgrBlue, "none": bgrGrey}
	for class, colour := range want {
		names, err := os.ReadDir(filepath.Join(samples, class))
		if err != nil || len(names) != 6 {
			t.Fatalf("%s: %d samples (%v), want 6", class, len(names), err)
		}
		for _, n := range names {
			img := gocv.IMRead(filepath.Join(samples, class, n.Name()), gocv.IMReadColor)
			v := img.GetVecbAt(112, 112)
			size := img.Cols()
			img.Close()
			if size != 224 || absDiff(v[0], colour.Val1) > 12 || absDiff(v[1], colour.Val2) > 12 || absDiff(v[2], colour.Val3) > 12 {
				t.Errorf("%s/%s: %dpx, centre BGR %v, want 224px of %v", class, n.Name(), size, v, colour)
			}
		}
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("taught model: %v", err)
	}
}

func absDiff(a uint8, b float64) float64 {
	d := float64(a) - b
	if d < 0 {
		return -d
	}
	return d
}

// A source that ends before every class is recorded keeps the samples
// saved and says how to go on; nothing is trained.
func TestTeachSourceEndsEarly(t *testing.T) {
	model, shared := shippedForTeach(t)
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	clip := blockClip(t, 4, bgrRed, bgrGreen)
	dir := t.TempDir()
	samples, out := filepath.Join(dir, "samples"), filepath.Join(dir, "taught.onnx")
	code, _, stderr := runCmd(t, "teach", "--input", clip, "--model", model, "--precision", "fp32", "--shared", shared,
		"--samples", samples, "--out", out, "--countdown", "0", "--frames-per-class", "5")
	if code == 0 || !strings.Contains(stderr, "the source ended after 8 frames") || !strings.Contains(stderr, "rock 5, paper 3, scissors 0, none 0") ||
		!strings.Contains(stderr, "rpscam teach --from "+samples) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a model was written: %v", err)
	}
}

func TestTeachFromBadFolders(t *testing.T) {
	model, shared := shippedForTeach(t)
	dir := t.TempDir()
	code, _, stderr := runCmd(t, "teach", "--from", filepath.Join(dir, "missing"), "--model", model, "--shared", shared, "--out", filepath.Join(dir, "m.onnx"))
	if code != 2 || !strings.Contains(stderr, "is not a folder") {
		t.Errorf("missing --from: exit %d, %s", code, stderr)
	}
	few := filepath.Join(dir, "few")
	for _, c := range []string{"rock", "paper", "scissors", "none"} {
		os.MkdirAll(filepath.Join(few, c), 0o755)
	}
	code, _, stderr = runCmd(t, "teach", "--from", few, "--model", model, "--shared", shared, "--out", filepath.Join(dir, "m.onnx"), "--general", "0")
	if code != 2 || !strings.Contains(stderr, `class "rock" has no samples: record at least 10`) || !strings.Contains(stderr, few) {
		t.Errorf("empty classes: exit %d, %s", code, stderr)
	}
	// run prefixes "rpscam teach: "; package teach's own "teach: " is not
	// printed after it.
	if !strings.HasPrefix(stderr, `rpscam teach: class "rock"`) {
		t.Errorf("the message does not start with one command prefix: %s", stderr)
	}
}

// userSamplesForTeach copies n images of each class of one licensed source
// (a person's frames) into a samples folder, as rpscam teach would have
// captured them: enough to train on, so a flag that is not refused up front
// shows as a model written.
func userSamplesForTeach(t *testing.T, shared string, n int) string {
	t.Helper()
	src := filepath.Join(shared, "data", "rps-real", "parikshitkumar1")
	dir := t.TempDir()
	for _, c := range []string{"rock", "paper", "scissors", "none"} {
		names, err := os.ReadDir(filepath.Join(src, c))
		if err != nil || len(names) < n {
			t.Skipf("%s/%s: %d images (%v), want %d", src, c, len(names), err, n)
		}
		if err := os.MkdirAll(filepath.Join(dir, c), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range names[:n] {
			b, err := os.ReadFile(filepath.Join(src, c, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, c, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// Negative counts and an anchor out of range are usage errors naming the
// flag, refused before anything is trained or written.
func TestTeachRefusesBadValues(t *testing.T) {
	model, shared := shippedForTeach(t)
	samples := userSamplesForTeach(t, sharedtest.Dir(t, "data", "rps-real", "parikshitkumar1"), 10)
	for _, bad := range [][]string{{"--epochs", "-1"}, {"--general", "-5"}, {"--min-per-class", "-1"}, {"--anchor", "-1"}, {"--anchor", "NaN"}} {
		out := filepath.Join(t.TempDir(), "taught.onnx")
		args := append([]string{"teach", "--from", samples, "--model", model, "--shared", shared, "--out", out, "--epochs", "2", "--general", "0"}, bad...)
		code, _, stderr := runCmd(t, args...)
		if code != 2 || !strings.Contains(stderr, bad[0]+" "+bad[1]+": want") {
			t.Errorf("%s %s: exit %d, want 2 and a message naming the flag: %s", bad[0], bad[1], code, stderr)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s %s: a model was written (%v)", bad[0], bad[1], err)
		}
	}
}

// An --out the model could not be written to is refused before the capture
// and the training, naming --out, not blaming the disk's space.
func TestTeachRefusesBadOut(t *testing.T) {
	model, shared := shippedForTeach(t)
	samples := userSamplesForTeach(t, sharedtest.Dir(t, "data", "rps-real", "parikshitkumar1"), 10)
	dir := t.TempDir()
	folder := filepath.Join(dir, "models")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The base model reached by another path: a copy (so that a
	// regression cannot overwrite the shipped one; without the parameters
	// beside it training would stop before writing) and a link to it.
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	base, link := filepath.Join(dir, "base.onnx"), filepath.Join(dir, "link.onnx")
	if err := os.WriteFile(base, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(base, link); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		folder: "is a folder: give a file name inside it",
		filepath.Join(dir, "missing", "taught.onnx"): "does not exist; create it first",
		filepath.Join(file, "taught.onnx"):           "is not a folder",
		link:                                         "is the base model",
	}
	refused := func(t *testing.T, out, want string) {
		t.Helper()
		code, _, stderr := runCmd(t, "teach", "--from", samples, "--model", base, "--shared", shared, "--out", out, "--epochs", "2", "--general", "0")
		if code != 2 || !strings.Contains(stderr, "--out "+out) || !strings.Contains(stderr, want) || strings.Contains(stderr, "free some space") ||
			strings.Contains(stderr, "features") {
			t.Errorf("--out %s: exit %d, want 2, a message naming --out and %q, before any training:\n%s", out, code, want, stderr)
		}
	}
	for out, want := range cases {
		refused(t, out, want)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link to the base model was replaced: %v", err)
	}
	if names, _ := os.ReadDir(folder); len(names) != 0 {
		t.Errorf("left in the --out folder: %v", names)
	}
	// Root ignores permission bits, so a read-only mount stands for a
	// folder the user cannot write to (skipped where mounting is not allowed).
	t.Run("read-only", func(t *testing.T) {
		ro := tmpfstest.Mount(t, "1m", "ro")
		refused(t, filepath.Join(ro, "taught.onnx"), "is not writable")
	})
}
