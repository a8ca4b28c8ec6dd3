//go:build matprofile

package parts_test

import (
	"context"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/capture/capturetest"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/tinymodel"
	"github.com/rpscam/rpscam/overlay"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/pipeline/parts"
)

// TestRealPartsNoLeakedMats runs capture's file-like and live fakes through
// the staged ONNX classifier and the overlay, then closes everything: gocv's
// open-Mat count must be back where it started.
// Run with: go test -tags matprofile ./pipeline/parts/
func TestRealPartsNoLeakedMats(t *testing.T) {
	if _, err := ort.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not installed (%v)", err)
	}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := tinymodel.WriteMeanColour(path, 16); err != nil {
		t.Fatal(err)
	}
	before := gocv.MatProfile.Count()
	for _, live := range []bool{false, true} {
		func() {
			cls, err := infer.Load(path, infer.WithDevice(infer.DeviceCPU))
			if err != nil {
				t.Fatal(err)
			}
			defer cls.Close()
			var src capture.Source
			if live {
				src = capturetest.NewFakeLive(320, 240, 500, primaries)
			} else {
				src = capturetest.NewFake(320, 240, 40, primaries)
			}
			defer src.Close()
			drawer := overlay.NewDrawer()
			defer drawer.Close()
			ann := parts.NewAnnotator(drawer, 16, 16)
			p, err := pipeline.New(parts.Source(src), parts.Classifier(cls), pipeline.WithAnnotator(ann), pipeline.WithMaxFrames(30))
			if err != nil {
				t.Fatal(err)
			}
			st, err := p.Run(context.Background())
			if err != nil || st.Frames != 30 {
				t.Fatalf("live=%v: frames %d err %v", live, st.Frames, err)
			}
		}()
	}
	if after := gocv.MatProfile.Count(); after != before {
		t.Fatalf("%d Mats open before, %d after", before, after)
	}
}
