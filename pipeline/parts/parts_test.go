package parts_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture/capturetest"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/tinymodel"
	"github.com/rpscam/rpscam/overlay"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/pipeline/parts"
)

// primaries paints frame i red, green or blue (BGR scalars) in turn.
func primaries(seq int, m *gocv.Mat) {
	c := [3]gocv.Scalar{gocv.NewScalar(0, 0, 255, 0), gocv.NewScalar(0, 255, 0, 0), gocv.NewScalar(255, 0, 0, 0)}[seq%3]
	m.SetTo(c)
}

func loadTiny(t testing.TB) *infer.Classifier {
	t.Helper()
	if _, err := ort.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not installed (%v)", err)
	}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := tinymodel.WriteMeanColour(path, 8); err != nil {
		t.Fatal(err)
	}
	cls, err := infer.Load(path, infer.WithDevice(infer.DeviceCPU), infer.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cls.Close() })
	return cls
}

// TestRealPartsPredictEveryFrame runs capture's fake file source through the
// real ONNX classifier (the tiny mean-colour model) and the real overlay:
// every frame comes out in order with the class of its colour, and the
// overlay has drawn the ROI box.
func TestRealPartsPredictEveryFrame(t *testing.T) {
	cls := loadTiny(t)
	src := capturetest.NewFake(640, 480, 12, primaries)
	defer src.Close()
	drawer := overlay.NewDrawer()
	defer drawer.Close()
	ann := parts.NewAnnotator(drawer, 8, 8)
	ann.SetRecording(true)
	var labels []string
	var probs [][]float32
	var roiPixel []gocv.Vecb
	roi := infer.CentreSquare(640, 480)
	sink := pipeline.SinkFunc(func(a *pipeline.Annotated) error {
		labels = append(labels, a.Decision.Label)
		probs = append(probs, append([]float32(nil), a.Probs...))
		// The ROI outline's right edge, halfway down (the panel darkens the left).
		roiPixel = append(roiPixel, a.Mat.GetVecbAt(roi.Min.Y+roi.Dy()/2, roi.Max.X))
		return nil
	})
	p, err := pipeline.New(parts.Source(src), parts.Classifier(cls), pipeline.WithAnnotator(ann), pipeline.WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 12 || len(labels) != 12 {
		t.Fatalf("frames %d, sink saw %d, want 12", st.Frames, len(labels))
	}
	for i, l := range labels {
		if want := tinymodel.Labels[i%3]; l != want {
			t.Errorf("frame %d: %q, want %q", i, l, want)
		}
		if probs[i][i%3] != 1 {
			t.Errorf("frame %d: probs %v, want exactly 1 for class %d", i, probs[i], i%3)
		}
	}
	want := roiColour()
	for i, px := range roiPixel {
		if px[0] != want[0] || px[1] != want[1] || px[2] != want[2] {
			t.Fatalf("frame %d: ROI edge pixel %v, want the overlay's ROI colour %v", i, px, want)
		}
	}
	if st.Stages[pipeline.StageInference].P50 <= 0 || st.Stages[pipeline.StagePreprocess].P50 <= 0 {
		t.Fatalf("the classifier's timings did not reach the stats: %+v", st.Stages)
	}
}

// roiColour is overlay.ROIRGB as a BGR pixel.
func roiColour() [3]uint8 {
	c := overlay.ROIRGB
	return [3]uint8{uint8(c), uint8(c >> 8), uint8(c >> 16)}
}

// TestExplicitROIIsWhatIsClassified paints the ROI green on red frames.
func TestExplicitROIIsWhatIsClassified(t *testing.T) {
	cls := loadTiny(t)
	roi := image.Rect(100, 20, 150, 70)
	src := capturetest.NewFake(160, 120, 3, func(seq int, m *gocv.Mat) {
		m.SetTo(gocv.NewScalar(0, 0, 255, 0))
		r := m.Region(roi)
		r.SetTo(gocv.NewScalar(0, 255, 0, 0))
		r.Close()
	})
	defer src.Close()
	var labels []string
	p, err := pipeline.New(parts.Source(src), parts.Classifier(cls), pipeline.WithROI(roi),
		pipeline.WithSinks(pipeline.SinkFunc(func(a *pipeline.Annotated) error {
			labels = append(labels, a.Decision.Label)
			return nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, l := range labels {
		if l != "paper" {
			t.Fatalf("frame %d: %q, want paper (the green ROI)", i, l)
		}
	}
	if len(labels) != 3 {
		t.Fatalf("%d frames, want 3", len(labels))
	}
}

func TestLiveSourceDropsAreReported(t *testing.T) {
	cls := loadTiny(t)
	src := capturetest.NewFakeLive(64, 48, 1000, primaries)
	defer src.Close()
	slow := pipeline.SinkFunc(func(a *pipeline.Annotated) error {
		// A consumer slower than the 1000 fps source: waiting for the source
		// to produce several frames makes it drop them deterministically.
		for before := src.Stats().Dropped; src.Stats().Dropped < before+2; {
			gocv.WaitKey(1) // a 1 ms sleep that does not need a window
		}
		return nil
	})
	p, err := pipeline.New(parts.Source(src), parts.Classifier(cls), pipeline.WithMaxFrames(5), pipeline.WithSinks(slow))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 5 || st.Dropped < 8 {
		t.Fatalf("frames %d dropped %d: want 5 frames and at least 8 drops reported", st.Frames, st.Dropped)
	}
}

// BenchmarkPipeline640x480 runs b.N frames of 640x480 through the real
// tiny model and the real overlay, reporting end-to-end frames per second;
// the model is trivial, so this measures the pipeline's own overhead
// (frame hand-off, preprocessing, overlay).
func BenchmarkPipeline640x480(b *testing.B) {
	if _, err := ort.FindLibrary(""); err != nil {
		b.Skipf("ONNX Runtime library not installed (%v)", err)
	}
	path := filepath.Join(b.TempDir(), "tiny.onnx")
	if err := tinymodel.WriteMeanColour(path, 224); err != nil {
		b.Fatal(err)
	}
	cls, err := infer.Load(path, infer.WithDevice(infer.DeviceCPU), infer.WithThreads(1))
	if err != nil {
		b.Fatal(err)
	}
	defer cls.Close()
	src := capturetest.NewFake(640, 480, b.N, nil)
	defer src.Close()
	drawer := overlay.NewDrawer()
	defer drawer.Close()
	p, err := pipeline.New(parts.Source(src), parts.Classifier(cls), pipeline.WithAnnotator(parts.NewAnnotator(drawer, 224, 224)))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	st, err := p.Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(st.FPS, "fps")
	b.ReportMetric(float64(st.Stages[pipeline.StagePreprocess].P50.Microseconds())/1000, "preprocess-p50-ms")
	b.ReportMetric(float64(st.Stages[pipeline.StageOverlay].P50.Microseconds())/1000, "overlay-p50-ms")
}

// TestStagedMatchesClassifier runs frames of mixed colours through the
// classifier's two steps (Preprocess, Infer) as the pipeline's two stages,
// on an instance made by Another, and compares with Classify on the same
// frames: the same probabilities, for a softmax model and for a logits model
// (where Infer applies the softmax).
func TestStagedMatchesClassifier(t *testing.T) {
	if _, err := ort.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not installed (%v)", err)
	}
	for _, kind := range []string{"softmax", "logits"} {
		m := tinymodel.MeanColour(8)
		if kind == "logits" {
			m = tinymodel.MeanColourLogits(8)
		}
		path := filepath.Join(t.TempDir(), kind+".onnx")
		if err := tinymodel.Write(path, m); err != nil {
			t.Fatal(err)
		}
		ref, err := infer.Load(path, infer.WithDevice(infer.DeviceCPU))
		if err != nil {
			t.Fatal(err)
		}
		staged, err := ref.Another()
		if err != nil {
			t.Fatal(err)
		}
		// Mixed colours give probabilities away from 0 and 1.
		draw := func(seq int, m *gocv.Mat) {
			m.SetTo(gocv.NewScalar(float64(seq*7%60), float64(seq*13%50), float64(seq*5%40), 0))
		}
		src := capturetest.NewFake(96, 64, 9, draw)
		var got [][]float32
		p, err := pipeline.New(parts.Source(src), parts.Classifier(staged), pipeline.WithSinks(pipeline.SinkFunc(func(a *pipeline.Annotated) error {
			got = append(got, append([]float32(nil), a.Probs...))
			return nil
		})))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(got) != 9 {
			t.Fatalf("%s: %d frames, want 9", kind, len(got))
		}
		frame := gocv.NewMatWithSize(64, 96, gocv.MatTypeCV8UC3)
		for i, probs := range got {
			draw(i, &frame)
			want, err := ref.Classify(frame, image.Rectangle{})
			if err != nil {
				t.Fatal(err)
			}
			var sum float32
			for k := range probs {
				sum += probs[k]
				if d := probs[k] - want.Probs[k]; d > 1e-6 || d < -1e-6 {
					t.Fatalf("%s frame %d: staged %v, classifier %v", kind, i, probs, want.Probs)
				}
			}
			if sum < 0.9999 || sum > 1.0001 || probs[0] > 0.99 {
				t.Fatalf("%s frame %d: probs %v: want a spread distribution summing to 1", kind, i, probs)
			}
		}
		frame.Close()
		src.Close()
		staged.Close()
		ref.Close()
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := ort.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not installed (%v)", err)
	}
	m := tinymodel.MeanColour(8)
	delete(m.Metadata, "labels")
	path := filepath.Join(t.TempDir(), "nolabels.onnx")
	if err := tinymodel.Write(path, m); err != nil {
		t.Fatal(err)
	}
	_, err := infer.Load(path, infer.WithDevice(infer.DeviceCPU))
	var me *infer.ModelError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "0 labels") {
		t.Fatalf("model without labels: %v, want a *infer.ModelError about labels", err)
	}
	if _, err := infer.Load(filepath.Join(t.TempDir(), "none.onnx")); !errors.As(err, &me) {
		t.Fatalf("missing model: %v", err)
	}
}

// TestAnnotatorRefreshesStatsFourTimesASecond: the FPS and inference-time
// figures hold still between refreshes (frames annotated within
// StatsRefresh show the first frame's figures) and change after one.
func TestAnnotatorRefreshesStatsFourTimesASecond(t *testing.T) {
	drawer := overlay.NewDrawer()
	defer drawer.Close()
	ann := parts.NewAnnotator(drawer, 224, 224)
	annotate := func(fps float64, inferMs int) []byte {
		img := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(90, 90, 90, 0), 480, 640, gocv.MatTypeCV8UC3)
		defer img.Close()
		a := pipeline.Annotated{Labels: []string{"rock", "paper", "scissors"}, Probs: []float32{0.8, 0.1, 0.1}, FPS: fps,
			Decision: pipeline.Decision{Top: 0, Confidence: 0.8}}
		a.Timings[pipeline.StageInference] = time.Duration(inferMs) * time.Millisecond
		if err := ann.Annotate(&img, &a); err != nil {
			t.Fatal(err)
		}
		return img.ToBytes()
	}
	start := time.Now()
	first := annotate(100, 4)
	second := annotate(57.5, 9)
	if time.Since(start) < parts.StatsRefresh && !bytes.Equal(first, second) {
		t.Error("figures changed on the next frame, within the refresh interval")
	}
	time.Sleep(parts.StatsRefresh)
	third := annotate(57.5, 9)
	if bytes.Equal(first, third) {
		t.Errorf("figures still the first frame's after %v", parts.StatsRefresh)
	}
}
