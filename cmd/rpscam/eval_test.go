package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/train"
	"github.com/rpscam/rpscam/train/evaluate"
)

// colourModel writes a tiny classifier with the rpscam contract (uint8 NHWC
// RGB in, probabilities out): the mean of each colour channel times 20, so a
// red image is "rock", green "paper", blue "scissors".
func colourModel(t *testing.T, dir string) string {
	t.Helper()
	m := onnx.Model{
		Metadata: map[string]string{"labels": "rock,paper,scissors", "input_color": "RGB"},
		Graph: onnx.Graph{
			Name: "colour",
			Nodes: []onnx.Node{
				{Name: "cast", Op: "Cast", Inputs: []string{"image"}, Outputs: []string{"x"}, Attrs: []onnx.Attr{onnx.AttrInt("to", int64(onnx.Float32))}},
				{Name: "mean", Op: "ReduceMean", Inputs: []string{"x"}, Outputs: []string{"m"}, Attrs: []onnx.Attr{onnx.AttrInts("axes", 1, 2), onnx.AttrInt("keepdims", 0)}},
				{Name: "scale", Op: "Mul", Inputs: []string{"m", "k"}, Outputs: []string{"logits"}},
				{Name: "softmax", Op: "Softmax", Inputs: []string{"logits"}, Outputs: []string{"probabilities"}, Attrs: []onnx.Attr{onnx.AttrInt("axis", 1)}},
			},
			Initializers: []onnx.Tensor{{Name: "k", Type: onnx.Float32, Dims: []int64{1}, Float: []float32{20.0 / 255}}},
			Inputs:       []onnx.ValueInfo{{Name: "image", Type: onnx.Uint8, Dims: []onnx.Dim{{Param: "N"}, {Value: 8}, {Value: 8}, {Value: 3}}}},
			Outputs:      []onnx.ValueInfo{{Name: "probabilities", Type: onnx.Float32, Dims: []onnx.Dim{{Param: "N"}, {Value: 3}}}},
		},
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "colour.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func solid(t *testing.T, path string, c color.RGBA) {
	t.Helper()
	img := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0), 20, 30, gocv.MatTypeCV8UC3)
	defer img.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if !gocv.IMWrite(path, img) {
		t.Fatalf("writing %s", path)
	}
}

func TestEvalExactReportOnGeneratedTree(t *testing.T) {
	lib, err := ort.FindLibrary("")
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	model := colourModel(t, dir)
	data := filepath.Join(dir, "data")
	red, green, blue := color.RGBA{R: 255}, color.RGBA{G: 255}, color.RGBA{B: 255}
	solid(t, filepath.Join(data, "rock", "r1.png"), red)
	solid(t, filepath.Join(data, "rock", "r2.png"), red)
	solid(t, filepath.Join(data, "rock", "r3.png"), blue) // rock -> scissors
	solid(t, filepath.Join(data, "paper", "p1.png"), green)
	solid(t, filepath.Join(data, "paper", "p2.png"), green)
	solid(t, filepath.Join(data, "scissors", "s1.png"), blue)
	solid(t, filepath.Join(data, "scissors", "s2.png"), green) // scissors -> paper
	jsonPath := filepath.Join(outDir(t, dir), "report.json")
	pngPath := filepath.Join(dir, "out", "confusion.png")
	var stdout, stderr bytes.Buffer
	env := &cliEnv{stdout: &stdout, stderr: &stderr}
	code := run(env, []string{"eval", "--data", data, "--model", model, "--ort-lib", lib, "--json", jsonPath, "--confusion", pngPath, "--batch", "3"})
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var rep struct {
		Accuracy  float64 `json:"accuracy"`
		N         int     `json:"n"`
		Confusion [][]int `json:"confusion"`
		PerClass  []struct {
			Label     string  `json:"label"`
			Precision float64 `json:"precision"`
			Recall    float64 `json:"recall"`
		} `json:"per_class"`
		Worst []struct {
			Path string `json:"path"`
		} `json:"worst"`
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.N != 7 || rep.Accuracy != 5.0/7 {
		t.Errorf("n %d accuracy %v, want 7 and 5/7", rep.N, rep.Accuracy)
	}
	want := [][]int{{2, 0, 1}, {0, 2, 0}, {0, 1, 1}}
	for i := range want {
		for j := range want[i] {
			if rep.Confusion[i][j] != want[i][j] {
				t.Fatalf("confusion %v, want %v", rep.Confusion, want)
			}
		}
	}
	if rep.PerClass[2].Label != "scissors" || rep.PerClass[2].Precision != 0.5 || rep.PerClass[2].Recall != 0.5 {
		t.Errorf("scissors %+v, want precision 0.5 recall 0.5", rep.PerClass[2])
	}
	if len(rep.Worst) != 2 {
		t.Errorf("worst %+v, want the 2 mistakes", rep.Worst)
	}
	out := stdout.String()
	if !strings.Contains(out, "accuracy 71.43% (5/7)") || !strings.Contains(out, "Actual: rock     Predicted: scissors") {
		t.Errorf("text output:\n%s", out)
	}
	img := gocv.IMRead(pngPath, gocv.IMReadColor)
	defer img.Close()
	if img.Empty() || img.Cols() < 400 {
		t.Errorf("confusion PNG missing or small: %v", img.Size())
	}
}

// outDir makes dir/out for a test's output files: rpscam eval writes into
// existing folders only.
func outDir(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEvalUsageErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := &cliEnv{stdout: &stdout, stderr: &stderr}
	if code := run(env, []string{"eval"}); code != exitUsage {
		t.Errorf("no --data: exit %d, want %d", code, exitUsage)
	}
	if code := run(env, []string{"eval", "--data", t.TempDir(), "--model", filepath.Join(t.TempDir(), "none.onnx")}); code != exitUsage {
		t.Errorf("missing model: exit %d, want %d (%s)", code, exitUsage, stderr.String())
	}
	for _, args := range [][]string{
		{"eval", "--validation", "--data", t.TempDir()},
		{"eval", "--validation", "--heldout"},
		{"eval", "--validation", "--val-fraction", "0"},
		{"eval", "--validation", "--val-fraction", "1"},
	} {
		stderr.Reset()
		if code := run(env, args); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (usage); stderr: %s", args, code, exitUsage, stderr.String())
		}
	}
}

// Output files are written after the scoring, so eval checks them first:
// each case fails before the (missing) model is even looked at.
func TestEvalOutputPathsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	data := imageTree(t, filepath.Join(dir, "data"), map[string]color.RGBA{"rock/a.png": red})
	model := filepath.Join(dir, "never-loaded.onnx")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--json", filepath.Join(dir, "missing", "r.json")}, "--json " + filepath.Join(dir, "missing", "r.json") + ": folder " + filepath.Join(dir, "missing") + " does not exist; create it first"},
		{[]string{"--json", data}, "--json " + data + " is a folder: give a file name inside it"},
		{[]string{"--confusion", filepath.Join(dir, "cm.txt")}, "--confusion " + filepath.Join(dir, "cm.txt") + `: cannot write a confusion image to a ".txt" file: use .png, e.g. --confusion ` + filepath.Join(dir, "cm.png")},
		{[]string{"--confusion", dir}, "--confusion " + dir + " is a folder: give a file name inside it"},
		{[]string{"--confusion", filepath.Join(dir, "missing", "cm.png")}, "does not exist; create it first"},
	}
	// /proc refuses new files even to root, for whom permission bits do not.
	if st, err := os.Stat("/proc/self"); err == nil && st.IsDir() {
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"--json", "/proc/rpscam-eval.json"}, "--json /proc/rpscam-eval.json: folder /proc is not writable"})
	}
	for _, c := range cases {
		code, _, stderr := evalRun(t, append([]string{"--data", data, "--model", model}, c.args...)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %q", c.args, code, stderr, exitUsage, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Error("eval created the missing folder")
	}
}

// With --json - stdout is the JSON alone, so it pipes into a JSON reader;
// the report goes to stderr, for the single report and the table alike.
func TestEvalJSONToStdoutIsOnlyJSON(t *testing.T) {
	lib := ortLibOrSkip(t)
	dir := t.TempDir()
	model := colourModel(t, dir)
	data := imageTree(t, filepath.Join(dir, "data"), map[string]color.RGBA{"rock/r.png": red, "paper/p.png": green, "scissors/s.png": green})
	for _, extra := range [][]string{nil, {"--per-source"}} {
		code, stdout, stderr := evalRun(t, append([]string{"--data", data, "--model", model, "--ort-lib", lib, "--json", "-"}, extra...)...)
		var v map[string]any
		if err := json.Unmarshal([]byte(stdout), &v); code != exitOK || err != nil {
			t.Errorf("%v: exit %d, stdout is not one JSON object (%v):\n%s", extra, code, err, stdout)
		}
		if !strings.Contains(stderr, "accuracy") {
			t.Errorf("%v: the report is not on stderr:\n%s", extra, stderr)
		}
	}
}

// junk writes files that are named as images but cannot be decoded.
func junk(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("not an image"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Unreadable images are skipped and counted, as rpscam classify does,
// instead of losing the report; a folder of nothing but such files is
// still an error.
func TestEvalSkipsUnreadableImages(t *testing.T) {
	lib := ortLibOrSkip(t)
	dir := t.TempDir()
	model := colourModel(t, dir)
	data := imageTree(t, filepath.Join(dir, "data"), map[string]color.RGBA{"rock/r.png": red, "paper/p.png": green, "scissors/s.png": blue})
	junk(t, data, "rock/bad1.png", "rock/bad2.png", "paper/bad3.png", "scissors/bad4.jpg")
	jsonPath := filepath.Join(dir, "r.json")
	code, out, errOut := evalRun(t, "--data", data, "--model", model, "--ort-lib", lib, "--json", jsonPath)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, ": 3 images\nskipped 4 unreadable image(s), not scored: ") || !strings.Contains(out, " and 1 more (listed in --json)\n") ||
		!strings.Contains(out, "accuracy 100.00% (3/3)") {
		t.Errorf("report:\n%s", out)
	}
	var rep struct {
		N       int `json:"n"`
		Skipped []struct {
			Path, Error string
		} `json:"skipped"`
	}
	readJSON(t, jsonPath, &rep)
	if rep.N != 3 || len(rep.Skipped) != 4 || !strings.Contains(rep.Skipped[0].Error, "cannot decode image") {
		t.Errorf("JSON report: n %d, skipped %+v; want 3 and the 4 bad files", rep.N, rep.Skipped)
	}
	// The table counts them too.
	code, out, errOut = evalRun(t, "--per-source", "--data", data, "--model", model, "--ort-lib", lib, "--json", jsonPath)
	var table struct {
		Skipped []struct{ Path string } `json:"skipped"`
	}
	readJSON(t, jsonPath, &table)
	if code != exitOK || !strings.Contains(out, "skipped 4 unreadable image(s)") || len(table.Skipped) != 4 {
		t.Errorf("--per-source: exit %d, skipped %v\n%s\n%s", code, table.Skipped, out, errOut)
	}
	// Nothing readable: an error, not an empty report.
	bad := filepath.Join(dir, "bad")
	junk(t, bad, "rock/a.png", "paper/b.png")
	code, _, errOut = evalRun(t, "--data", bad, "--model", model, "--ort-lib", lib)
	if code != exitUsage || !strings.Contains(errOut, "none of the 2 images in "+bad+" could be read") {
		t.Errorf("all unreadable: exit %d, stderr %s", code, errOut)
	}
	code, _, errOut = evalRun(t, "--per-source", "--data", data, "--data", bad, "--model", model, "--ort-lib", lib)
	if code != exitUsage || !strings.Contains(errOut, "source bad ("+bad+"): none of its 2 images could be read") {
		t.Errorf("one source all unreadable: exit %d, stderr %s", code, errOut)
	}
}

// --heldout keeps the part of a hold-out source that training never sees,
// and refuses any other folder (it has no held-out part) naming the
// sources it applies to.
func TestEvalHeldOutOnlyOnHoldOutSources(t *testing.T) {
	lib := ortLibOrSkip(t)
	dir := t.TempDir()
	model := colourModel(t, dir)
	shared := filepath.Join(dir, "shared")
	files := map[string]color.RGBA{"data/rps-cgi/test/rock/a.png": red, "data/rps-cgi/test/paper/b.png": green}
	drg := filepath.Join(shared, "data", "rps-real", "drgfreeman")
	held := 0
	for i := range 30 {
		name := fmt.Sprintf("data/rps-real/drgfreeman/rock/%d.png", i)
		files[name] = red
		if train.HeldOut(name) {
			held++
		}
	}
	imageTree(t, shared, files)
	if held == 0 || held == 30 {
		t.Fatalf("%d of 30 files held out: the test needs some of each", held)
	}
	cgi := filepath.Join(shared, "data", "rps-cgi", "test")
	code, _, stderr := evalRun(t, "--data", cgi, "--heldout", "--shared", shared, "--model", model, "--ort-lib", lib)
	if code != exitUsage || !strings.Contains(stderr, "--heldout applies to the hold-out sources drgfreeman, parikshitkumar1, signdigits only, and "+cgi+" is not one of them: pass --data "+drg) {
		t.Errorf("--heldout on rps-cgi/test: exit %d, stderr %s", code, stderr)
	}
	code, out, stderr := evalRun(t, "--data", drg, "--heldout", "--shared", shared, "--model", model, "--ort-lib", lib)
	if want := fmt.Sprintf(" (held-out part): %d images\n", held); code != exitOK || !strings.Contains(out, want) {
		t.Errorf("--heldout on drgfreeman: exit %d, want %q in\n%s\n%s", code, want, out, stderr)
	}
}

// fourClassModel writes a tiny 4-label classifier (rock,paper,scissors,none):
// logits = 0.1 * mean [R, G, B] with a 0 column for none, plus a bias of 2 on
// none. Red, green and blue are their gestures at probability ~1; black is
// none at e^2/(e^2+3) = 71%; grey (128,120,120) is rock at 52.7%, uncertain
// under the default threshold 0.6.
func fourClassModel(t *testing.T, dir string) string {
	t.Helper()
	w := []float32{0.1, 0, 0, 0, 0, 0.1, 0, 0, 0, 0, 0.1, 0}
	m := onnx.Model{
		Metadata: map[string]string{"labels": "rock,paper,scissors,none", "input_color": "RGB"},
		Graph: onnx.Graph{
			Name: "colour4",
			Nodes: []onnx.Node{
				{Name: "cast", Op: "Cast", Inputs: []string{"image"}, Outputs: []string{"x"}, Attrs: []onnx.Attr{onnx.AttrInt("to", int64(onnx.Float32))}},
				{Name: "mean", Op: "ReduceMean", Inputs: []string{"x"}, Outputs: []string{"m"}, Attrs: []onnx.Attr{onnx.AttrInts("axes", 1, 2), onnx.AttrInt("keepdims", 0)}},
				{Name: "head", Op: "MatMul", Inputs: []string{"m", "w"}, Outputs: []string{"z"}},
				{Name: "bias", Op: "Add", Inputs: []string{"z", "b"}, Outputs: []string{"logits"}},
				{Name: "softmax", Op: "Softmax", Inputs: []string{"logits"}, Outputs: []string{"probabilities"}, Attrs: []onnx.Attr{onnx.AttrInt("axis", 1)}},
			},
			Initializers: []onnx.Tensor{
				{Name: "w", Type: onnx.Float32, Dims: []int64{3, 4}, Float: w},
				{Name: "b", Type: onnx.Float32, Dims: []int64{4}, Float: []float32{0, 0, 0, 2}},
			},
			Inputs:  []onnx.ValueInfo{{Name: "image", Type: onnx.Uint8, Dims: []onnx.Dim{{Param: "N"}, {Value: 8}, {Value: 8}, {Value: 3}}}},
			Outputs: []onnx.ValueInfo{{Name: "probabilities", Type: onnx.Float32, Dims: []onnx.Dim{{Param: "N"}, {Value: 4}}}},
		},
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "colour4.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	red, green, blue = color.RGBA{R: 255}, color.RGBA{G: 255}, color.RGBA{B: 255}
	black            = color.RGBA{}
	grey             = color.RGBA{R: 128, G: 120, B: 120}
)

// imageTree writes solid images: files maps "class/name.png" to a colour.
func imageTree(t *testing.T, dir string, files map[string]color.RGBA) string {
	t.Helper()
	for name, c := range files {
		solid(t, filepath.Join(dir, filepath.FromSlash(name)), c)
	}
	return dir
}

func evalRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(&cliEnv{stdout: &stdout, stderr: &stderr}, append([]string{"eval"}, args...))
	return code, stdout.String(), stderr.String()
}

func ortLibOrSkip(t *testing.T) string {
	t.Helper()
	lib, err := ort.FindLibrary("")
	if err != nil {
		t.Skip(err)
	}
	return lib
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, raw)
	}
}

func TestEvalFourClassSingleReport(t *testing.T) {
	lib := ortLibOrSkip(t)
	dir := t.TempDir()
	model := fourClassModel(t, dir)
	data := imageTree(t, filepath.Join(dir, "data"), map[string]color.RGBA{
		"rock/r1.png": red, "rock/r2.png": red, "rock/r3.png": black, // a hand labelled none
		"paper/p1.png": green, "paper/p2.png": blue, // paper -> scissors
		"scissors/s1.png": blue,
		"none/n1.png":     black, "none/n2.png": grey, "none/n3.png": red, // none, uncertain rock, confident rock
	})
	jsonPath, pngPath := filepath.Join(outDir(t, dir), "r.json"), filepath.Join(dir, "out", "cm.png")
	code, out, errOut := evalRun(t, "--data", data, "--model", model, "--ort-lib", lib, "--json", jsonPath, "--confusion", pngPath)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		N         int     `json:"n"`
		Correct   int     `json:"correct"`
		Confusion [][]int `json:"confusion"`
		Threshold float64 `json:"threshold"`
		None      struct {
			GestureImages          int                 `json:"gesture_images"`
			GestureCorrect         int                 `json:"gesture_correct"`
			HandsLabelledNone      int                 `json:"hands_labelled_none"`
			NoneImages             int                 `json:"none_images"`
			NoneLabelledNone       int                 `json:"none_labelled_none"`
			NoneOrUncertain        int                 `json:"none_or_uncertain"`
			NoneOrUncertainShare   float64             `json:"none_or_uncertain_share"`
			HandsLabelledNoneShare float64             `json:"hands_labelled_none_share"`
			Recall                 map[string]*float64 `json:"recall"`
		} `json:"gestures_and_none"`
	}
	readJSON(t, jsonPath, &rep)
	if rep.N != 9 || rep.Correct != 5 || rep.Threshold != 0.6 {
		t.Errorf("n %d correct %d threshold %v, want 9, 5, 0.6", rep.N, rep.Correct, rep.Threshold)
	}
	if got, want := mustMarshal(t, rep.Confusion), "[[2,0,0,1],[0,1,1,0],[0,0,1,0],[2,0,0,1]]"; got != want {
		t.Errorf("confusion %s, want %s", got, want)
	}
	n := rep.None
	if n.GestureImages != 6 || n.GestureCorrect != 4 || n.HandsLabelledNone != 1 || n.NoneImages != 3 || n.NoneLabelledNone != 1 || n.NoneOrUncertain != 2 ||
		n.NoneOrUncertainShare != 2.0/3 || n.HandsLabelledNoneShare != 1.0/6 || n.Recall["none"] == nil || *n.Recall["none"] != 1.0/3 {
		t.Errorf("gestures_and_none %+v", n)
	}
	for _, want := range []string{
		"accuracy 55.56% (5/9)",
		"none          0.5000    0.3333    0.4000        3\n",
		"none               2         0         0         1\n",
		"gestures: 6 images, accuracy 66.7% (4/6), 1 (16.7%) labelled none\n",
		"none: 3 images, 1 (33.3%) labelled none, 2 (66.7%) labelled none or uncertain (top probability below 0.60)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	img := gocv.IMRead(pngPath, gocv.IMReadColor)
	defer img.Close()
	if img.Cols() != 110+4*120+20 || img.Rows() != 80+4*120+40 {
		t.Errorf("confusion PNG %v, want 4x4 cells (610x600)", img.Size())
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A 3-class model on folders with none/ keeps scoring the gestures as
// before and judges the none images by uncertainty alone.
func TestEvalThreeClassModelOnNoneFolder(t *testing.T) {
	lib := ortLibOrSkip(t)
	dir := t.TempDir()
	model := colourModel(t, dir)
	data := imageTree(t, filepath.Join(dir, "data"), map[string]color.RGBA{
		"rock/r.png": red, "paper/p.png": green, "scissors/s.png": blue,
		// black: 1/3 each; grey: rock at 48%; red: rock at ~100%
		"none/n1.png": black, "none/n2.png": grey, "none/n3.png": red,
	})
	jsonPath := filepath.Join(dir, "r.json")
	code, out, errOut := evalRun(t, "--data", data, "--model", model, "--ort-lib", lib, "--json", jsonPath)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		": 3 images\n", "accuracy 100.00% (3/3)",
		"none: 3 images; the model has no none class, so they are scored by uncertainty only: 2 (66.7%) uncertain (top probability below 0.60)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var rep struct {
		N         int     `json:"n"`
		Confusion [][]int `json:"confusion"`
		None      struct {
			NoneImages      int `json:"none_images"`
			NoneOrUncertain int `json:"none_or_uncertain"`
		} `json:"gestures_and_none"`
	}
	readJSON(t, jsonPath, &rep)
	if rep.N != 3 || mustMarshal(t, rep.Confusion) != "[[1,0,0],[0,1,0],[0,0,1]]" || rep.None.NoneImages != 3 || rep.None.NoneOrUncertain != 2 {
		t.Errorf("report %+v", rep)
	}
	// --threshold moves the line: at 0.45 only black (33%) is uncertain.
	code, out, _ = evalRun(t, "--data", data, "--model", model, "--ort-lib", lib, "--threshold", "0.45")
	if code != exitOK || !strings.Contains(out, "1 (33.3%) uncertain (top probability below 0.45)") {
		t.Errorf("--threshold 0.45: exit %d\n%s", code, out)
	}
	// Gesture folders only: the report has no none line and no new JSON keys.
	gestures := imageTree(t, filepath.Join(dir, "gestures"), map[string]color.RGBA{"rock/r.png": red, "paper/p.png": green})
	code, out, _ = evalRun(t, "--data", gestures, "--model", model, "--ort-lib", lib, "--json", "-")
	if code != exitOK || strings.Contains(out, "none:") || strings.Contains(out, "gestures_and_none") || strings.Contains(out, `"threshold"`) || !strings.Contains(out, `"n": 2`) {
		t.Errorf("3-class model on gesture folders: exit %d, output mentions none or threshold:\n%s", code, out)
	}
}

// sourceRow is one row of the --per-source JSON.
type sourceRow struct {
	Source                 string              `json:"source"`
	Data                   string              `json:"data"`
	GestureImages          int                 `json:"gesture_images"`
	GestureCorrect         int                 `json:"gesture_correct"`
	GestureAccuracy        *float64            `json:"gesture_accuracy"`
	Recall                 map[string]*float64 `json:"recall"`
	HandsLabelledNone      int                 `json:"hands_labelled_none"`
	HandsLabelledNoneShare *float64            `json:"hands_labelled_none_share"`
	NoneImages             int                 `json:"none_images"`
	NoneLabelledNone       int                 `json:"none_labelled_none"`
	NoneOrUncertain        int                 `json:"none_or_uncertain"`
	NoneOrUncertainShare   *float64            `json:"none_or_uncertain_share"`
}

func TestEvalPerSourceTable(t *testing.T) {
	lib := ortLibOrSkip(t)
	dir := t.TempDir()
	model := fourClassModel(t, dir)
	parent := filepath.Join(dir, "eval-only")
	imageTree(t, filepath.Join(parent, "amy"), map[string]color.RGBA{
		"rock/1.png": red, "paper/1.png": green, "scissors/1.png": blue, "none/1.png": black, "none/2.png": black,
	})
	imageTree(t, filepath.Join(parent, "bob"), map[string]color.RGBA{
		"rock/1.png": red, "rock/2.png": black, "paper/1.png": blue, "scissors/1.png": blue,
		"none/1.png": grey, "none/2.png": red,
	})
	imageTree(t, filepath.Join(parent, "cal"), map[string]color.RGBA{
		"rock/1.png": red, "paper/1.png": green, "scissors/1.png": green, "none/1.png": black,
	})
	// Files and hidden folders beside the sources are not sources.
	if err := os.WriteFile(filepath.Join(parent, "SOURCES.tsv"), []byte("amy\tx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	imageTree(t, filepath.Join(parent, ".cache"), map[string]color.RGBA{"x.png": red})
	// A --data source named by its split folder's parent.
	dee := imageTree(t, filepath.Join(dir, "dee", "test"), map[string]color.RGBA{"rock/1.png": red, "paper/1.png": green})
	jsonPath := filepath.Join(outDir(t, dir), "table.json")
	pngPath := filepath.Join(dir, "out", "pooled.png")
	code, out, errOut := evalRun(t, "--sources-in", parent, "--data", dee, "--model", model, "--ort-lib", lib, "--json", jsonPath, "--confusion", pngPath)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	want := "source   gestures accuracy     rock    paper scissors     none hands->none  none imgs none|uncertain\n" +
		"bob             4    50.0%    50.0%     0.0%   100.0%     0.0%       25.0%          2          50.0%\n" +
		"cal             3    66.7%   100.0%   100.0%     0.0%   100.0%        0.0%          1         100.0%\n" +
		"amy             3   100.0%   100.0%   100.0%   100.0%   100.0%        0.0%          2         100.0%\n" +
		"dee/test        2   100.0%   100.0%   100.0%        -        -        0.0%          0              -\n" +
		strings.Repeat("-", 100) + "\n" +
		"mean                 79.2%    87.5%    75.0%    66.7%    66.7%        6.2%                     83.3%\n" +
		"pooled         12    75.0%    80.0%    75.0%    66.7%    60.0%        8.3%          5          80.0%\n" +
		"\ngesture accuracy: mean over 4 sources 79.2%, pooled 75.0% (9/12); 2 of 4 sources under 90%: bob, cal\n" +
		"none images: 5 pooled, 4 (80.0%) labelled none or uncertain\n"
	if !strings.Contains(out, want) {
		t.Errorf("table:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(out, "on 4 sources: 17 images (uncertain: top probability below 0.60)") {
		t.Errorf("header:\n%s", out)
	}
	var table struct {
		Labels       []string    `json:"labels"`
		ModelHasNone bool        `json:"model_has_none"`
		Threshold    float64     `json:"threshold"`
		Sources      []sourceRow `json:"sources"`
		Summary      struct {
			Sources int `json:"sources"`
			Mean    struct {
				GestureAccuracy float64 `json:"gesture_accuracy"`
			} `json:"mean"`
			Target      float64   `json:"target"`
			UnderTarget []string  `json:"sources_under_target"`
			Pooled      sourceRow `json:"pooled"`
		} `json:"summary"`
		Confusion [][]int `json:"pooled_confusion"`
	}
	readJSON(t, jsonPath, &table)
	if !table.ModelHasNone || table.Threshold != 0.6 || len(table.Sources) != 4 || table.Summary.Sources != 4 {
		t.Fatalf("table %+v", table)
	}
	bob := table.Sources[0]
	if bob.Source != "bob" || bob.Data != filepath.Join(parent, "bob") || bob.GestureImages != 4 || bob.GestureCorrect != 2 || *bob.GestureAccuracy != 0.5 ||
		*bob.Recall["rock"] != 0.5 || *bob.Recall["paper"] != 0 || *bob.Recall["none"] != 0 || bob.HandsLabelledNone != 1 || *bob.HandsLabelledNoneShare != 0.25 ||
		bob.NoneImages != 2 || bob.NoneLabelledNone != 0 || bob.NoneOrUncertain != 1 || *bob.NoneOrUncertainShare != 0.5 {
		t.Errorf("bob's row %+v", bob)
	}
	if d := table.Sources[3]; d.Source != "dee/test" || d.NoneImages != 0 || d.NoneOrUncertainShare != nil || d.Recall["none"] != nil {
		t.Errorf("dee's row %+v, want no none images and null shares", d)
	}
	s := table.Summary
	if math.Abs(s.Mean.GestureAccuracy-(0.5+2.0/3+1+1)/4) > 1e-12 || s.Target != 0.9 || strings.Join(s.UnderTarget, ",") != "bob,cal" ||
		s.Pooled.Source != "pooled" || s.Pooled.GestureImages != 12 || s.Pooled.GestureCorrect != 9 || s.Pooled.NoneOrUncertain != 4 {
		t.Errorf("summary %+v", s)
	}
	if got, want := mustMarshal(t, table.Confusion), "[[4,0,0,1],[0,3,1,0],[0,1,2,0],[2,0,0,3]]"; got != want {
		t.Errorf("pooled confusion %s, want %s", got, want)
	}
	img := gocv.IMRead(pngPath, gocv.IMReadColor)
	defer img.Close()
	if img.Cols() != 610 || img.Rows() != 600 {
		t.Errorf("pooled confusion PNG %v, want 610x600", img.Size())
	}
	// --source-target changes who is under it.
	code, out, _ = evalRun(t, "--per-source", "--data", filepath.Join(parent, "cal"), "--data", filepath.Join(parent, "amy"), "--model", model, "--ort-lib", lib, "--source-target", "0.6")
	if cal, amy := strings.Index(out, "\ncal "), strings.Index(out, "\namy "); code != exitOK || !strings.Contains(out, "0 of 2 sources under 60%\n") || cal < 0 || cal > amy {
		t.Errorf("--source-target 0.6: exit %d\n%s", code, out)
	}
}

// A 3-class model in the table: none recall and hands->none do not apply.
func TestEvalPerSourceThreeClassModel(t *testing.T) {
	lib := ortLibOrSkip(t)
	dir := t.TempDir()
	model := colourModel(t, dir)
	src := imageTree(t, filepath.Join(dir, "ann"), map[string]color.RGBA{
		"rock/1.png": red, "paper/1.png": blue, "none/1.png": black, "none/2.png": red,
	})
	code, out, errOut := evalRun(t, "--per-source", "--data", src, "--model", model, "--ort-lib", lib)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"the model has no none class: none images count as right when uncertain (top probability below 0.60), and hands->none does not apply\n",
		"source gestures accuracy     rock    paper scissors hands->none  none imgs none|uncertain\n",
		"ann           2    50.0%   100.0%     0.0%        -           -          2          50.0%\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalPerSourceUsageErrors(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx") // never loaded: every case fails first
	loose := imageTree(t, filepath.Join(dir, "parent", "loose"), map[string]color.RGBA{"a.png": red})
	oneSource := imageTree(t, filepath.Join(dir, "one"), map[string]color.RGBA{"rock/a.png": red, "none/b.png": black})
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--per-source"}, "--per-source needs sources: pass --sources-in DIR"},
		{[]string{"--sources-in", filepath.Dir(loose)}, "source loose (" + loose + ") holds images outside class folders, e.g. " + filepath.Join(loose, "a.png") + ": put them in rock/ paper/ scissors/ none/ subfolders"},
		{[]string{"--per-source", "--data", loose}, "holds images outside class folders"},
		{[]string{"--sources-in", oneSource}, "its subfolders are class folders (none, rock), so it is one source: pass it as --per-source --data " + oneSource},
		{[]string{"--sources-in", empty}, "--sources-in " + empty + " has no subfolders: pass the folder whose subfolders are the sources"},
		{[]string{"--sources-in", filepath.Join(dir, "missing")}, "pass the folder whose subfolders are the sources"},
		{[]string{"--sources-in", oneSource, "--validation"}, "drop --data, --per-source and --sources-in, or drop --validation"},
		{[]string{"--sources-in", filepath.Dir(oneSource), "--worst", "3"}, "--worst and --samples shape the single report"},
		{[]string{"--data", oneSource, "--worst", "-1"}, "--worst -1: want 0 or more mistakes to list"},
		{[]string{"--data", oneSource, "--samples", "-1"}, "--samples -1: want 0 or more sample lines"},
		{[]string{"--data", oneSource, "--threshold", "2"}, "--threshold 2 is outside 0..1"},
		{[]string{"--data", oneSource, "--source-target", "0.8"}, "--source-target counts sources in the --per-source table: add --per-source"},
		{[]string{"--per-source", "--data", oneSource, "--source-target", "90"}, "--source-target 90 is outside 0..1: use a share, e.g. 0.9"},
		{[]string{"--tests", "--data", oneSource}, "--tests scores the default sources' test parts"},
		{[]string{"--tests", "--heldout"}, "drop --data, --sources-in, --heldout and --validation, or drop --tests"},
	} {
		code, _, stderr := evalRun(t, append(c.args, "--model", model)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %q", c.args, code, stderr, exitUsage, c.want)
		}
	}
}

// A folder that is neither a gesture nor none is still refused, naming
// the classes, under per-source as in the single report.
func TestEvalPerSourceUnknownClassFolder(t *testing.T) {
	lib := ortLibOrSkip(t)
	dir := t.TempDir()
	model := fourClassModel(t, dir)
	src := imageTree(t, filepath.Join(dir, "src", "zed"), map[string]color.RGBA{"rock/a.png": red, "fist/b.png": red})
	code, _, stderr := evalRun(t, "--sources-in", filepath.Dir(src), "--model", model, "--ort-lib", lib)
	if code != exitUsage || !strings.Contains(stderr, `is in folder "fist", which is not one of the model's classes (rock, paper, scissors, none)`) {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}

// TestEvalTestsListsEveryTestPart: --tests makes one row per default
// source's test part, the upstream splits whole and the held-out parts
// only (parikshitkumar1's last frames here), from a generated shared tree.
func TestEvalTestsListsEveryTestPart(t *testing.T) {
	shared := t.TempDir()
	files := map[string]color.RGBA{
		"data/rps-cgi/test/rock/a.png":             red,
		"data/rps-real/sxsw/test/paper/b.png":      red,
		"data/rps-real/subhih/test/none/c.png":     black,
		"data/rps-real/drgfreeman/rock/d.png":      red,
		"data/rps-real/signdigits/paper/e.png":     red,
		"data/rps-real/parikshitkumar1/rock/f.png": red,
	}
	for n := 1; n <= 50; n++ {
		files[filepath.Join("data/rps-real/parikshitkumar1/none", strconv.Itoa(n)+"__x.png")] = black
	}
	imageTree(t, shared, files)
	imgs, dirs, sources, err := evaluate.TestImages(shared)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	rows := map[string][]string{}
	for _, s := range sources {
		names = append(names, s.Name)
	}
	for _, im := range imgs {
		rows[im.Group] = append(rows[im.Group], im.Class+"/"+filepath.Base(im.Path))
	}
	want := []string{"cgi-test", "drgfreeman-heldout", "sxsw-test", "subhih-test", "parikshitkumar1-heldout", "signdigits-heldout"}
	if strings.Join(names, " ") != strings.Join(want, " ") || len(dirs) != len(want) {
		t.Fatalf("rows %v (%d folders), want %v", names, len(dirs), want)
	}
	if got := strings.Join(rows["subhih-test"], " "); got != "none/c.png" {
		t.Errorf("subhih-test row: %s", got)
	}
	// parikshitkumar1: 50 none frames are two 25-frame blocks; the last
	// (frames 26-50) is held out; the single rock frame is its own class's
	// only block, so it is held out too.
	if got := len(rows["parikshitkumar1-heldout"]); got != 26 {
		t.Errorf("parikshitkumar1-heldout has %d images, want 26: %v", got, rows["parikshitkumar1-heldout"])
	}
	for _, r := range rows["parikshitkumar1-heldout"] {
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(r, "none/"), "%d", &n); err == nil && n <= 25 {
			t.Errorf("%s held out, want only frames 26-50", r)
		}
	}
}
