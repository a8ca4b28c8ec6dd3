package train

import (
	"math"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"
)

func TestWriteCurvePNG(t *testing.T) {
	hist := []EpochStats{
		{Epoch: 1, Loss: 1, Accuracy: 0.5, ValLoss: 0.9, ValAccuracy: 0.6},
		{Epoch: 2, Loss: 0.5, Accuracy: 0.8, ValLoss: 0.4, ValAccuracy: 0.85, Best: true},
		{Epoch: 3, Loss: 0.3, Accuracy: 0.9, ValLoss: 0.45, ValAccuracy: 0.84},
	}
	path := filepath.Join(t.TempDir(), "curve.png")
	if err := writeCurvePNG(path, hist); err != nil {
		t.Fatal(err)
	}
	img := gocv.IMRead(path, gocv.IMReadColor)
	defer img.Close()
	if img.Cols() != 2*(420+50)+50 || img.Rows() != 300+100 {
		t.Fatalf("size %dx%d", img.Cols(), img.Rows())
	}
	// The first validation-accuracy point (epoch 1, 0.6) is drawn in the
	// validation colour (BGR 14,127,255): find it at its plotted position.
	lo, hi := 0.5, 0.9
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	y := 50 + int(300*(hi-0.6)/(hi-lo))
	v := img.GetVecbAt(y, 50)
	if math.Abs(float64(v[2])-255) > 1 || math.Abs(float64(v[1])-127) > 1 {
		t.Errorf("pixel at the first validation point is BGR %v, want the validation orange", v)
	}
	if err := writeCurvePNG(path, nil); err == nil {
		t.Error("want an error for an empty history")
	}
}
