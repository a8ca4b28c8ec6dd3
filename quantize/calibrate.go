package quantize

import (
	"fmt"
	"math"
	"slices"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/rpscam/rpscam/internal/onnx"
)

// Method is how a calibrated range is read from the observed activations.
type Method string

const (
	// MinMax takes the smallest and largest value seen.
	MinMax Method = "minmax"
	// Percentile clips the range at the 0.01% and 99.99% quantiles of a
	// sample of the values, so that rare outliers do not coarsen the step
	// for everything else.
	Percentile Method = "percentile"
)

// parseMethod accepts minmax or percentile.
func parseMethod(s string) (Method, error) {
	switch Method(s) {
	case MinMax, Percentile:
		return Method(s), nil
	}
	return "", fmt.Errorf("calibration method %q: want minmax or percentile", s)
}

// percentileTail is the share cut off each end by Percentile.
const percentileTail = 1e-4

// sampleCap bounds the values kept per activation for Percentile.
const sampleCap = 1 << 18

// stats are the activations observed at every point over the calibration images.
type stats struct {
	Images int
	points []string
	min    map[string]float32
	max    map[string]float32
	sample map[string][]float32
}

// Ranges are the calibrated ranges by method.
func (s *stats) Ranges(m Method) map[string]activationRange {
	r := make(map[string]activationRange, len(s.points))
	for _, p := range s.points {
		switch m {
		case Percentile:
			v := slices.Clone(s.sample[p])
			slices.Sort(v)
			if len(v) == 0 {
				r[p] = activationRange{}
				continue
			}
			at := func(q float64) float32 { return v[min(int(q*float64(len(v)-1)+0.5), len(v)-1)] }
			r[p] = activationRange{Min: at(percentileTail), Max: at(1 - percentileTail)}
		default:
			r[p] = activationRange{Min: s.min[p], Max: s.max[p]}
		}
	}
	return r
}

// calibrate runs the float model m on n preprocessed images (uint8, the
// model's input layout, n*size bytes in images) in batches, recording the
// range of every point (see points). m must take one uint8 input.
func calibrate(m *onnx.Model, images []uint8, n, batch, threads int) (*stats, error) {
	if n < 1 || len(images)%n != 0 {
		return nil, fmt.Errorf("calibrate: %d bytes do not hold %d images", len(images), n)
	}
	in := m.Graph.Inputs[0]
	if len(in.Dims) != 4 || in.Type != onnx.Uint8 {
		return nil, fmt.Errorf("%w: calibrate wants one uint8 [N,H,W,C] input", ErrUnsupported)
	}
	size := len(images) / n
	pts := points(m)
	tap := *m
	tap.Graph.Outputs = nil
	for _, p := range pts {
		tap.Graph.Outputs = append(tap.Graph.Outputs, onnx.ValueInfo{Name: p, Type: onnx.Float32, UnknownShape: true})
	}
	data, err := tap.Marshal()
	if err != nil {
		return nil, err
	}
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			return nil, err
		}
	}
	sess, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(data, []string{in.Name}, pts, opts)
	if err != nil {
		return nil, fmt.Errorf("calibrate: ONNX Runtime cannot load the float model: %w", err)
	}
	defer sess.Destroy()
	st := &stats{Images: n, points: pts, min: map[string]float32{}, max: map[string]float32{}, sample: map[string][]float32{}}
	for _, p := range pts {
		st.min[p], st.max[p] = float32(math.Inf(1)), float32(math.Inf(-1))
	}
	batches := (n + batch - 1) / batch
	for start := 0; start < n; start += batch {
		k := min(batch, n-start)
		shape := onnxruntime.NewShape(int64(k), in.Dims[1].Value, in.Dims[2].Value, in.Dims[3].Value)
		x, err := onnxruntime.NewTensor(shape, images[start*size:(start+k)*size])
		if err != nil {
			return nil, err
		}
		outs := make([]onnxruntime.Value, len(pts))
		err = sess.Run([]onnxruntime.Value{x}, outs)
		x.Destroy()
		if err != nil {
			return nil, fmt.Errorf("calibrate: %w", err)
		}
		for i, p := range pts {
			t, ok := outs[i].(*onnxruntime.Tensor[float32])
			if ok {
				st.observe(p, t.GetData(), batches)
			}
			outs[i].Destroy()
			if !ok {
				return nil, fmt.Errorf("calibrate: %s is not a float32 tensor", p)
			}
		}
	}
	return st, nil
}

// observe folds one batch's values of point p into the stats, keeping an
// evenly strided sample so that every batch contributes about equally.
func (s *stats) observe(p string, v []float32, batches int) {
	lo, hi := s.min[p], s.max[p]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	s.min[p], s.max[p] = lo, hi
	// An odd stride not divisible by 7 never lines up with the channel
	// planes (7x7 to 112x112), so every channel is sampled.
	stride := max(1, len(v)*batches/sampleCap) | 1
	if stride%7 == 0 {
		stride += 2
	}
	for i := 0; i < len(v); i += stride {
		s.sample[p] = append(s.sample[p], v[i])
	}
}
