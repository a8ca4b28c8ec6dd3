package cvdnn

import (
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/tinymodel"
)

// compareWithORT classifies frames with ONNX Runtime on the original model
// and OpenCV on its export and fails on any probability apart by more than tol.
func compareWithORT(t *testing.T, original string, frames []gocv.Mat, tol float64) {
	t.Helper()
	if _, err := ort.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not installed (%v)", err)
	}
	exported := filepath.Join(t.TempDir(), "opencv.onnx")
	if err := Export(original, exported); err != nil {
		t.Fatal(err)
	}
	cv, err := Load(exported)
	if err != nil {
		t.Fatal(err)
	}
	defer cv.Close()
	rt, err := infer.Load(original, infer.WithDevice(infer.DeviceCPU), infer.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if strings.Join(cv.Labels(), ",") != strings.Join(rt.Labels(), ",") {
		t.Fatalf("labels %v, ONNX Runtime's %v", cv.Labels(), rt.Labels())
	}
	for i, f := range frames {
		want, err := rt.Classify(f, image.Rectangle{})
		if err != nil {
			t.Fatal(err)
		}
		wantProbs := append([]float32(nil), want.Probs...)
		got, err := cv.Classify(f, image.Rectangle{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Top != want.Top {
			t.Errorf("frame %d: OpenCV says %s, ONNX Runtime %s", i, got.Label, want.Label)
		}
		for k := range wantProbs {
			if d := math.Abs(float64(got.Probs[k] - wantProbs[k])); d > tol {
				t.Errorf("frame %d class %d: OpenCV %v, ONNX Runtime %v", i, k, got.Probs[k], wantProbs[k])
			}
		}
	}
}

func solid(w, h int, bgr ...float64) gocv.Mat {
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	m.SetTo(gocv.NewScalar(bgr[0], bgr[1], bgr[2], 0))
	return m
}

func TestTinyModelMatchesONNXRuntime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := tinymodel.Write(path, tinymodel.RPSShaped(8)); err != nil {
		t.Fatal(err)
	}
	var frames []gocv.Mat
	for _, c := range [][3]float64{{0, 0, 255}, {0, 255, 0}, {255, 0, 0}, {40, 90, 200}, {128, 128, 128}} {
		frames = append(frames, solid(32, 24, c[:]...))
	}
	defer func() {
		for _, f := range frames {
			f.Close()
		}
	}()
	compareWithORT(t, path, frames, 1e-6)

	// The exact figures: red (255,0,0 RGB) is (1,-1,-1) normalised, (8,-6,-6)
	// convolved, (6,0,0) clipped, so logits (6, 0.1, 0.2).
	exported := filepath.Join(t.TempDir(), "cv.onnx")
	if err := Export(path, exported); err != nil {
		t.Fatal(err)
	}
	cv, err := Load(exported)
	if err != nil {
		t.Fatal(err)
	}
	defer cv.Close()
	r, err := cv.Classify(frames[0], image.Rectangle{})
	if err != nil {
		t.Fatal(err)
	}
	e := []float64{math.Exp(6), math.Exp(0.1), math.Exp(0.2)}
	want := e[0] / (e[0] + e[1] + e[2])
	if r.Label != "rock" || math.Abs(float64(r.Confidence)-want) > 1e-5 {
		t.Fatalf("red: %s %v, want rock %v", r.Label, r.Confidence, want)
	}
}

func TestShippedModelMatchesONNXRuntime(t *testing.T) {
	shipped := filepath.Join("..", "models", "rps_mobilenetv2.onnx")
	if _, err := os.Stat(shipped); err != nil {
		t.Skipf("%s not built (scripts/setup.sh builds it)", shipped)
	}
	var frames []gocv.Mat
	for i, c := range [][3]float64{{0, 0, 255}, {60, 120, 200}, {30, 30, 30}} {
		m := solid(640, 480, c[:]...)
		// Some structure, so the features are not those of a flat colour.
		gocv.Circle(&m, image.Pt(320, 240), 60+40*i, color.RGBA{160, 180, 200, 0}, -1)
		gocv.Rectangle(&m, image.Rect(250, 100, 300, 380), color.RGBA{90, 60, 20, 0}, -1)
		frames = append(frames, m)
	}
	defer func() {
		for _, f := range frames {
			f.Close()
		}
	}()
	compareWithORT(t, shipped, frames, 1e-4)
}

func TestExportRefusesOtherModels(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mean.onnx")
	if err := tinymodel.WriteMeanColour(path, 8); err != nil {
		t.Fatal(err)
	}
	err := Export(path, filepath.Join(dir, "out.onnx"))
	if err == nil || !strings.Contains(err.Error(), "not rpscam's float model") {
		t.Fatalf("Export of a model without the input steps: %v", err)
	}
	junk := filepath.Join(dir, "junk.onnx")
	if err := os.WriteFile(junk, []byte("not a model at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Export(junk, filepath.Join(dir, "out.onnx")); err == nil {
		t.Fatal("Export of a junk file succeeded")
	}
	if _, err := Load(junk); err == nil {
		t.Fatal("Load of a junk file succeeded")
	}
	// A graph OpenCV cannot import comes back as an error, not an abort.
	if _, err := readONNX([]byte{0x3a, 0x04, 0x0a, 0x02, 0x0a, 0x00}); err == nil {
		t.Fatal("readONNX of a broken graph succeeded")
	}
}
