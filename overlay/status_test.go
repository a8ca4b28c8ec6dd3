package overlay

import (
	"image"
	"testing"
)

// TestDrawStatusMatchesDrawBanner: DrawStatus changes only the banner strip
// and draws it pixel for pixel as Draw does with the same status.
func TestDrawStatusMatchesDrawBanner(t *testing.T) {
	const w, h = 640, 480
	s := rpsState()
	s.Status = "reconnecting to 0 (attempt 2)…"
	full, l := draw(t, w, h, s)

	img := uniform(w, h, grey)
	defer img.Close()
	d := NewDrawer()
	defer d.Close()
	if err := d.DrawStatus(&img, s.Status); err != nil {
		t.Fatal(err)
	}
	only := snapshot(t, img)
	if ch := changedBounds(only, image.Rect(0, 0, w, h), grey); ch.Empty() || !ch.In(l.banner) {
		t.Fatalf("DrawStatus changed %v, want pixels inside the banner %v only", ch, l.banner)
	}
	for y := l.banner.Min.Y; y < l.banner.Max.Y; y++ {
		for x := l.banner.Min.X; x < l.banner.Max.X; x++ {
			if only.at(x, y) != full.at(x, y) {
				t.Fatalf("pixel (%d,%d) = %v, Draw gives %v", x, y, only.at(x, y), full.at(x, y))
			}
		}
	}

	// An empty status draws nothing; bad images and a closed drawer are errors.
	blank := uniform(32, 32, grey)
	defer blank.Close()
	if err := d.DrawStatus(&blank, ""); err != nil {
		t.Fatal(err)
	}
	if ch := changedBounds(snapshot(t, blank), image.Rect(0, 0, 32, 32), grey); !ch.Empty() {
		t.Fatalf("empty status changed %v", ch)
	}
	if err := d.DrawStatus(nil, "x"); err == nil {
		t.Fatal("nil image accepted")
	}
	d.Close()
	if err := d.DrawStatus(&blank, "x"); err != ErrClosed {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

// TestBannerOnTinyFrames: a frame smaller than the banner (a 16x16 test
// frame, a thumbnail) gets the part of the banner that fits, not an OpenCV
// abort of the whole process; one Drawer follows the sizes.
func TestBannerOnTinyFrames(t *testing.T) {
	banner := NewDrawer()
	defer banner.Close()
	for _, size := range []image.Point{{16, 16}, {4, 2}, {200, 12}} {
		img := uniform(size.X, size.Y, grey)
		if err := banner.DrawStatus(&img, "recording ROCK: 3 frames"); err != nil {
			t.Fatal(err)
		}
		got := snapshot(t, img)
		img.Close()
		if ch := changedBounds(got, image.Rect(0, 0, size.X, size.Y), grey); !ch.Eq(image.Rect(0, 0, size.X, size.Y)) {
			t.Errorf("%v frame: banner covered %v, want all of it", size, ch)
		}
	}
	// Draw itself (label panel, bars, banner) on a tiny frame.
	s := rpsState()
	s.Status = "paused"
	tiny := uniform(16, 16, grey)
	defer tiny.Close()
	d := NewDrawer()
	defer d.Close()
	if err := d.Draw(&tiny, s); err != nil {
		t.Fatal(err)
	}
}
