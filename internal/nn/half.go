package nn

import (
	"encoding/binary"
	"math"
)

// HalfBytesFromFloat32s rounds each value to IEEE 754 binary16 (ties to
// even), saturating beyond 65504 to infinity, stored little-endian as the
// training caches and params files keep them: the relative rounding error
// is at most 2^-11.
func HalfBytesFromFloat32s(v []float32) []byte {
	out := make([]byte, 2*len(v))
	HalfBytesFromFloat32sInto(out, v)
	return out
}

// HalfBytesFromFloat32sInto is HalfBytesFromFloat32s into dst (len(dst) >=
// 2*len(v)), e.g. straight into a cache record.
func HalfBytesFromFloat32sInto(dst []byte, v []float32) {
	for i, x := range v {
		binary.LittleEndian.PutUint16(dst[2*i:], Float32ToHalf(x))
	}
}

// HalfBytesToFloat32sInto widens binary16 values stored little-endian in b
// (at any alignment, e.g. in a mapped file) exactly into dst (len(dst) >=
// len(b)/2).
func HalfBytesToFloat32sInto(dst []float32, b []byte) {
	dst = dst[:len(b)/2]
	for i := range dst {
		dst[i] = HalfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
	}
}

// Float32ToHalf rounds f to the nearest binary16 (ties to even).
func Float32ToHalf(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int((bits>>23)&0xff) - 127 + 15
	mant := bits & 0x7fffff
	switch {
	case (bits>>23)&0xff == 0xff:
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp >= 0x1f:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++
	}
	return sign | uint16(half)
}

// HalfToFloat32 widens one binary16 value.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
