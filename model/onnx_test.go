package model

import (
	"math/rand/v2"
	"testing"
)

func randomImages(seed uint64, n int) []uint8 {
	r := rand.New(rand.NewPCG(seed, 1))
	px := make([]uint8, n*InputSize*InputSize*InputColours)
	for i := range px {
		px[i] = uint8(r.IntN(256))
	}
	return px
}

// TestBackboneONNXMatchesReference runs the converted graph in ONNX Runtime
// and the plain-Go reference on two random images, for both files. Both
// compute in float32 with different summation orders, so they agree to
// rounding: the tolerance is 1e-4 of the largest feature (features are in
// [0, 6]).
func TestBackboneONNXMatchesReference(t *testing.T) {
	initORT(t)
	for _, w := range KnownWeights() {
		t.Run(w.Name, func(t *testing.T) {
			b := loadBackbone(t, w)
			m, err := BuildONNX(b, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			data, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s := newSession(t, data, []string{FeaturesName}, 0)
			px := randomImages(7, 2)
			got, shapes := s.run(t, px, 2)
			if shapes[0][0] != 2 || shapes[0][1] != FeatureSize {
				t.Fatalf("features shape %v, want [2 %d]", shapes[0], FeatureSize)
			}
			x, err := Normalize(px, 2, InputSize, InputSize)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := b.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			diff, scale := maxAbsDiff(got[0], ref.Data)
			t.Logf("%s: max |ORT - reference| = %.3g, max |feature| = %.3g", w.Name, diff, scale)
			if scale < 0.1 {
				t.Fatalf("features are all near zero (max %g): the network is dead", scale)
			}
			if diff > 1e-4*scale {
				t.Fatalf("ORT features differ from the reference by %g (max feature %g)", diff, scale)
			}
		})
	}
}
