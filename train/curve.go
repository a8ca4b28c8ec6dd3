package train

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"
)

// writeCurvePNG draws the training curves like the tutorial's two plots:
// accuracy (left) and loss (right) per epoch, training and validation, with
// the restored best epoch marked.
func writeCurvePNG(path string, hist []EpochStats) error {
	if len(hist) == 0 {
		return fmt.Errorf("no epochs to plot")
	}
	const pw, ph, margin = 420, 300, 50
	img := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 255, 255, 0), ph+2*margin, 2*(pw+margin)+margin, gocv.MatTypeCV8UC3)
	defer img.Close()
	trainCol := color.RGBA{R: 31, G: 119, B: 180, A: 255}
	valCol := color.RGBA{R: 255, G: 127, B: 14, A: 255}
	best := -1
	for i, h := range hist {
		if h.Best {
			best = i
		}
	}
	panel := func(x0 int, title string, get func(EpochStats) (float64, float64)) {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, h := range hist {
			a, b := get(h)
			for _, v := range []float64{a, b} {
				if !math.IsNaN(v) {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
		if hi-lo < 1e-6 {
			hi, lo = hi+0.5, lo-0.5
		}
		pad := (hi - lo) * 0.05
		lo, hi = lo-pad, hi+pad
		px := func(i int) int {
			if len(hist) == 1 {
				return x0 + pw/2
			}
			return x0 + i*pw/(len(hist)-1)
		}
		py := func(v float64) int { return margin + int(float64(ph)*(hi-v)/(hi-lo)) }
		black := color.RGBA{A: 255}
		grey := color.RGBA{R: 200, G: 200, B: 200, A: 255}
		gocv.Rectangle(&img, image.Rect(x0, margin, x0+pw, margin+ph), black, 1)
		for k := 0; k <= 4; k++ {
			v := lo + (hi-lo)*float64(k)/4
			y := py(v)
			gocv.Line(&img, image.Pt(x0, y), image.Pt(x0+pw, y), grey, 1)
			gocv.PutText(&img, fmt.Sprintf("%.3g", v), image.Pt(x0-45, y+4), gocv.FontHersheySimplex, 0.35, black, 1)
		}
		if best >= 0 {
			gocv.Line(&img, image.Pt(px(best), margin), image.Pt(px(best), margin+ph), color.RGBA{R: 44, G: 160, B: 44, A: 255}, 1)
		}
		for i := range hist {
			a, b := get(hist[i])
			gocv.Circle(&img, image.Pt(px(i), py(a)), 2, trainCol, -1)
			if !math.IsNaN(b) {
				gocv.Circle(&img, image.Pt(px(i), py(b)), 2, valCol, -1)
			}
			if i == 0 {
				continue
			}
			pa, pb := get(hist[i-1])
			gocv.Line(&img, image.Pt(px(i-1), py(pa)), image.Pt(px(i), py(a)), trainCol, 2)
			if !math.IsNaN(b) && !math.IsNaN(pb) {
				gocv.Line(&img, image.Pt(px(i-1), py(pb)), image.Pt(px(i), py(b)), valCol, 2)
			}
		}
		gocv.PutText(&img, title, image.Pt(x0, margin-25), gocv.FontHersheySimplex, 0.6, black, 1)
		gocv.PutText(&img, fmt.Sprintf("epoch (1..%d)", len(hist)), image.Pt(x0+pw/2-40, margin+ph+30), gocv.FontHersheySimplex, 0.45, black, 1)
	}
	panel(margin, "Training and Validation Accuracy", func(h EpochStats) (float64, float64) { return h.Accuracy, h.ValAccuracy })
	panel(2*margin+pw, "Training and Validation Loss", func(h EpochStats) (float64, float64) { return h.Loss, h.ValLoss })
	legendY := ph + 2*margin - 8
	gocv.PutText(&img, "training", image.Pt(margin, legendY), gocv.FontHersheySimplex, 0.45, trainCol, 1)
	gocv.PutText(&img, "validation", image.Pt(margin+90, legendY), gocv.FontHersheySimplex, 0.45, valCol, 1)
	gocv.PutText(&img, "best epoch (restored)", image.Pt(margin+200, legendY), gocv.FontHersheySimplex, 0.45, color.RGBA{R: 44, G: 160, B: 44, A: 255}, 1)
	if !gocv.IMWrite(path, img) {
		return fmt.Errorf("writing %s failed: check the folder exists and the name ends in .png", path)
	}
	return nil
}
