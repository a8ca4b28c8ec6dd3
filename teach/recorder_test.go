package teach

import (
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
)

// A sample is the model's input: the centred square of the frame (or the
// ROI), resized to the input size, stored in OpenCV's BGR order.
func TestRecorderSavesTheModelInput(t *testing.T) {
	s, err := OpenSamples(t.TempDir(), fourClasses)
	if err != nil {
		t.Fatal(err)
	}
	c := infer.Contract{Width: 8, Height: 8, Channels: 3, Layout: infer.NHWC, Color: infer.RGB, Labels: fourClasses}
	rec, err := NewRecorder(s, c)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	// 24x8: left third blue, middle third red, right third green.
	frame := gocv.NewMatWithSize(8, 24, gocv.MatTypeCV8UC3)
	defer frame.Close()
	thirds := []color.RGBA{{B: 255}, {R: 255}, {G: 255}}
	for i, col := range thirds {
		r := frame.Region(image.Rect(8*i, 0, 8*i+8, 8))
		r.SetTo(gocv.NewScalar(float64(col.B), float64(col.G), float64(col.R), 0))
		r.Close()
	}
	check := func(roi image.Rectangle, want color.RGBA) {
		t.Helper()
		path, err := rec.Add("rock", frame, roi)
		if err != nil {
			t.Fatal(err)
		}
		img := gocv.IMRead(path, gocv.IMReadColor)
		defer img.Close()
		if img.Cols() != 8 || img.Rows() != 8 {
			t.Fatalf("sample is %dx%d, want the model's 8x8", img.Cols(), img.Rows())
		}
		for y := range 8 {
			for x := range 8 {
				v := img.GetVecbAt(y, x)
				if v[0] != want.B || v[1] != want.G || v[2] != want.R {
					t.Fatalf("roi %v pixel (%d,%d) = BGR %v, want %v", roi, x, y, v, want)
				}
			}
		}
	}
	check(image.Rectangle{}, thirds[1])        // centred square: the red middle
	check(image.Rect(16, 0, 24, 8), thirds[2]) // the ROI: green
	if _, err := rec.Add("rock", frame, image.Rect(20, 0, 30, 8)); err == nil {
		t.Error("an ROI outside the frame was saved")
	}
	if got := s.Counts()["rock"]; got != 2 {
		t.Errorf("Counts[rock] = %d, want 2", got)
	}
	rec.Close()
	if _, err := rec.Add("rock", frame, image.Rectangle{}); err == nil {
		t.Error("Add after Close succeeded")
	}
}
