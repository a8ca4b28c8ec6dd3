package nn

import (
	"math"
	"testing"
)

func TestHalfConversion(t *testing.T) {
	for _, c := range []struct {
		f    float32
		bits uint16
	}{
		{0, 0x0000}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00},
		{float32(math.Pow(2, -24)), 0x0001}, // smallest subnormal
		{1.0 / 3, 0x3555},                   // rounds to nearest
		{1 + 1.0/2048, 0x3c00},              // a tie rounds to even
		{1 + 3.0/2048, 0x3c02},              // the other tie rounds up to even
	} {
		if got := Float32ToHalf(c.f); got != c.bits {
			t.Errorf("Float32ToHalf(%g) = %#04x, want %#04x", c.f, got, c.bits)
		}
	}
	// Every finite half survives the round trip through float32.
	for h := 0; h < 0x10000; h++ {
		if (h>>10)&0x1f == 0x1f {
			continue
		}
		f := HalfToFloat32(uint16(h))
		if back := Float32ToHalf(f); back != uint16(h) && !(f == 0 && back&0x7fff == 0) {
			t.Fatalf("half %#04x -> %g -> %#04x", h, f, back)
		}
	}
	v := []float32{0.5, -7.25, 3}
	got := make([]float32, len(v))
	HalfBytesToFloat32sInto(got, HalfBytesFromFloat32s(v))
	if got[0] != 0.5 || got[1] != -7.25 || got[2] != 3 {
		t.Errorf("slice round trip = %v", got)
	}
}
