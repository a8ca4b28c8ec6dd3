package parts_test

import (
	"context"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture/capturetest"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/tinymodel"
	"github.com/rpscam/rpscam/overlay"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/pipeline/parts"
)

// countBGR counts the pixels of m that are exactly the 0xRRGGBB colour hex.
func countBGR(m gocv.Mat, hex uint32) int {
	b, g, r := byte(hex), byte(hex>>8), byte(hex>>16)
	pix := m.ToBytes()
	n := 0
	for i := 0; i+2 < len(pix); i += 3 {
		if pix[i] == b && pix[i+1] == g && pix[i+2] == r {
			n++
		}
	}
	return n
}

// shownFrame is what one annotated frame showed.
type shownFrame struct {
	decision                        pipeline.Decision
	noHand, rock, uncertain, indigo int // pixels in each colour
}

// runColours runs frames of the given BGR colours through model (written to
// a file and loaded as rpscam loads it), with EMA smoothing (alpha 0.5) and
// threshold 0.6, and the real overlay; it reports what each frame showed.
func runColours(t *testing.T, model onnx.Model, colours []gocv.Scalar) []shownFrame {
	t.Helper()
	if _, err := ort.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not installed (%v)", err)
	}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := tinymodel.Write(path, model); err != nil {
		t.Fatal(err)
	}
	staged, err := infer.Load(path, infer.WithDevice(infer.DeviceCPU), infer.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer staged.Close()
	src := capturetest.NewFake(640, 480, len(colours), func(seq int, m *gocv.Mat) { m.SetTo(colours[seq]) })
	defer src.Close()
	drawer := overlay.NewDrawer()
	defer drawer.Close()
	var shown []shownFrame
	sink := pipeline.SinkFunc(func(a *pipeline.Annotated) error {
		shown = append(shown, shownFrame{
			decision:  a.Decision,
			noHand:    countBGR(a.Mat, overlay.NoHandRGB),
			rock:      countBGR(a.Mat, overlay.RockRGB),
			uncertain: countBGR(a.Mat, overlay.UncertainRGB),
			indigo:    countBGR(a.Mat, 0x7986CB), // the palette colour a fourth class would get
		})
		return nil
	})
	p, err := pipeline.New(parts.Source(src), parts.Classifier(staged), pipeline.WithAnnotator(parts.NewAnnotator(drawer, 8, 8)),
		pipeline.WithSmoother(pipeline.NewEMA(0.5)), pipeline.WithThreshold(0.6), pipeline.WithSinks(sink))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(shown) != len(colours) {
		t.Fatalf("%d frames shown, want %d", len(shown), len(colours))
	}
	return shown
}

var (
	blackBGR = gocv.NewScalar(0, 0, 0, 0)
	redBGR   = gocv.NewScalar(0, 0, 255, 0)
)

// TestNoHandThroughPipeline: a 4-class model's "none" (a black frame) is
// drawn as "no hand" in the overlay's neutral colour, smoothing still
// blends it with the gestures, and a frame halfway between is uncertain.
func TestNoHandThroughPipeline(t *testing.T) {
	shown := runColours(t, tinymodel.MeanColourNoHand(8), []gocv.Scalar{blackBGR, blackBGR, redBGR, redBGR})
	// EMA(0.5) of the top class: none 1, none 1, then 0.5 rock / 0.5 none
	// (below 0.6: uncertain), then rock 0.75.
	for i, want := range []struct {
		label     string
		uncertain bool
	}{{"none", false}, {"none", false}, {"", true}, {"rock", false}} {
		d, s := shown[i].decision, shown[i]
		if want.label != "" && d.Label != want.label || d.Uncertain != want.uncertain {
			t.Errorf("frame %d: decision %+v, want %q uncertain=%v", i, d, want.label, want.uncertain)
		}
		switch {
		case want.uncertain:
			if s.uncertain < 50 {
				t.Errorf("frame %d: uncertain, but %d pixels in the muted label colour", i, s.uncertain)
			}
		case want.label == "none":
			// The big label and the full "no hand" bar in the neutral
			// colour; no gesture's colour, nor the one "none" would get as
			// an ordinary fourth class.
			if s.noHand < 200 || s.rock != 0 || s.indigo != 0 || s.uncertain != 0 {
				t.Errorf("frame %d (none): %d neutral, %d rock, %d indigo, %d muted pixels; want the label and bar neutral and nothing else", i, s.noHand, s.rock, s.indigo, s.uncertain)
			}
		case want.label == "rock":
			if s.rock < 200 || s.uncertain != 0 || s.indigo != 0 {
				t.Errorf("frame %d (rock): %d rock, %d muted, %d indigo pixels", i, s.rock, s.uncertain, s.indigo)
			}
		}
	}
}

// TestThreeClassModelNeverShowsNoHand: the 3-class model on the same frames
// shows gestures only, as before.
func TestThreeClassModelNeverShowsNoHand(t *testing.T) {
	shown := runColours(t, tinymodel.MeanColour(8), []gocv.Scalar{blackBGR, redBGR, redBGR})
	for i, s := range shown {
		if s.noHand != 0 || infer.IsNoHand(s.decision.Label) {
			t.Errorf("frame %d: %+v with %d no-hand pixels; a 3-class model has no no-hand class", i, s.decision, s.noHand)
		}
	}
	// A black frame is a three-way tie (uniform 1/3): uncertain, as before.
	if d := shown[0].decision; !d.Uncertain || d.Label != "rock" {
		t.Errorf("black frame: %+v, want an uncertain rock (the first of three tied classes)", d)
	}
	if s := shown[2]; s.decision.Label != "rock" || s.decision.Uncertain || s.rock < 200 {
		t.Errorf("red frames: %+v with %d rock pixels, want a certain rock", s.decision, s.rock)
	}
}
