package tail

import (
	"errors"
	"fmt"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// Params are the tail's tensors by name (Dims.ParamNames), in the layouts Dims.Shape gives.
type Params map[string][]float32

// Clone returns a deep copy.
func (p Params) Clone() Params {
	out := make(Params, len(p))
	for k, v := range p {
		out[k] = append([]float32(nil), v...)
	}
	return out
}

// Check verifies that p has every tensor with the right size.
func (d Dims) Check(p Params) error {
	for _, name := range d.ParamNames() {
		want := int64(1)
		for _, s := range d.Shape(name) {
			want *= s
		}
		if int64(len(p[name])) != want {
			return fmt.Errorf("tail parameter %s has %d values, want %d (%v)", name, len(p[name]), want, d.Shape(name))
		}
	}
	return nil
}

// Session runs one tail graph in ONNX Runtime (which must be initialised,
// see internal/ort). It is not safe for concurrent use.
type Session struct {
	dims      Dims
	train     bool
	trainable []string
	s         *onnxruntime.DynamicAdvancedSession
	inputs    []string
	outputs   []string
	consts    []onnxruntime.Value
}

// SessionOption configures NewSession.
type SessionOption func(*sessionConfig)

type sessionConfig struct{ threads int }

// WithThreads sets ONNX Runtime's intra-op threads (default 2).
func WithThreads(n int) SessionOption { return func(c *sessionConfig) { c.threads = n } }

// NewSession builds the graph for dims (trainable non-empty: the training
// graph with those parameters' gradients; empty: inference) and opens it.
func NewSession(d Dims, trainable []string, opts ...SessionOption) (*Session, error) {
	cfg := sessionConfig{threads: 2}
	for _, o := range opts {
		o(&cfg)
	}
	var gopts []graphOption
	if len(trainable) > 0 {
		gopts = append(gopts, training(trainable...))
	}
	m, err := build(d, gopts...)
	if err != nil {
		return nil, err
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	s := &Session{dims: d, train: len(trainable) > 0, trainable: trainable}
	for _, in := range m.Graph.Inputs {
		s.inputs = append(s.inputs, in.Name)
	}
	for _, out := range m.Graph.Outputs {
		s.outputs = append(s.outputs, out.Name)
	}
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("tail: session options: %w", err)
	}
	defer so.Destroy()
	if cfg.threads > 0 {
		if err := so.SetIntraOpNumThreads(cfg.threads); err != nil {
			return nil, fmt.Errorf("tail: threads: %w", err)
		}
	}
	if s.s, err = onnxruntime.NewDynamicAdvancedSessionWithONNXData(data, s.inputs, s.outputs, so); err != nil {
		return nil, fmt.Errorf("tail: ONNX Runtime rejected the tail graph: %w", err)
	}
	for _, v := range []float32{0, 6, 1 / float32(d.Size*d.Size)} {
		c, err := onnxruntime.NewScalar(v)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.consts = append(s.consts, c)
	}
	return s, nil
}

// Close releases the session.
func (s *Session) Close() error {
	for _, c := range s.consts {
		c.Destroy()
	}
	s.consts = nil
	if s.s != nil {
		err := s.s.Destroy()
		s.s = nil
		return err
	}
	return nil
}

// Batch is n examples' trunk activations x (n*S*S*In values, NHWC) and,
// for training, one-hot labels (n*Classes), loss weights (n, summing to 1
// for a mean) and dropout masks (n*Features).
type Batch struct {
	N      int
	X      []float32
	OneHot []float32
	Weight []float32
	Mask   []float32
}

// Result is what one run returns: probabilities [N,Classes], pooled
// features [N,Features], and for training the loss and gradients.
type Result struct {
	Probs  []float32
	Pooled []float32
	Loss   float64
	Grads  Params
}

// Run evaluates the graph on b with parameters p.
func (s *Session) Run(b Batch, p Params) (*Result, error) {
	if s.s == nil {
		return nil, errors.New("tail: session used after Close")
	}
	d := s.dims
	if b.N < 1 || len(b.X) != b.N*d.InputLen() {
		return nil, fmt.Errorf("tail: %d activation values for %d examples, want %d each", len(b.X), b.N, d.InputLen())
	}
	if s.train && (len(b.OneHot) != b.N*d.Classes || len(b.Weight) != b.N || len(b.Mask) != b.N*d.Features) {
		return nil, fmt.Errorf("tail: training batch of %d needs %d one-hot, %d weight and %d mask values, got %d, %d, %d",
			b.N, b.N*d.Classes, b.N, b.N*d.Features, len(b.OneHot), len(b.Weight), len(b.Mask))
	}
	if err := d.Check(p); err != nil {
		return nil, err
	}
	var owned []onnxruntime.Value
	defer func() {
		for _, v := range owned {
			v.Destroy()
		}
	}()
	tensor := func(data []float32, shape ...int64) (onnxruntime.Value, error) {
		t, err := onnxruntime.NewTensor(onnxruntime.NewShape(shape...), data)
		if err != nil {
			return nil, fmt.Errorf("tail: tensor %v: %w", shape, err)
		}
		owned = append(owned, t)
		return t, nil
	}
	n := int64(b.N)
	vals := make([]onnxruntime.Value, 0, len(s.inputs))
	for _, name := range s.inputs {
		var v onnxruntime.Value
		var err error
		switch name {
		case inputX:
			v, err = tensor(b.X, n, int64(d.InputSide()), int64(d.InputSide()), int64(d.InputChannels()))
		case constZero:
			v = s.consts[0]
		case constSix:
			v = s.consts[1]
		case constArea:
			v = s.consts[2]
		case inputY:
			v, err = tensor(b.OneHot, n, int64(d.Classes))
		case inputWt:
			v, err = tensor(b.Weight, n, 1)
		case inputMask:
			v, err = tensor(b.Mask, n, int64(d.Features))
		default:
			v, err = tensor(p[name], d.Shape(name)...)
		}
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	outs := make([]onnxruntime.Value, len(s.outputs))
	if err := s.s.Run(vals, outs); err != nil {
		return nil, fmt.Errorf("tail: running the graph: %w", err)
	}
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	r := &Result{}
	for i, name := range s.outputs {
		t, ok := outs[i].(*onnxruntime.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("tail: output %s is not a float32 tensor", name)
		}
		data := append([]float32(nil), t.GetData()...)
		switch {
		case name == outProbs:
			r.Probs = data
		case name == outPooled:
			r.Pooled = data
		case name == outLoss:
			r.Loss = float64(data[0])
		default:
			if r.Grads == nil {
				r.Grads = Params{}
			}
			r.Grads[name[len(gradOf):]] = data
		}
	}
	return r, nil
}
