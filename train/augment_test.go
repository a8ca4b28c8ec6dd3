package train

import (
	"math"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// TestLowLightDarkensMidTones: with every other change off, a dim-room view
// of a uniform grey image is darker in the mid-tones, black and white stay
// where they are, and the same seed gives the same view.
func TestLowLightDarkensMidTones(t *testing.T) {
	aug, err := newAugmenter(AugmentConfig{ScaleMin: 1, ScaleMax: 1, LowLightP: 1, LowLightGamma: 2.2})
	if err != nil {
		t.Fatal(err)
	}
	view := func(v uint8, seed uint64) uint8 {
		src := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(v), float64(v), float64(v), 0), 32, 32, gocv.MatTypeCV8UC3)
		defer src.Close()
		out, err := aug.Apply(src, "", newRand(seed))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		return out.GetVecbAt(16, 16)[1]
	}
	for seed := uint64(1); seed <= 5; seed++ {
		got := view(128, seed)
		// gamma in [1, 2.2]: 128 maps to 255*(128/255)^gamma, 56..128.
		if got > 128 || got < 56 {
			t.Errorf("seed %d: grey 128 became %d, want 56..128", seed, got)
		}
		if got != view(128, seed) {
			t.Errorf("seed %d: two views differ", seed)
		}
		if b, w := view(0, seed), view(255, seed); b != 0 || w != 255 {
			t.Errorf("seed %d: black -> %d, white -> %d; want them kept", seed, b, w)
		}
	}
	if view(128, 1) == 128 && view(128, 2) == 128 && view(128, 3) == 128 {
		t.Error("no view was darkened: the low-light curve is not applied")
	}
	if _, err := newAugmenter(AugmentConfig{ScaleMin: 1, ScaleMax: 1, LowLightP: 0.5, LowLightGamma: 0.8}); err == nil || !strings.Contains(err.Error(), "gamma") {
		t.Errorf("gamma 0.8 (brightening): %v, want an error naming the gamma", err)
	}
}

// TestMotionBlurSmearsAlongALine: with every other change off, a single
// bright dot becomes a line through it: its light spreads along one
// direction (the second moments' larger axis) far more than across it,
// no longer than MotionBlurLen of the side, and is kept (the kernel sums
// to 1); the lengths drawn reach up to it. A zero probability draws
// nothing, so older recipes' views stay as they were.
func TestMotionBlurSmearsAlongALine(t *testing.T) {
	const side = 101
	aug, err := newAugmenter(AugmentConfig{ScaleMin: 1, ScaleMax: 1, MotionBlurP: 1, MotionBlurLen: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	src := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), side, side, gocv.MatTypeCV8UC3)
	defer src.Close()
	src.SetUCharAt(50, 50*3+1, 255)
	var longest float64
	for seed := uint64(1); seed <= 20; seed++ {
		out, err := aug.Apply(src, "", newRand(seed))
		if err != nil {
			t.Fatal(err)
		}
		var sum, mx, my float64
		type px struct{ x, y, v float64 }
		var lit []px
		for y := range side {
			for x := range side {
				if v := float64(out.GetVecbAt(y, x)[1]); v > 0 {
					lit = append(lit, px{float64(x), float64(y), v})
					sum += v
					mx += v * float64(x)
					my += v * float64(y)
				}
			}
		}
		out.Close()
		mx, my = mx/sum, my/sum
		var sxx, syy, sxy float64
		for _, p := range lit {
			dx, dy := p.x-mx, p.y-my
			sxx += p.v * dx * dx
			syy += p.v * dy * dy
			sxy += p.v * dx * dy
		}
		// Eigenvalues of the 2x2 second-moment matrix: along and across.
		tr, det := (sxx+syy)/sum, (sxx*syy-sxy*sxy)/(sum*sum)
		disc := math.Sqrt(max(tr*tr/4-det, 0))
		along, across := tr/2+disc, tr/2-disc
		// A uniform line of length L has variance L²/12 along it.
		length := math.Sqrt(12 * along)
		switch {
		case sum < 200 || sum > 310:
			t.Errorf("seed %d: the dot's light summed to %.0f, want about 255 (rounding aside)", seed, sum)
		case math.Abs(mx-50) > 1 || math.Abs(my-50) > 1:
			t.Errorf("seed %d: the smear is centred at (%.1f, %.1f), want the dot's (50, 50)", seed, mx, my)
		case length < 2.5 || length > 0.3*side+2:
			t.Errorf("seed %d: smear %.1f px long, want 2 up to 0.3 of %d", seed, length, side)
		case across > along/4:
			t.Errorf("seed %d: spread %.2f across against %.2f along: not a line", seed, across, along)
		}
		longest = max(longest, length)
	}
	if longest < 0.2*side {
		t.Errorf("the longest smear of 20 views is %.1f px: the length is not drawn up to 0.3 of %d", longest, side)
	}
	plain, _ := newAugmenter(AugmentConfig{ScaleMin: 1, ScaleMax: 1, NoiseSigma: 6})
	off, _ := newAugmenter(AugmentConfig{ScaleMin: 1, ScaleMax: 1, NoiseSigma: 6, MotionBlurLen: 0.3})
	a, _ := plain.Apply(src, "", newRand(7))
	b, _ := off.Apply(src, "", newRand(7))
	defer a.Close()
	defer b.Close()
	da, _ := a.DataPtrUint8()
	db, _ := b.DataPtrUint8()
	if string(da) != string(db) {
		t.Error("MotionBlurP 0 changed the view: it must draw nothing from the random stream")
	}
	if _, err := newAugmenter(AugmentConfig{ScaleMin: 1, ScaleMax: 1, MotionBlurP: 0.5}); err == nil || !strings.Contains(err.Error(), "motion-blur") {
		t.Errorf("motion blur without a length: %v, want an error naming it", err)
	}
}
