package model

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/nn"
)

func sampleParams() *Params {
	p := &Params{
		Labels: []string{"rock", "paper", "scissors"},
		HeadW:  make([]float32, 3*FeatureSize),
		HeadB:  []float32{0.1, -0.2, 0.3},
		Meta:   map[string]string{"trained": "2024-05-01T10:00:00Z", "val_accuracy": "0.987"},
		Layers: map[string]LayerParams{
			"Conv_1":           {Weights: []float32{1, -2.5, 3e-3, 65504, -1e-6}, Bias: []float32{0.5, 7}},
			"block_16_project": {Weights: []float32{0.25}, Bias: []float32{-1}},
		},
	}
	for i := range p.HeadW {
		p.HeadW[i] = float32(math.Sin(float64(i))) * 0.01
	}
	return p
}

func TestParamsRoundTrip(t *testing.T) {
	p := sampleParams()
	path := filepath.Join(t.TempDir(), "head.params")
	if err := WriteParams(path, p); err != nil {
		t.Fatal(err)
	}
	got, err := ReadParams(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip changed the params:\n got %+v\nwant %+v", got.Layers, p.Layers)
	}
	if got.Features() != FeatureSize || got.Classes() != 3 {
		t.Fatalf("features %d classes %d", got.Features(), got.Classes())
	}
	st, _ := os.Stat(path)
	// magic 8 + version 4 + meta + labels + head (3*1280+3)*4 + layers + sha 32
	if st.Size() < (3*FeatureSize+3)*4 || st.Size() > (3*FeatureSize+3)*4+400 {
		t.Fatalf("file is %d bytes", st.Size())
	}
}

func TestParamsFloat16Layers(t *testing.T) {
	p := sampleParams()
	path := filepath.Join(t.TempDir(), "head.params")
	if err := WriteParams(path, p, Float16Layers()); err != nil {
		t.Fatal(err)
	}
	got, err := ReadParams(path)
	if err != nil {
		t.Fatal(err)
	}
	// Exactly representable halves come back exactly; others to 2^-11 relative.
	want := []float32{1, -2.5, 0.0030002594, 65504, -1.013279e-06} // 1573·2^-19, 17·2^-24
	for i, w := range want {
		if g := got.Layers["Conv_1"].Weights[i]; math.Abs(float64(g-w)) > 1e-9 {
			t.Errorf("weight %d = %g, want %g", i, g, w)
		}
	}
	if !reflect.DeepEqual(got.HeadW, p.HeadW) || !reflect.DeepEqual(got.Layers["Conv_1"].Bias, p.Layers["Conv_1"].Bias) {
		t.Error("head or biases changed: they must stay float32")
	}
}

// TestWeightsSHA256 checks that the weights hash ignores the metadata a
// rerun changes (training date) but not one parameter, and that a float16
// file read back hashes as its rounded values, whatever was written.
func TestWeightsSHA256(t *testing.T) {
	p := sampleParams()
	sum := p.WeightsSHA256()
	if len(sum) != 64 {
		t.Fatalf("WeightsSHA256 = %q, want 64 hex digits", sum)
	}
	later := sampleParams()
	later.Meta["trained"] = "2026-12-04T12:06:30Z"
	if got := later.WeightsSHA256(); got != sum {
		t.Errorf("another training date changed the weights hash: %s vs %s", got, sum)
	}
	later.HeadB[2] = math.Nextafter32(later.HeadB[2], 1)
	if got := later.WeightsSHA256(); got == sum {
		t.Error("a bias one ulp higher kept the weights hash")
	}
	relabelled := sampleParams()
	relabelled.Labels[0] = "stone"
	if relabelled.WeightsSHA256() == sum {
		t.Error("another label kept the weights hash")
	}

	path := filepath.Join(t.TempDir(), "f16.params")
	if err := WriteParams(path, p, Float16Layers()); err != nil {
		t.Fatal(err)
	}
	back, err := ReadParams(path)
	if err != nil {
		t.Fatal(err)
	}
	rounded := sampleParams()
	for name, lp := range rounded.Layers {
		nn.HalfBytesToFloat32sInto(lp.Weights, nn.HalfBytesFromFloat32s(lp.Weights))
		rounded.Layers[name] = lp
	}
	if back.WeightsSHA256() != rounded.WeightsSHA256() {
		t.Error("a float16 file read back does not hash as its rounded weights")
	}
	if back.WeightsSHA256() == sum {
		t.Error("rounding Conv_1's 3e-3 to float16 kept the weights hash")
	}
}

func TestHalfConversion(t *testing.T) {
	for _, c := range []struct {
		f float32
		h uint16
	}{{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{5.960464477539063e-08, 0x0001}, {6.097555160522461e-05, 0x03ff}, {1.0009765625, 0x3c01}, {1.00048828125, 0x3c00} /* tie to even */} {
		if got := nn.Float32ToHalf(c.f); got != c.h {
			t.Errorf("nn.Float32ToHalf(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
		if c.h&0x7c00 != 0x7c00 {
			if back := nn.HalfToFloat32(c.h); c.f != 1.00048828125 && back != c.f {
				t.Errorf("nn.HalfToFloat32(%#04x) = %g, want %g", c.h, back, c.f)
			}
		}
	}
	if !math.IsNaN(float64(nn.HalfToFloat32(nn.Float32ToHalf(float32(math.NaN()))))) {
		t.Error("NaN lost")
	}
}

func TestParamsChecksumAndTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "head.params")
	if err := WriteParams(path, sampleParams()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	for _, off := range []int{20, len(data) / 2, len(data) - 40, len(data) - 1} {
		bad := append([]byte(nil), data...)
		bad[off] ^= 0x40
		p := filepath.Join(dir, "bad.params")
		os.WriteFile(p, bad, 0o644)
		if _, err := ReadParams(p); !errors.Is(err, ErrChecksum) {
			t.Errorf("flipped byte %d: want ErrChecksum, got %v", off, err)
		}
	}
	for _, n := range []int{0, 7, 12, 50, len(data) - 32, len(data) - 1} {
		p := filepath.Join(dir, "short.params")
		os.WriteFile(p, data[:n], 0o644)
		if _, err := ReadParams(p); err == nil {
			t.Errorf("file cut to %d bytes accepted", n)
		}
	}
	v2 := append([]byte(nil), data...)
	v2[8] = 2
	p := filepath.Join(dir, "v2.params")
	os.WriteFile(p, v2, 0o644)
	if _, err := ReadParams(p); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("future version: %v", err)
	}
}

func TestParamsValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Params){
		"comma label":   func(p *Params) { p.Labels[0] = "ro,ck" },
		"one label":     func(p *Params) { p.Labels = p.Labels[:1]; p.HeadW = p.HeadW[:FeatureSize]; p.HeadB = p.HeadB[:1] },
		"duplicate":     func(p *Params) { p.Labels[1] = "rock" },
		"short weights": func(p *Params) { p.HeadW = p.HeadW[:100] },
		"bias count":    func(p *Params) { p.HeadB = p.HeadB[:2] },
		"NaN":           func(p *Params) { p.HeadW[5] = float32(math.NaN()) },
		"Inf layer":     func(p *Params) { p.Layers["Conv_1"].Weights[0] = float32(math.Inf(1)) },
	} {
		p := sampleParams()
		mutate(p)
		if err := WriteParams(filepath.Join(t.TempDir(), "x.params"), p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
