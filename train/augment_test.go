package train

import (
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
