package main

import (
	"bytes"
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/ort"
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
	jsonPath := filepath.Join(dir, "out", "report.json")
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
