package main

import (
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/sharedtest"
	"github.com/rpscam/rpscam/internal/tinymodel"
)

// classifyPrecision runs classify --json on one red image with the tiny
// model and the given precision flags, returning the exit code, the
// report's model and precision fields and stderr.
func classifyPrecision(t *testing.T, model string, flags ...string) (code int, path, precision, stderr string) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "red.png")
	writeSolidImage(t, img, color.RGBA{R: 255})
	args := append([]string{"classify", "--model", model, "--device", "cpu", "--json"}, flags...)
	code, stdout, stderr := runCmd(t, append(args, img)...)
	if code != 0 {
		return code, "", "", stderr
	}
	var rep struct{ Model, Precision string }
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	return code, rep.Model, rep.Precision, stderr
}

func TestPrecisionFlag(t *testing.T) {
	model := tinyModelFile(t)
	int8 := strings.TrimSuffix(model, ".onnx") + "_int8.onnx"

	// No int8 model: int8 is an environment error naming the fix; fp32 and
	// auto run the float model.
	code, _, _, stderr := classifyPrecision(t, model, "--precision", "int8")
	if code != 2 || !strings.Contains(stderr, int8+" does not exist: run rpscam quantize (or scripts/setup.sh)") {
		t.Errorf("int8 without the file: exit %d, stderr %q", code, stderr)
	}
	if code, path, prec, stderr := classifyPrecision(t, model, "--precision", "fp32"); code != 0 || path != model || prec != "fp32" {
		t.Errorf("fp32: exit %d, model %s, precision %q (%s)", code, path, prec, stderr)
	}
	if code, path, prec, stderr := classifyPrecision(t, model); code != 0 || path != model || !strings.HasPrefix(prec, "fp32 (auto: ") {
		t.Errorf("auto without an int8 model: exit %d, model %s, precision %q (%s)", code, path, prec, stderr)
	}
	if code, _, _, stderr := classifyPrecision(t, model, "--precision", "int4"); code != 2 || !strings.Contains(stderr, "want fp32, int8 or auto") {
		t.Errorf("--precision int4: exit %d, stderr %q", code, stderr)
	}

	// With the file beside it (any model stands in here), int8 loads it.
	if err := tinymodel.WriteMeanColour(int8, 8); err != nil {
		t.Fatal(err)
	}
	if code, path, prec, stderr := classifyPrecision(t, model, "--precision", "int8"); code != 0 || path != int8 || prec != "int8" {
		t.Errorf("int8: exit %d, model %s, precision %q (%s)", code, path, prec, stderr)
	}
	// Its metadata does not say it kept the accuracy bar, so auto never
	// picks it, whatever the CPU.
	if code, path, prec, stderr := classifyPrecision(t, model, "--precision", "auto"); code != 0 || path != model || !strings.HasPrefix(prec, "fp32 (auto: ") {
		t.Errorf("auto with an unmeasured int8 model: exit %d, model %s, precision %q (%s)", code, path, prec, stderr)
	}
}

func TestQuantizeFlags(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "entropy"}, "want minmax or percentile"},
		{[]string{"extra"}, "unexpected arguments"},
		// 0 is not "the default" on the command line.
		{[]string{"--calib", "0"}, "--calib 0: want 1 or more training images (default 300)"},
		{[]string{"--batch", "0"}, "--batch 0: want 1 or more images per ONNX Runtime call"},
		{[]string{"--batch", "-2"}, "--batch -2: want 1 or more"},
		// Output files are checked before minutes of calibration.
		{[]string{"--out", filepath.Join(missing, "q.onnx")}, "--out " + filepath.Join(missing, "q.onnx") + ": folder " + missing + " does not exist; create it first"},
		{[]string{"--out", dir}, "--out " + dir + " is a folder: give a file name inside it"},
		{[]string{"--out", filepath.Join(dir, "q.onnx"), "--json", filepath.Join(missing, "q.json")}, "--json " + filepath.Join(missing, "q.json") + ": folder " + missing + " does not exist"},
	} {
		code, _, stderr := runCmd(t, append([]string{"quantize"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("quantize %v: exit %d, stderr %q, want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// With --json - stdout is the JSON alone (the report goes to stderr), so it
// pipes into a JSON reader. A quick quantization of the shipped model: two
// calibration images, no comparison.
func TestQuantizeJSONToStdoutIsOnlyJSON(t *testing.T) {
	lib, floatModel := assembledModel(t, "quantizing the shipped model")
	shared := sharedtest.Dir(t, "models", "mobilenet_v2")
	sharedtest.Dir(t, "data", "rps-cgi", "train")
	params := filepath.Join("..", "..", "models", "rps_head.params")
	out := filepath.Join(t.TempDir(), "q.onnx")
	code, stdout, stderr := runCmd(t, "quantize", "--shared", shared, "--params", params, "--model", floatModel, "--out", out,
		"--calib", "2", "--no-eval", "--threads", "2", "--ort-lib", lib, "--json", "-")
	var rep struct {
		Out   string `json:"out"`
		Calib int    `json:"calibration_images"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); code != exitOK || err != nil || rep.Out != out || rep.Calib != 2 {
		t.Fatalf("exit %d, stdout is not the report's JSON (%v, %+v):\n%s\nstderr:\n%s", code, err, rep, stdout, stderr)
	}
	if !strings.Contains(stderr, "quantize: "+out+": 52 convolutions int8") {
		t.Errorf("the text report is not on stderr:\n%s", stderr)
	}
}

// A --model that is not what --params builds (here not a model at all) is
// refused with a fix that writes a new file, never over the given one.
func TestQuantizeWrongModelFixKeepsTheFile(t *testing.T) {
	shared := sharedtest.Dir(t, "models", "mobilenet_v2")
	params := filepath.Join("..", "..", "models", "rps_head.params")
	if _, err := os.Stat(params); err != nil {
		t.Skipf("%s not available: %v", params, err)
	}
	dir := t.TempDir()
	notONNX := filepath.Join(dir, "notonnx.onnx")
	if err := os.WriteFile(notONNX, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(t, "quantize", "--shared", shared, "--params", params, "--model", notONNX, "--out", filepath.Join(dir, "q.onnx"))
	want := "run rpscam export --params " + params + " --out " + filepath.Join("..", "..", "models", "rps_head.onnx") + " and pass --model "
	if code != exitUsage || !strings.Contains(stderr, "--model: "+notONNX+" is not the model") || !strings.Contains(stderr, want) || strings.Contains(stderr, "--out "+notONNX) {
		t.Errorf("exit %d, stderr %q; want exit %d and %q, never --out %s", code, stderr, exitUsage, want, notONNX)
	}
}
