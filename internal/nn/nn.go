// Package nn is a plain-Go float32 reference implementation of the layers of
// MobileNet-v2: convolution, depthwise convolution, add, ReLU6, global average
// pooling, dense and softmax, on NHWC tensors.
//
// It exists to check the ONNX graphs rpscam writes against an independent
// computation, and to give training code (which needs the forward values for
// its backward passes) the same arithmetic. It favours clarity over speed but
// spreads each layer over all CPUs.
//
// Conventions, matching TensorFlow Lite:
//   - activations are NHWC: [batch, height, width, channels];
//   - convolution weights are OHWI: [out channels, kernel h, kernel w, in channels];
//   - depthwise weights are [1, kernel h, kernel w, channels*multiplier];
//   - dense weights are [out, in] (row-major), as ONNX Gemm with transB=1.
package nn

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Tensor is a dense float32 array in row-major order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, numElements(shape))}
}

// FromData wraps data (not copied) as a tensor, checking its length.
func FromData(data []float32, shape ...int) (*Tensor, error) {
	if n := numElements(shape); n != len(data) {
		return nil, fmt.Errorf("nn: shape %v needs %d values, have %d", shape, n, len(data))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		n *= d
	}
	return n
}

// check verifies that t is a well-formed tensor of the given rank.
func (t *Tensor) check(what string, rank int) error {
	if t == nil {
		return fmt.Errorf("nn: %s: nil tensor", what)
	}
	if len(t.Shape) != rank {
		return fmt.Errorf("nn: %s: want a rank-%d tensor, got shape %v", what, rank, t.Shape)
	}
	if n := numElements(t.Shape); n != len(t.Data) {
		return fmt.Errorf("nn: %s: shape %v needs %d values, have %d", what, t.Shape, n, len(t.Data))
	}
	return nil
}

// Padding selects how convolutions pad their input.
type Padding int

const (
	// Same is TensorFlow's "SAME": output size ceil(in/stride); the total
	// padding needed is split with the odd pixel after (bottom/right), so a
	// stride-2 3x3 convolution on an even size pads 0 before and 1 after.
	Same Padding = iota
	// Valid does not pad: output size (in-kernel)/stride+1.
	Valid
)

func (p Padding) String() string {
	switch p {
	case Same:
		return "SAME"
	case Valid:
		return "VALID"
	}
	return fmt.Sprintf("Padding(%d)", int(p))
}

// Pads returns the output size and the padding before and after for one
// spatial dimension of size in.
func (p Padding) Pads(in, kernel, stride int) (out, before, after int) {
	if p == Valid {
		return (in-kernel)/stride + 1, 0, 0
	}
	out = (in + stride - 1) / stride
	total := max((out-1)*stride+kernel-in, 0)
	return out, total / 2, total - total/2
}

// Conv2D describes a 2-D convolution with OHWI weights.
type Conv2D struct {
	Weights          []float32 // [Out][KernelH][KernelW][In]
	Bias             []float32 // [Out], or nil for none
	Out, In          int
	KernelH, KernelW int
	StrideH, StrideW int
	Padding          Padding
	ReLU6            bool // clamp the result to [0, 6] (TFLite's fused RELU6)
}

func (c *Conv2D) validate(x *Tensor) error {
	if err := x.check("conv input", 4); err != nil {
		return err
	}
	if c.Out <= 0 || c.In <= 0 || c.KernelH <= 0 || c.KernelW <= 0 || c.StrideH <= 0 || c.StrideW <= 0 {
		return fmt.Errorf("nn: conv: sizes must be positive (out %d, in %d, kernel %dx%d, stride %dx%d)", c.Out, c.In, c.KernelH, c.KernelW, c.StrideH, c.StrideW)
	}
	if x.Shape[3] != c.In {
		return fmt.Errorf("nn: conv: input has %d channels, weights expect %d", x.Shape[3], c.In)
	}
	if want := c.Out * c.KernelH * c.KernelW * c.In; len(c.Weights) != want {
		return fmt.Errorf("nn: conv: %d weights, OHWI [%d,%d,%d,%d] needs %d", len(c.Weights), c.Out, c.KernelH, c.KernelW, c.In, want)
	}
	if c.Bias != nil && len(c.Bias) != c.Out {
		return fmt.Errorf("nn: conv: %d biases for %d output channels", len(c.Bias), c.Out)
	}
	if c.Padding == Valid && (x.Shape[1] < c.KernelH || x.Shape[2] < c.KernelW) {
		return fmt.Errorf("nn: conv: VALID %dx%d kernel on a %dx%d input", c.KernelH, c.KernelW, x.Shape[1], x.Shape[2])
	}
	return nil
}

// Forward computes the convolution of the NHWC tensor x.
func (c *Conv2D) Forward(x *Tensor) (*Tensor, error) {
	if err := c.validate(x); err != nil {
		return nil, err
	}
	n, h, w := x.Shape[0], x.Shape[1], x.Shape[2]
	oh, padT, _ := c.Padding.Pads(h, c.KernelH, c.StrideH)
	ow, padL, _ := c.Padding.Pads(w, c.KernelW, c.StrideW)
	y := New(n, oh, ow, c.Out)
	in, kw := c.In, c.KernelW
	parallelFor(n*oh, func(row int) {
		b, oy := row/oh, row%oh
		for ox := 0; ox < ow; ox++ {
			dst := y.Data[((b*oh+oy)*ow+ox)*c.Out:][:c.Out]
			for o := range dst {
				var s float32
				if c.Bias != nil {
					s = c.Bias[o]
				}
				wo := c.Weights[o*c.KernelH*kw*in:]
				for ky := 0; ky < c.KernelH; ky++ {
					iy := oy*c.StrideH + ky - padT
					if iy < 0 || iy >= h {
						continue
					}
					for kx := 0; kx < kw; kx++ {
						ix := ox*c.StrideW + kx - padL
						if ix < 0 || ix >= w {
							continue
						}
						s += dot(x.Data[((b*h+iy)*w+ix)*in:][:in], wo[(ky*kw+kx)*in:][:in])
					}
				}
				dst[o] = s
			}
			if c.ReLU6 {
				relu6(dst)
			}
		}
	})
	return y, nil
}

// DepthwiseConv2D describes a depthwise convolution: output channel
// c*Multiplier+m convolves input channel c alone.
type DepthwiseConv2D struct {
	Weights          []float32 // [1][KernelH][KernelW][Channels*Multiplier]
	Bias             []float32 // [Channels*Multiplier], or nil
	Channels         int       // input channels
	Multiplier       int       // outputs per input channel; 1 in MobileNet-v2
	KernelH, KernelW int
	StrideH, StrideW int
	Padding          Padding
	ReLU6            bool
}

// Forward computes the depthwise convolution of the NHWC tensor x.
func (d *DepthwiseConv2D) Forward(x *Tensor) (*Tensor, error) {
	if err := x.check("depthwise input", 4); err != nil {
		return nil, err
	}
	if d.Channels <= 0 || d.Multiplier <= 0 || d.KernelH <= 0 || d.KernelW <= 0 || d.StrideH <= 0 || d.StrideW <= 0 {
		return nil, fmt.Errorf("nn: depthwise: sizes must be positive (channels %d, multiplier %d, kernel %dx%d, stride %dx%d)", d.Channels, d.Multiplier, d.KernelH, d.KernelW, d.StrideH, d.StrideW)
	}
	if x.Shape[3] != d.Channels {
		return nil, fmt.Errorf("nn: depthwise: input has %d channels, weights expect %d", x.Shape[3], d.Channels)
	}
	co := d.Channels * d.Multiplier
	if want := d.KernelH * d.KernelW * co; len(d.Weights) != want {
		return nil, fmt.Errorf("nn: depthwise: %d weights, [1,%d,%d,%d] needs %d", len(d.Weights), d.KernelH, d.KernelW, co, want)
	}
	if d.Bias != nil && len(d.Bias) != co {
		return nil, fmt.Errorf("nn: depthwise: %d biases for %d output channels", len(d.Bias), co)
	}
	if d.Padding == Valid && (x.Shape[1] < d.KernelH || x.Shape[2] < d.KernelW) {
		return nil, fmt.Errorf("nn: depthwise: VALID %dx%d kernel on a %dx%d input", d.KernelH, d.KernelW, x.Shape[1], x.Shape[2])
	}
	n, h, w, ci := x.Shape[0], x.Shape[1], x.Shape[2], d.Channels
	oh, padT, _ := d.Padding.Pads(h, d.KernelH, d.StrideH)
	ow, padL, _ := d.Padding.Pads(w, d.KernelW, d.StrideW)
	y := New(n, oh, ow, co)
	parallelFor(n*oh, func(row int) {
		b, oy := row/oh, row%oh
		for ox := 0; ox < ow; ox++ {
			dst := y.Data[((b*oh+oy)*ow+ox)*co:][:co]
			if d.Bias != nil {
				copy(dst, d.Bias)
			}
			for ky := 0; ky < d.KernelH; ky++ {
				iy := oy*d.StrideH + ky - padT
				if iy < 0 || iy >= h {
					continue
				}
				for kx := 0; kx < d.KernelW; kx++ {
					ix := ox*d.StrideW + kx - padL
					if ix < 0 || ix >= w {
						continue
					}
					src := x.Data[((b*h+iy)*w+ix)*ci:][:ci]
					wk := d.Weights[(ky*d.KernelW+kx)*co:][:co]
					if d.Multiplier == 1 {
						for c, v := range src {
							dst[c] += v * wk[c]
						}
						continue
					}
					for c, v := range src {
						for m := 0; m < d.Multiplier; m++ {
							dst[c*d.Multiplier+m] += v * wk[c*d.Multiplier+m]
						}
					}
				}
			}
			if d.ReLU6 {
				relu6(dst)
			}
		}
	})
	return y, nil
}

// Add returns a+b elementwise; the shapes must be equal (no broadcasting:
// MobileNet-v2's residual connections never need it).
func Add(a, b *Tensor) (*Tensor, error) {
	if a == nil || b == nil {
		return nil, errors.New("nn: add: nil tensor")
	}
	if !slices.Equal(a.Shape, b.Shape) || len(a.Data) != len(b.Data) {
		return nil, fmt.Errorf("nn: add: shapes %v and %v differ", a.Shape, b.Shape)
	}
	y := &Tensor{Shape: append([]int(nil), a.Shape...), Data: make([]float32, len(a.Data))}
	for i := range y.Data {
		y.Data[i] = a.Data[i] + b.Data[i]
	}
	return y, nil
}

// ReLU6 clamps every element of x to [0, 6] in place and returns x.
func ReLU6(x *Tensor) *Tensor {
	relu6(x.Data)
	return x
}

func relu6(v []float32) {
	for i, f := range v {
		// f != f is NaN: it propagates, as in TFLite and ONNX Clip.
		if f < 0 {
			v[i] = 0
		} else if f > 6 {
			v[i] = 6
		}
	}
}

// GlobalAvgPool averages an NHWC tensor over height and width: [N,H,W,C] -> [N,C].
func GlobalAvgPool(x *Tensor) (*Tensor, error) {
	if err := x.check("global pool input", 4); err != nil {
		return nil, err
	}
	n, hw, c := x.Shape[0], x.Shape[1]*x.Shape[2], x.Shape[3]
	if hw == 0 {
		return nil, fmt.Errorf("nn: global pool: empty spatial shape %v", x.Shape)
	}
	y := New(n, c)
	for b := 0; b < n; b++ {
		// Sum in float64: 49 values of up to 6 each would lose a few ulps in
		// float32, and the sum is the feature vector everything downstream uses.
		acc := make([]float64, c)
		for p := 0; p < hw; p++ {
			for i, v := range x.Data[(b*hw+p)*c:][:c] {
				acc[i] += float64(v)
			}
		}
		for i, s := range acc {
			y.Data[b*c+i] = float32(s / float64(hw))
		}
	}
	return y, nil
}

// Dense computes x·Wᵀ + b for x [N,In], W [Out,In] row-major, b [Out] (or nil).
func Dense(x *Tensor, weights, bias []float32, out int) (*Tensor, error) {
	if err := x.check("dense input", 2); err != nil {
		return nil, err
	}
	n, in := x.Shape[0], x.Shape[1]
	if out <= 0 || len(weights) != out*in {
		return nil, fmt.Errorf("nn: dense: %d weights for %d outputs x %d inputs", len(weights), out, in)
	}
	if bias != nil && len(bias) != out {
		return nil, fmt.Errorf("nn: dense: %d biases for %d outputs", len(bias), out)
	}
	y := New(n, out)
	parallelFor(n*out, func(k int) {
		b, o := k/out, k%out
		s := dot(x.Data[b*in:][:in], weights[o*in:][:in])
		if bias != nil {
			s += bias[o]
		}
		y.Data[k] = s
	})
	return y, nil
}

// Softmax normalises the last axis of x into probabilities, computed
// stably (max subtracted, float64 sums).
func Softmax(x *Tensor) (*Tensor, error) {
	if x == nil || len(x.Shape) == 0 || numElements(x.Shape) != len(x.Data) {
		return nil, errors.New("nn: softmax: malformed tensor")
	}
	c := x.Shape[len(x.Shape)-1]
	y := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	if c == 0 {
		return y, nil
	}
	for r := 0; r < len(x.Data)/c; r++ {
		dst := y.Data[r*c:][:c]
		copy(dst, x.Data[r*c:][:c])
		SoftmaxInPlace(dst)
	}
	return y, nil
}

// SoftmaxInPlace turns logits into probabilities in place, shifted by the
// maximum so large logits do not overflow, summed in float64. It is the one
// softmax of the Go code paths (live classification, training, the reference
// forward pass), so they agree to the last bit.
func SoftmaxInPlace(v []float32) {
	if len(v) == 0 {
		return
	}
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	var sum float64
	for i, x := range v {
		e := math.Exp(float64(x - m))
		v[i] = float32(e)
		sum += e
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / sum)
	}
}

// Argmax is the index of the first largest value of v (0 when v is empty),
// the predicted class of a row of scores in training, evaluation and the
// tests. NaN loses every comparison, so it is meant for finite scores such
// as probabilities; ArgmaxSkipNaN skips NaNs instead.
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// ArgmaxSkipNaN is the index of the largest value of v, ignoring NaNs; -1
// when there is none.
func ArgmaxSkipNaN(v []float32) int {
	top := -1
	for i, x := range v {
		if x != x {
			continue
		}
		if top < 0 || x > v[top] {
			top = i
		}
	}
	return top
}

// dot is the inner loop of every convolution; four accumulators let the CPU
// overlap the multiply-adds.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// parallelFor runs fn(0..n-1) on GOMAXPROCS goroutines, handing out indices
// in small chunks so uneven rows (image borders) balance out.
func parallelFor(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	chunk := max(1, n/(workers*8))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
}
