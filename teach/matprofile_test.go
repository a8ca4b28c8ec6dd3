//go:build matprofile

package teach

import (
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
)

// Recording samples leaves no Mat open.
func TestMatProfileRecorder(t *testing.T) {
	before := gocv.MatProfile.Count()
	func() {
		s, err := OpenSamples(t.TempDir(), fourClasses)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := NewRecorder(s, infer.Contract{Width: 16, Height: 16, Channels: 3, Layout: infer.NHWC, Color: infer.RGB})
		if err != nil {
			t.Fatal(err)
		}
		defer rec.Close()
		frame := solid(t, 64, 48, color.RGBA{R: 1, G: 2, B: 3})
		defer frame.Close()
		for range 5 {
			if _, err := rec.Add("paper", frame, image.Rectangle{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := rec.Add("paper", frame, image.Rect(60, 0, 70, 10)); err == nil {
			t.Fatal("an ROI outside the frame was saved")
		}
	}()
	if n := gocv.MatProfile.Count() - before; n != 0 {
		t.Errorf("%d Mats left open", n)
	}
}
