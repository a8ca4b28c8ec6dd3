package tflite

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rpscam/rpscam/internal/sharedtest"
)

func sharedModel(t *testing.T, name string) []byte {
	t.Helper()
	dir := sharedtest.Dir(t, "models", "mobilenet_v2", name)
	data, err := os.ReadFile(filepath.Join(dir, "models", "mobilenet_v2", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestReadMobileNetV2Files(t *testing.T) {
	for _, c := range []struct {
		file, sha  string
		weightType TensorType
		quantize   int
		pool       BuiltinOp
		perChannel bool
	}{
		{"mobilenet_v2_1.0_224_quant.tflite", "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776", Uint8, 0, OpAveragePool2D, false},
		{"tf2_mobilenet_v2_1.0_224_ptq.tflite", "5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c", Int8, 2, OpMean, true},
	} {
		t.Run(c.file, func(t *testing.T) {
			m, err := parseData(sharedModel(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if m.SHA256 != c.sha || m.Version != 3 {
				t.Fatalf("sha256 %s version %d", m.SHA256, m.Version)
			}
			counts := map[BuiltinOp]int{}
			for _, op := range m.Operators {
				counts[op.Builtin]++
			}
			if counts[OpConv2D] != 36 || counts[OpDepthwiseConv2D] != 17 || counts[OpAdd] != 10 || counts[c.pool] != 1 ||
				counts[OpReshape] != 1 || counts[OpSoftmax] != 1 || counts[OpQuantize] != c.quantize {
				t.Fatalf("operator counts %v", counts)
			}
			in := m.Tensors[m.Inputs[0]]
			if in.Name != "input" || in.Type != Uint8 || len(in.Shape) != 4 || in.Shape[1] != 224 || in.Shape[3] != 3 {
				t.Fatalf("input %+v", in)
			}
			// The first convolution: stride 2, SAME, RELU6, 32x3x3x3 weights.
			var first Operator
			for _, op := range m.Operators {
				if op.Builtin == OpConv2D {
					first = op
					break
				}
			}
			o := first.Options
			if o.StrideW != 2 || o.StrideH != 2 || o.Padding != Same || o.Activation != ActRelu6 || o.DilationW != 1 {
				t.Fatalf("first conv options %+v", o)
			}
			w := m.Tensors[first.Inputs[1]]
			if w.Type != c.weightType || len(m.Buffers[w.Buffer]) != 32*3*3*3 || w.Shape[0] != 32 || w.Shape[3] != 3 {
				t.Fatalf("first conv weights %+v, %d bytes", w, len(m.Buffers[w.Buffer]))
			}
			if got := len(w.Quantization.Scale) > 1; got != c.perChannel {
				t.Fatalf("per-channel = %v, want %v", got, c.perChannel)
			}
			for _, op := range m.Operators {
				if op.Builtin == OpDepthwiseConv2D && op.Options.DepthMultiplier != 1 {
					t.Fatalf("depth multiplier %d", op.Options.DepthMultiplier)
				}
			}
		})
	}
}

// Every truncation and a sweep of corrupted bytes must give an error or a
// model, never a panic or a hang.
func TestCorruptFilesDoNotPanic(t *testing.T) {
	data := sharedModel(t, "mobilenet_v2_1.0_224_quant.tflite")
	for _, n := range []int{0, 3, 8, 64, 1000, len(data) / 2} { // (the last bytes are alignment padding)
		if _, err := parseData(data[:n]); err == nil {
			t.Errorf("file cut to %d bytes parsed", n)
		} else if !errors.Is(err, ErrFormat) {
			t.Errorf("cut to %d: error %v does not wrap ErrFormat", n, err)
		}
	}
	bad := append([]byte(nil), data...)
	copy(bad[4:8], "XXXX")
	if _, err := parseData(bad); err == nil {
		t.Error("wrong file identifier accepted")
	}
	for off := 0; off < 4096; off += 17 {
		bad := append([]byte(nil), data...)
		bad[off] ^= 0xff
		parseData(bad) // must not panic
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("\x10\x00\x00\x00TFL3\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseData(data)
	})
}
