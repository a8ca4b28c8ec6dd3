package pipeline

import (
	"math"
	"strings"
	"testing"
)

// FuzzParseSmoothing: any --smooth value is a smoother or an error naming
// the accepted forms; an accepted smoother takes probabilities without
// panicking.
func FuzzParseSmoothing(f *testing.F) {
	for _, s := range []string{"off", "none", "ema:0.5", "EMA:1", "ema:0", "ema:nan", "ema:1e-40", "majority:5", "majority:0", "majority:1001", "majority:-1", "wobble", "off:1", ":", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sm, err := ParseSmoothing(s)
		if err != nil {
			if !strings.Contains(err.Error(), "ema:ALPHA") {
				t.Fatalf("error %q does not say what is accepted", err)
			}
			return
		}
		for i := 0; i < 3; i++ {
			out := sm.Update([]float32{0.2, 0.5, 0.3})
			if len(out) != 3 {
				t.Fatalf("%q: smoother returned %d values for 3", s, len(out))
			}
			for _, x := range out {
				if math.IsNaN(float64(x)) || x < 0 || x > 1.0001 {
					t.Fatalf("%q: smoothed value %v", s, x)
				}
			}
		}
	})
}
