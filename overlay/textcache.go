package overlay

import (
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"
)

// textCache draws anti-aliased text from coverage masks rendered once per
// string: putText strokes every glyph on every call, most of the overlay's
// time per frame (README, Performance), and the strings repeat. The result
// matches putText up to rounding on partly covered pixels; the mask holds
// the coverage 1-Π(1-aᵢ) of white strokes on black, in 8 bits.
type textCache struct {
	masks map[textKey]*textMask
}

type textKey struct {
	text  string
	font  gocv.HersheyFont
	scale float64
	thick int
}

// textMask is one string's coverage, 0..255, w*h bytes; (dx, dy) is the
// mask's top-left corner relative to the text's baseline-left origin. spans
// lists the runs of covered pixels, so that blending skips the empty
// majority of the text box without looking at it.
type textMask struct {
	cover  []uint8
	w, h   int
	dx, dy int
	spans  []span
}

// span is the covered pixels x0 <= x < x1 of mask row y.
type span struct{ y, x0, x1 int }

// maxCachedTexts bounds the cache: three classes' labels at 101
// percentages, certain and uncertain, plus the bar texts fit well within
// it. Past it the cache starts again, so a label set that changes every
// frame costs a render per string, never unbounded memory.
const maxCachedTexts = 1024

// draw puts text on img with its baseline-left corner at org, like
// gocv.PutTextWithParams with gocv.LineAA. img must be 8-bit BGR; a
// non-continuous img (a view into a bigger Mat) is drawn by putText.
func (tc *textCache) draw(img *gocv.Mat, text string, org image.Point, font gocv.HersheyFont, scale float64, c color.RGBA, thick int) {
	data, err := img.DataPtrUint8()
	if err != nil || !img.IsContinuous() || len(data) != img.Rows()*img.Cols()*3 {
		gocv.PutTextWithParams(img, text, org, font, scale, c, thick, gocv.LineAA, false)
		return
	}
	k := textKey{text: text, font: font, scale: scale, thick: thick}
	m := tc.masks[k]
	if m == nil {
		if tc.masks == nil || len(tc.masks) >= maxCachedTexts {
			tc.masks = make(map[textKey]*textMask)
		}
		m = renderTextMask(text, font, scale, thick)
		tc.masks[k] = m
	}
	m.blend(data, img.Cols(), img.Rows(), org, c)
}

// renderTextMask strokes text in white on a black single-channel canvas
// with room around the text box for the stroke width and anti-aliasing.
func renderTextMask(text string, font gocv.HersheyFont, scale float64, thick int) *textMask {
	w, h, base := textSize(text, font, scale, thick)
	margin := thick + 2 + int(math.Ceil(scale))
	m := &textMask{w: w + 2*margin, h: h + base + 2*margin, dx: -margin, dy: -h - margin}
	canvas := gocv.NewMatWithSize(m.h, m.w, gocv.MatTypeCV8UC1)
	defer canvas.Close()
	canvas.SetTo(gocv.NewScalar(0, 0, 0, 0))
	gocv.PutTextWithParams(&canvas, text, image.Pt(margin, margin+h), font, scale, color.RGBA{R: 255, G: 255, B: 255, A: 255}, thick, gocv.LineAA, false)
	px, err := canvas.DataPtrUint8()
	if err == nil {
		m.cover = append([]uint8(nil), px...)
	}
	for y := 0; y < m.h && len(m.cover) == m.w*m.h; y++ {
		row := m.cover[y*m.w : (y+1)*m.w]
		for x := 0; x < m.w; {
			if row[x] == 0 {
				x++
				continue
			}
			x0 := x
			for x < m.w && row[x] != 0 {
				x++
			}
			m.spans = append(m.spans, span{y: y, x0: x0, x1: x})
		}
	}
	return m
}

// blend draws the mask in colour c onto a continuous BGR image of
// cols x rows pixels (data), clipped to the image.
func (m *textMask) blend(data []uint8, cols, rows int, org image.Point, c color.RGBA) {
	x0, y0 := org.X+m.dx, org.Y+m.dy
	colour := [3]uint32{uint32(c.B), uint32(c.G), uint32(c.R)}
	for _, sp := range m.spans {
		y := y0 + sp.y
		if y < 0 || y >= rows {
			continue
		}
		from, to := max(sp.x0, -x0), min(sp.x1, cols-x0)
		if from >= to {
			continue
		}
		cover := m.cover[sp.y*m.w+from : sp.y*m.w+to]
		px := data[(y*cols+x0+from)*3 : (y*cols+x0+to)*3]
		for i, a8 := range cover {
			p := px[3*i : 3*i+3 : 3*i+3]
			if a8 == 255 {
				p[0], p[1], p[2] = uint8(colour[0]), uint8(colour[1]), uint8(colour[2])
				continue
			}
			a := uint32(a8)
			p[0] = uint8((uint32(p[0])*(255-a) + colour[0]*a + 127) / 255)
			p[1] = uint8((uint32(p[1])*(255-a) + colour[1]*a + 127) / 255)
			p[2] = uint8((uint32(p[2])*(255-a) + colour[2]*a + 127) / 255)
		}
	}
}
