package infer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/tinymodel"
)

func TestVNNIFlag(t *testing.T) {
	for in, want := range map[string]string{
		"processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni sha_ni\n": "avx512_vnni",
		"flags\t\t: fpu avx2 avx_vnni\n":                                   "avx_vnni",
		"flags\t\t: fpu avx avx2 fma\n":                                    "",
		"vnni is not a flags line\n":                                       "",
	} {
		if got := vnniFlag(in); got != want {
			t.Errorf("vnniFlag(%q) = %q, want %q", in, got, want)
		}
	}
}

func writeWithMeta(t *testing.T, path string, md map[string]string) {
	t.Helper()
	m := tinymodel.MeanColour(8)
	for k, v := range md {
		m.Metadata[k] = v
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestChoosePrecision(t *testing.T) {
	dir := t.TempDir()
	float := filepath.Join(dir, "m.onnx")
	int8 := filepath.Join(dir, "m_int8.onnx")
	writeWithMeta(t, float, nil)
	check := func(p Precision, vnni, wantPath string, wantPrec Precision, why string) {
		t.Helper()
		c, err := ChoosePrecision(p, float, vnni)
		if err != nil {
			t.Fatalf("%s (vnni %q): %v", p, vnni, err)
		}
		if c.Path != wantPath || c.Precision != wantPrec || !strings.Contains(c.Why, why) {
			t.Errorf("%s (vnni %q) = %+v, want %s %s with %q", p, vnni, c, wantPath, wantPrec, why)
		}
	}
	if Int8Path(float) != int8 {
		t.Fatalf("Int8Path = %s", Int8Path(float))
	}
	check(FP32, "avx512_vnni", float, FP32, "")
	check(PrecisionAuto, "avx512_vnni", float, FP32, "no readable int8 model")
	if _, err := ChoosePrecision(INT8, float, ""); err == nil || !strings.Contains(err.Error(), "run rpscam quantize (or scripts/setup.sh)") {
		t.Errorf("int8 without the file: %v", err)
	}

	writeWithMeta(t, int8, map[string]string{MetaPrecision: "int8", MetaInt8Accuracy: "missed: sxsw-test 84.26% vs fp32 91.28%"})
	check(INT8, "", int8, INT8, "")
	check(PrecisionAuto, "avx512_vnni", float, FP32, "missed: sxsw-test")

	writeWithMeta(t, int8, map[string]string{MetaPrecision: "int8", MetaInt8Accuracy: "met: within 0.5 points"})
	check(PrecisionAuto, "avx512_vnni", int8, INT8, "AVX512_VNNI")
	check(PrecisionAuto, "avx_vnni", int8, INT8, "AVX_VNNI")
	check(PrecisionAuto, "", float, FP32, "no AVX512_VNNI or AVX_VNNI")

	// The int8 file given as the model is used as it is, except for fp32.
	c, err := ChoosePrecision(PrecisionAuto, int8, "")
	if err != nil || c.Path != int8 || c.Precision != INT8 {
		t.Errorf("auto on the int8 file: %+v, %v", c, err)
	}
	if _, err := ChoosePrecision(FP32, int8, ""); err == nil {
		t.Error("fp32 on the int8 file was accepted")
	}
	if md, err := onnx.ReadMetadata(int8); err != nil || md["labels"] != "rock,paper,scissors" {
		t.Errorf("ReadMetadata: %v, %v", md, err)
	}
}
