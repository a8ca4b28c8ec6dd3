package overlay

import (
	"fmt"
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"
)

// gradientFrame is a w x h frame of a pattern whose every pixel differs
// from its neighbours, so a blend that used the wrong background pixel would
// show; (ox, oy) shifts the pattern, so that a crop of a bigger frame can
// equal a smaller one.
func gradientFrame(w, h, ox, oy int) gocv.Mat {
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	px, _ := m.DataPtrUint8()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			gx, gy := x+ox, y+oy
			px[i], px[i+1], px[i+2] = uint8(gx*3+gy), uint8(gy*2+gx), uint8(250-gx-gy)
		}
	}
	return m
}

// TestCachedTextMatchesPutText: the mask path draws what OpenCV's
// anti-aliased putText draws, within rounding, for the big and small fonts.
// The reference is putText on a frame 40 pixels bigger on every side,
// cropped: where text runs off the frame's edge, OpenCV clips the glyph
// strokes before drawing them (and puts a round cap at the clip point),
// while the mask is the whole text cut at the edge, which is what is meant.
func TestCachedTextMatchesPutText(t *testing.T) {
	cases := []struct {
		text  string
		org   image.Point
		font  gocv.HersheyFont
		scale float64
		thick int
	}{
		{"PAPER 97%", image.Pt(12, 60), bigFont, 1.15, 2},
		{"? SCISSORS 41%", image.Pt(4, 130), bigFont, 0.9, 2},
		{"ROCK 100%", image.Pt(10, 40), bigFont, 1.5, 3},
		{"rock", image.Pt(30, 100), smallFont, 0.5, 1},
		{"100%", image.Pt(150, 120), smallFont, 0.38, 1},
		{"ROCK 88%", image.Pt(-15, 8), bigFont, 1.15, 2},   // off the top-left corner
		{"ROCK 88%", image.Pt(140, 150), bigFont, 1.15, 2}, // off the bottom-right corner
	}
	const w, h, pad = 200, 160, 40
	colour := color.RGBA{R: 250, G: 200, B: 40, A: 255}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s@%v", c.text, c.org), func(t *testing.T) {
			padded := gradientFrame(w+2*pad, h+2*pad, -pad, -pad)
			defer padded.Close()
			gocv.PutTextWithParams(&padded, c.text, c.org.Add(image.Pt(pad, pad)), c.font, c.scale, colour, c.thick, gocv.LineAA, false)
			want := padded.Region(image.Rect(pad, pad, pad+w, pad+h))
			defer want.Close()

			var tc textCache
			var got gocv.Mat
			for i := 0; i < 2; i++ { // the first call renders the mask, the second reuses it
				got.Close()
				got = gradientFrame(w, h, 0, 0)
				tc.draw(&got, c.text, c.org, c.font, c.scale, colour, c.thick)
			}
			defer got.Close()
			if len(tc.masks) != 1 {
				t.Fatalf("cache holds %d masks after drawing one string twice, want 1", len(tc.masks))
			}
			base := gradientFrame(w, h, 0, 0)
			defer base.Close()
			wf, gf, bf := snapshot(t, want.Clone()), snapshot(t, got), snapshot(t, base)
			changed, worst, sum := 0, 0, 0
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					pw, pg := wf.at(x, y), gf.at(x, y)
					if pw != bf.at(x, y) {
						changed++
					}
					d := max(absDiff(pw.R, pg.R), absDiff(pw.G, pg.G), absDiff(pw.B, pg.B))
					worst, sum = max(worst, d), sum+d
				}
			}
			if changed < 50 {
				t.Fatalf("putText changed only %d pixels of the frame: the case is wrong", changed)
			}
			// Partly covered pixels where several strokes overlap round
			// differently (OpenCV rounds after each stroke, the mask
			// once per stroke on its own 8 bits): a few levels, where a
			// misplaced mask is off by a hundred.
			if worst > 8 {
				t.Errorf("cached text differs from putText by up to %d levels, want at most 8", worst)
			}
			if mean := float64(sum) / float64(changed); mean > 1 {
				t.Errorf("cached text differs from putText by %.2f levels per drawn pixel on average, want at most 1", mean)
			}
		})
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// TestCachedTextOnViewFallsBack: a view into a bigger Mat is not one
// continuous block, so the cache leaves it to putText and caches nothing.
func TestCachedTextOnViewFallsBack(t *testing.T) {
	big := gradientFrame(300, 200, 0, 0)
	defer big.Close()
	view := big.Region(image.Rect(50, 40, 250, 160))
	defer view.Close()
	want := gradientFrame(300, 200, 0, 0)
	defer want.Close()
	wantView := want.Region(image.Rect(50, 40, 250, 160))
	defer wantView.Close()
	gocv.PutTextWithParams(&wantView, "SCISSORS 55%", image.Pt(10, 50), bigFont, 1.15, rgb(paperRGB), 2, gocv.LineAA, false)
	var tc textCache
	tc.draw(&view, "SCISSORS 55%", image.Pt(10, 50), bigFont, 1.15, rgb(paperRGB), 2)
	if len(tc.masks) != 0 {
		t.Errorf("a view was drawn through the cache (%d masks)", len(tc.masks))
	}
	if w, g := snapshot(t, want), snapshot(t, big); !framesEqual(w, g) {
		t.Error("text on a view differs from putText's")
	}
}

func framesEqual(a, b frame) bool {
	for y := 0; y < 200; y++ {
		for x := 0; x < 300; x++ {
			if a.at(x, y) != b.at(x, y) {
				return false
			}
		}
	}
	return true
}

// TestTextCacheIsBounded: a stream of distinct strings (a label set that
// changes every frame) never holds more than maxCachedTexts masks.
func TestTextCacheIsBounded(t *testing.T) {
	img := uniform(64, 48, grey)
	defer img.Close()
	var tc textCache
	for i := 0; i < maxCachedTexts+10; i++ {
		tc.draw(&img, fmt.Sprint(i), image.Pt(2, 20), smallFont, 0.4, rgb(textRGB), 1)
		if len(tc.masks) > maxCachedTexts {
			t.Fatalf("after %d strings the cache holds %d masks, over its bound %d", i+1, len(tc.masks), maxCachedTexts)
		}
	}
	if len(tc.masks) != 10 {
		t.Errorf("the cache holds %d masks after starting again, want the 10 drawn since", len(tc.masks))
	}
}
