//go:build matprofile

package infer

import (
	"bytes"
	"image"
	"testing"

	"gocv.io/x/gocv"
)

// Run with: go test -tags matprofile ./infer/
//
// Every Mat infer creates (the Preprocessor's resize/convert Mats and the
// per-frame region header) must be closed by Close or within Classify.
func TestMatsClosed(t *testing.T) {
	requireORT(t)
	path := writeModel(t, t.TempDir(), "rps.onnx", rpsModel().build())
	frame := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(10, 20, 200, 0), 480, 640, gocv.MatTypeCV8UC3)
	defer frame.Close()
	bgra := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(10, 20, 200, 255), 480, 640, gocv.MatTypeCV8UC4)
	defer bgra.Close()
	start := gocv.MatProfile.Count()

	c, err := Load(path, WithDevice(DeviceCPU))
	if err != nil {
		t.Fatal(err)
	}
	if during := gocv.MatProfile.Count(); during != start+3 {
		t.Errorf("after Load: %d Mats open, want %d (the three reusable preprocessing Mats)", during, start+3)
	}
	for i, f := range []gocv.Mat{frame, bgra, frame} {
		if _, err := c.Classify(f, image.Rectangle{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Classify(f, image.Rect(600, 0, 700, 10)); err == nil {
			t.Fatalf("frame %d: roi outside accepted", i)
		}
	}
	if during := gocv.MatProfile.Count(); during != start+3 {
		t.Errorf("after Classify: %d Mats open, want %d", during, start+3)
	}
	c.Close()

	p, err := NewPreprocessor(Contract{Width: 8, Height: 8, Channels: 1, Layout: NCHW, Scale: [3]float32{1, 1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.IntoFloat32(frame, image.Rect(1, 1, 5, 5), make([]float32, 64)); err != nil {
		t.Fatal(err)
	}
	p.Close()

	if end := gocv.MatProfile.Count(); end != start {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Fatalf("Mat count %d after Close, want %d; open Mats:\n%s", end, start, b.String())
	}
}
