package train

import (
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"

	"gocv.io/x/gocv"
)

// syntheticNoneName is the source name of the generated empty scenes.
const syntheticNoneName = "synthetic-none"

// writeSyntheticNone writes n generated empty scenes into dir/none/ as PNG
// files and returns them as a training source. They teach the none class
// what the photographed empty boxes cannot cover alone: a bare wall of any
// colour, a dim or noisy frame, a room-like clutter of flat shapes (the
// augmenter's syntheticBackground). Files are the same for the same n and
// seed; existing ones are kept, so a rerun costs nothing.
func writeSyntheticNone(dir string, n int, seed uint64) (Source, error) {
	none := filepath.Join(dir, Labels[noHand])
	if err := os.MkdirAll(none, 0o755); err != nil {
		return Source{}, fmt.Errorf("synthetic none scenes: %w", err)
	}
	const side = 224
	for i := range n {
		path := filepath.Join(none, fmt.Sprintf("scene-%04d.png", i))
		if _, err := os.Stat(path); err == nil {
			continue
		}
		img := syntheticScene(side, newRand(seed, uint64(i)), i%3)
		ok := gocv.IMWrite(path, img)
		img.Close()
		if !ok {
			return Source{}, fmt.Errorf("synthetic none scenes: cannot write %s: check that the folder is writable and the disk not full", path)
		}
	}
	return Source{Name: syntheticNoneName, Dir: dir, Grouping: GroupNone}, nil
}

// syntheticScene draws one empty scene of the given kind: 0 a room-like
// background, 1 a bare wall lit from one side, 2 a dim, noisy frame.
func syntheticScene(side int, rng *rand.Rand, kind int) gocv.Mat {
	if kind == 0 {
		return syntheticBackground(side, side, rng)
	}
	img := gocv.NewMatWithSize(side, side, gocv.MatTypeCV8UC3)
	pix, _ := img.DataPtrUint8()
	base := [3]float64{rng.Float64() * 255, rng.Float64() * 255, rng.Float64() * 255}
	noise := 2 + rng.Float64()*6
	if kind == 2 {
		dim := 0.05 + rng.Float64()*0.35
		for k := range base {
			base[k] *= dim
		}
		noise = 4 + rng.Float64()*16
	}
	// Light falls off across the wall along a random direction.
	gx, gy := rng.Float64()*2-1, rng.Float64()*2-1
	fall := rng.Float64() * 0.5
	for y := range side {
		for x := range side {
			t := (gx*float64(x) + gy*float64(y)) / float64(side)
			light := 1 - fall*t
			for k := range 3 {
				pix[3*(y*side+x)+k] = clamp8(base[k]*light + rng.NormFloat64()*noise)
			}
		}
	}
	if kind == 1 {
		gocv.GaussianBlur(img, &img, image.Pt(0, 0), 0.8, 0, gocv.BorderReflect101)
	}
	return img
}
