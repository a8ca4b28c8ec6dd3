package nn

import (
	"math"
	"slices"
	"testing"
)

func TestSamePads(t *testing.T) {
	for _, c := range []struct{ in, k, s, out, before, after int }{
		{224, 3, 2, 112, 0, 1}, // TF SAME: the odd pixel goes after
		{7, 3, 2, 4, 1, 1},
		{112, 3, 1, 112, 1, 1},
		{7, 1, 1, 7, 0, 0},
		{4, 3, 2, 2, 0, 1},
	} {
		out, b, a := Same.Pads(c.in, c.k, c.s)
		if out != c.out || b != c.before || a != c.after {
			t.Errorf("Same.Pads(%d,%d,%d) = %d,%d,%d, want %d,%d,%d", c.in, c.k, c.s, out, b, a, c.out, c.before, c.after)
		}
	}
	if out, _, _ := Valid.Pads(7, 3, 2); out != 3 {
		t.Errorf("Valid.Pads(7,3,2) = %d, want 3", out)
	}
}

func seq(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i + 1)
	}
	return v
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// A 4x4 image 1..16, a 3x3 box filter, stride 2, SAME: the windows start at
// rows/cols 0 and 2 and the second one runs into the single padded row/col.
func TestConv2DStride2Same(t *testing.T) {
	x, _ := FromData(seq(16), 1, 4, 4, 1)
	c := Conv2D{Weights: ones(9), Bias: []float32{0.5}, Out: 1, In: 1, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, Padding: Same}
	y, err := c.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{54.5, 45.5, 72.5, 54.5}
	if !slices.Equal(y.Data, want) || !slices.Equal(y.Shape, []int{1, 2, 2, 1}) {
		t.Fatalf("got %v %v, want [1 2 2 1] %v", y.Shape, y.Data, want)
	}
	c.ReLU6 = true
	y, _ = c.Forward(x)
	if !slices.Equal(y.Data, []float32{6, 6, 6, 6}) {
		t.Fatalf("relu6: %v", y.Data)
	}
}

// Two output channels over two input channels, 1x1: a plain matrix product per pixel.
func TestConv2DPointwiseOHWI(t *testing.T) {
	x, _ := FromData([]float32{1, 2, 3, 4}, 1, 1, 2, 2) // pixels (1,2) and (3,4)
	c := Conv2D{Weights: []float32{1, 10, -1, 0}, Out: 2, In: 2, KernelH: 1, KernelW: 1, StrideH: 1, StrideW: 1}
	y, err := c.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{21, -1, 43, -3}; !slices.Equal(y.Data, want) {
		t.Fatalf("got %v, want %v", y.Data, want)
	}
}

func TestDepthwise(t *testing.T) {
	// 3x3 image, 2 channels: channel 0 = 1..9, channel 1 = -(1..9).
	data := make([]float32, 18)
	for i := 0; i < 9; i++ {
		data[2*i], data[2*i+1] = float32(i+1), -float32(i+1)
	}
	x, _ := FromData(data, 1, 3, 3, 2)
	w := make([]float32, 18) // [1,3,3,2]: channel 0 box filter, channel 1 centre tap x2
	for k := 0; k < 9; k++ {
		w[2*k] = 1
	}
	w[2*4+1] = 2
	d := DepthwiseConv2D{Weights: w, Bias: []float32{0, 100}, Channels: 2, Multiplier: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, Padding: Same}
	y, err := d.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	// Channel 0 at the centre: 45; at the top-left corner: 1+2+4+5 = 12.
	// Channel 1: 100 - 2*v.
	if y.Data[0] != 12 || y.Data[1] != 98 || y.Data[8] != 45 || y.Data[9] != 90 {
		t.Fatalf("got %v", y.Data)
	}
}

func TestAddPoolDenseSoftmax(t *testing.T) {
	a, _ := FromData([]float32{1, 2, 3, 4}, 1, 2, 1, 2)
	b, _ := FromData([]float32{10, 20, 30, 40}, 1, 2, 1, 2)
	s, err := Add(a, b)
	if err != nil || !slices.Equal(s.Data, []float32{11, 22, 33, 44}) {
		t.Fatalf("add: %v %v", s, err)
	}
	p, err := GlobalAvgPool(s)
	if err != nil || !slices.Equal(p.Data, []float32{22, 33}) || !slices.Equal(p.Shape, []int{1, 2}) {
		t.Fatalf("pool: %v %v", p, err)
	}
	d, err := Dense(p, []float32{1, 0, 0, -1, 1, 1}, []float32{0, 1, -55}, 3)
	if err != nil || !slices.Equal(d.Data, []float32{22, -32, 0}) {
		t.Fatalf("dense: %v %v", d, err)
	}
	sm, _ := Softmax(&Tensor{Shape: []int{1, 2}, Data: []float32{0, float32(math.Log(3))}})
	if math.Abs(float64(sm.Data[0])-0.25) > 1e-7 || math.Abs(float64(sm.Data[1])-0.75) > 1e-7 {
		t.Fatalf("softmax: %v", sm.Data)
	}
	r := ReLU6(&Tensor{Shape: []int{4}, Data: []float32{-1, 0.5, 6, 7}})
	if !slices.Equal(r.Data, []float32{0, 0.5, 6, 6}) {
		t.Fatalf("relu6: %v", r.Data)
	}
}

func TestBadShapesAreErrors(t *testing.T) {
	x := New(1, 4, 4, 3)
	cases := map[string]func() error{
		"conv channels": func() error {
			_, err := (&Conv2D{Weights: ones(9 * 2), Out: 1, In: 2, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1}).Forward(x)
			return err
		},
		"conv weights": func() error {
			_, err := (&Conv2D{Weights: ones(5), Out: 1, In: 3, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1}).Forward(x)
			return err
		},
		"conv stride 0": func() error {
			_, err := (&Conv2D{Weights: ones(27), Out: 1, In: 3, KernelH: 3, KernelW: 3}).Forward(x)
			return err
		},
		"conv rank": func() error {
			_, err := (&Conv2D{Weights: ones(27), Out: 1, In: 3, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1}).Forward(New(4, 3))
			return err
		},
		"depthwise bias": func() error {
			_, err := (&DepthwiseConv2D{Weights: ones(27), Bias: ones(2), Channels: 3, Multiplier: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1}).Forward(x)
			return err
		},
		"add shapes": func() error { _, err := Add(x, New(1, 4, 4, 2)); return err },
		"dense":      func() error { _, err := Dense(New(2, 3), ones(5), nil, 2); return err },
		"pool rank":  func() error { _, err := GlobalAvgPool(New(2, 3)); return err },
		"data len":   func() error { _, err := FromData(ones(3), 2, 2); return err },
	}
	for name, f := range cases {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func BenchmarkConv1x1_56x56x144to24(b *testing.B) {
	x := New(1, 56, 56, 144)
	c := Conv2D{Weights: ones(24 * 144), Out: 24, In: 144, KernelH: 1, KernelW: 1, StrideH: 1, StrideW: 1}
	for b.Loop() {
		c.Forward(x)
	}
}

func BenchmarkDepthwise3x3_112x112x96s2(b *testing.B) {
	x := New(1, 112, 112, 96)
	d := DepthwiseConv2D{Weights: ones(9 * 96), Channels: 96, Multiplier: 1, KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, ReLU6: true}
	for b.Loop() {
		d.Forward(x)
	}
}

// Large logits must not overflow: the maximum is subtracted first.
func TestSoftmaxInPlaceLargeLogits(t *testing.T) {
	v := []float32{1000, 1000, 998}
	SoftmaxInPlace(v)
	e := math.Exp(-2)
	want := []float64{1 / (2 + e), 1 / (2 + e), e / (2 + e)}
	for i := range v {
		if math.Abs(float64(v[i])-want[i]) > 1e-7 {
			t.Fatalf("softmax of large logits = %v, want %v", v, want)
		}
	}
	SoftmaxInPlace(nil) // no panic on an empty slice
}

func TestArgmax(t *testing.T) {
	for _, c := range []struct {
		v    []float32
		want int
	}{
		{[]float32{0.1, 0.7, 0.2}, 1},
		{[]float32{0.4, 0.2, 0.4}, 0}, // ties: the first
		{[]float32{-3, -1, -2}, 1},
		{nil, 0},
	} {
		if got := Argmax(c.v); got != c.want {
			t.Errorf("Argmax(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}

func TestArgmaxSkipNaN(t *testing.T) {
	if ArgmaxSkipNaN(nil) != -1 || ArgmaxSkipNaN([]float32{-5, -1, -3}) != 1 {
		t.Fatal("ArgmaxSkipNaN")
	}
}
