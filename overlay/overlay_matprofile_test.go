//go:build matprofile

package overlay

import (
	"image"
	"testing"

	"gocv.io/x/gocv"
)

// TestDrawReleasesMats checks, with gocv's Mat counter, that drawing
// allocates no Mat per frame once warmed up and that Close releases all the
// Drawer's scratch Mats. Run with: go test -tags matprofile ./overlay/
func TestDrawReleasesMats(t *testing.T) {
	start := gocv.MatProfile.Count()

	img := uniform(640, 480, grey)
	d := NewDrawer()
	s := rpsState()
	s.ROI = image.Rect(100, 100, 400, 400)
	s.Recording = true
	s.Status = "paused"
	if err := d.Draw(&img, s); err != nil {
		t.Fatal(err)
	}
	warm := gocv.MatProfile.Count()
	for i := 0; i < 20; i++ {
		if err := d.Draw(&img, s); err != nil {
			t.Fatal(err)
		}
	}
	if got := gocv.MatProfile.Count(); got != warm {
		t.Errorf("after 20 more frames %d Mats are open, want %d as after the first: Draw allocates per frame", got, warm)
	}

	// A new frame size and a non-continuous frame (a view) still release
	// what they create.
	big := uniform(1280, 720, grey)
	if err := d.Draw(&big, s); err != nil {
		t.Fatal(err)
	}
	view := big.Region(image.Rect(10, 10, 650, 490))
	for i := 0; i < 3; i++ {
		if err := d.Draw(&view, s); err != nil {
			t.Fatal(err)
		}
	}
	view.Close()
	big.Close()

	d.Close()
	img.Close()
	if got := gocv.MatProfile.Count(); got != start {
		t.Errorf("%d Mats open after Close, want %d as before the test", got, start)
	}
}
