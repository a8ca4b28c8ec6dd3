package evaluate

import (
	"fmt"
	"image"
	"image/color"
	"path/filepath"
	"slices"
	"strings"

	"gocv.io/x/gocv"
)

// confusionExts are the image formats every OpenCV build rpscam runs on
// writes. OpenCV picks the encoder by extension and throws a C++ exception
// for one it has none for, which gocv does not catch: the process aborts.
var confusionExts = []string{".png", ".jpg", ".jpeg", ".bmp"}

// CheckConfusionPath refuses a --confusion file name OpenCV cannot write an
// image to, so that rpscam eval can say so before it scores anything.
func CheckConfusionPath(path string) error {
	ext := strings.ToLower(filepath.Ext(path))
	if slices.Contains(confusionExts, ext) {
		return nil
	}
	return dataErrorf("--confusion %s: cannot write a confusion image to a %q file: use .png, e.g. --confusion %s",
		path, ext, strings.TrimSuffix(path, filepath.Ext(path))+".png")
}

// WriteConfusionPNG draws the confusion matrix as a heat map with counts and
// row-normalised percentages, labels and the accuracy in the title, to an
// image file CheckConfusionPath accepts.
func (r report) WriteConfusionPNG(path, title string) error {
	if err := CheckConfusionPath(path); err != nil {
		return err // gocv.IMWrite would abort the process
	}
	k := len(r.Labels)
	const cell, left, top = 120, 110, 80
	w, h := left+k*cell+20, top+k*cell+40
	img := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 255, 255, 0), h, w, gocv.MatTypeCV8UC3)
	defer img.Close()
	black := color.RGBA{A: 255}
	font := gocv.FontHersheySimplex
	gocv.PutText(&img, fmt.Sprintf("%s  accuracy %.2f%% (n=%d)", title, 100*r.Accuracy, r.N), image.Pt(10, 25), font, 0.55, black, 1)
	gocv.PutText(&img, "predicted", image.Pt(left+k*cell/2-40, top-30), font, 0.5, black, 1)
	for i := 0; i < k; i++ {
		gocv.PutText(&img, r.Labels[i], image.Pt(left+i*cell+10, top-8), font, 0.5, black, 1)
		gocv.PutText(&img, r.Labels[i], image.Pt(8, top+i*cell+cell/2+5), font, 0.5, black, 1)
		rowSum := 0
		for _, v := range r.Confusion[i] {
			rowSum += v
		}
		for j := 0; j < k; j++ {
			frac := 0.0
			if rowSum > 0 {
				frac = float64(r.Confusion[i][j]) / float64(rowSum)
			}
			// White to blue; correct cells on the diagonal, errors in red.
			shade := uint8(255 - 200*frac)
			fill := color.RGBA{R: shade, G: shade, B: 255, A: 255}
			if i != j && r.Confusion[i][j] > 0 {
				fill = color.RGBA{R: 255, G: shade, B: shade, A: 255}
			}
			rect := image.Rect(left+j*cell, top+i*cell, left+(j+1)*cell, top+(i+1)*cell)
			gocv.Rectangle(&img, rect, fill, -1)
			gocv.Rectangle(&img, rect, color.RGBA{R: 160, G: 160, B: 160, A: 255}, 1)
			txt := black
			if frac > 0.6 {
				txt = color.RGBA{R: 255, G: 255, B: 255, A: 255}
			}
			gocv.PutText(&img, fmt.Sprintf("%d", r.Confusion[i][j]), image.Pt(rect.Min.X+12, rect.Min.Y+50), font, 0.8, txt, 2)
			gocv.PutText(&img, fmt.Sprintf("%.1f%%", 100*frac), image.Pt(rect.Min.X+12, rect.Min.Y+85), font, 0.5, txt, 1)
		}
	}
	gocv.PutText(&img, "rows: actual", image.Pt(10, h-12), font, 0.45, black, 1)
	if !gocv.IMWrite(path, img) {
		return fmt.Errorf("writing %s failed: check the folder exists and the name ends in .png", path)
	}
	return nil
}
