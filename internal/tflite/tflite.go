// Package tflite reads TensorFlow Lite model files (FlatBuffers, schema v3).
//
// It is a hand-written reader for the part of tensorflow/lite/schema/schema.fbs
// that describes a feed-forward image model: operator codes, the first
// subgraph's tensors (with quantization parameters) and operators (with the
// builtin options of the convolution, pooling, add and reshape operators), and
// the constant buffers. It does not run models; package model turns what it
// reads into float32 layers.
package tflite

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
)

// ErrFormat is wrapped by every error about a file that is not a readable
// TFLite model.
var ErrFormat = errors.New("not a readable TFLite model")

// BuiltinOp is schema.fbs's BuiltinOperator.
type BuiltinOp int32

// The builtin operators rpscam's MobileNet-v2 files use (values from schema.fbs).
const (
	OpAdd             BuiltinOp = 0
	OpAveragePool2D   BuiltinOp = 1
	OpConv2D          BuiltinOp = 3
	OpDepthwiseConv2D BuiltinOp = 4
	OpDequantize      BuiltinOp = 6
	OpFullyConnected  BuiltinOp = 9
	OpReshape         BuiltinOp = 22
	OpSoftmax         BuiltinOp = 25
	OpPad             BuiltinOp = 34
	OpMean            BuiltinOp = 40
	OpSqueeze         BuiltinOp = 43
	OpQuantize        BuiltinOp = 114
)

var opNames = map[BuiltinOp]string{
	OpAdd: "ADD", OpAveragePool2D: "AVERAGE_POOL_2D", OpConv2D: "CONV_2D",
	OpDepthwiseConv2D: "DEPTHWISE_CONV_2D", OpDequantize: "DEQUANTIZE",
	OpFullyConnected: "FULLY_CONNECTED", OpReshape: "RESHAPE", OpSoftmax: "SOFTMAX",
	OpPad: "PAD", OpMean: "MEAN", OpSqueeze: "SQUEEZE", OpQuantize: "QUANTIZE",
}

func (o BuiltinOp) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return fmt.Sprintf("BuiltinOperator(%d)", int32(o))
}

// TensorType is schema.fbs's TensorType.
type TensorType int8

// Tensor element types.
const (
	Float32 TensorType = 0
	Float16 TensorType = 1
	Int32   TensorType = 2
	Uint8   TensorType = 3
	Int64   TensorType = 4
	Int16   TensorType = 7
	Int8    TensorType = 9
)

var typeNames = map[TensorType]string{Float32: "float32", Float16: "float16", Int32: "int32", Uint8: "uint8", Int64: "int64", Int16: "int16", Int8: "int8"}

func (t TensorType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("TensorType(%d)", int8(t))
}

// Size is the element size in bytes (0 for types this package does not decode).
func (t TensorType) Size() int {
	switch t {
	case Float32, Int32:
		return 4
	case Float16, Int16:
		return 2
	case Uint8, Int8:
		return 1
	case Int64:
		return 8
	}
	return 0
}

// Padding is schema.fbs's Padding.
type Padding int8

// Padding modes. Same is TensorFlow's "SAME": output = ceil(input/stride), with
// any odd padding put after (bottom/right), not before.
const (
	Same  Padding = 0
	Valid Padding = 1
)

func (p Padding) String() string {
	switch p {
	case Same:
		return "SAME"
	case Valid:
		return "VALID"
	}
	return fmt.Sprintf("Padding(%d)", int8(p))
}

// Activation is schema.fbs's ActivationFunctionType.
type Activation int8

// Fused activations.
const (
	ActNone  Activation = 0
	ActRelu  Activation = 1
	ActRelu1 Activation = 2
	ActRelu6 Activation = 3
	ActTanh  Activation = 4
)

func (a Activation) String() string {
	switch a {
	case ActNone:
		return "NONE"
	case ActRelu:
		return "RELU"
	case ActRelu1:
		return "RELU_N1_TO_1"
	case ActRelu6:
		return "RELU6"
	case ActTanh:
		return "TANH"
	}
	return fmt.Sprintf("Activation(%d)", int8(a))
}

// Quantization holds a tensor's affine quantization: real = (q - ZeroPoint) * Scale.
// With one scale it is per tensor; with more, per slice along QuantizedDimension.
type Quantization struct {
	Scale              []float32
	ZeroPoint          []int64
	QuantizedDimension int
	Min, Max           []float32
}

// Tensor is one entry of a subgraph's tensor table.
type Tensor struct {
	Name         string
	Shape        []int
	Type         TensorType
	Buffer       int // index into Model.Buffers; buffer 0 is the empty sentinel
	Quantization *Quantization
}

// Options are the builtin options of the operators this package decodes; the
// fields that do not apply to an operator are zero.
type Options struct {
	Padding          Padding
	StrideW, StrideH int
	DilationW        int
	DilationH        int
	DepthMultiplier  int
	FilterW, FilterH int // Pool2D
	Activation       Activation
	NewShape         []int // Reshape
	KeepDims         bool  // Mean (ReducerOptions)
}

// Operator is one node of the subgraph, in execution order.
type Operator struct {
	Opcode  int // index into Model.OperatorCodes
	Builtin BuiltinOp
	Inputs  []int // tensor indices; -1 marks an omitted optional input
	Outputs []int
	Options Options
}

// OperatorCode identifies an operator kind.
type OperatorCode struct {
	Builtin BuiltinOp
	Custom  string
	Version int
}

// Model is the decoded file: the first subgraph only, which is all an image
// classifier has.
type Model struct {
	Version       uint32
	Description   string
	OperatorCodes []OperatorCode
	Tensors       []Tensor
	Operators     []Operator
	Inputs        []int
	Outputs       []int
	Buffers       [][]byte
	// SHA256 is the hex digest of the file's bytes, for provenance checks.
	SHA256 string
}

// ReadFile reads and parses the TFLite file at path.
func ReadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading TFLite model: %w", err)
	}
	m, err := parseData(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// parseData decodes a TFLite flatbuffer. Buffers alias data.
func parseData(data []byte) (*Model, error) {
	m, err := parse(buf(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	sum := sha256.Sum256(data)
	m.SHA256 = hex.EncodeToString(sum[:])
	return m, nil
}

func parse(b buf) (*Model, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("file is %d bytes", len(b))
	}
	if id := string(b[4:8]); id != "TFL3" {
		return nil, fmt.Errorf("file identifier is %q, want \"TFL3\"", id)
	}
	root, err := b.u32(0)
	if err != nil {
		return nil, err
	}
	mt, err := b.tableAt(int(root))
	if err != nil {
		return nil, fmt.Errorf("root table: %w", err)
	}
	m := &Model{}
	v, err := mt.int32(0, 0)
	if err != nil {
		return nil, err
	}
	m.Version = uint32(v)
	if m.Version != 3 {
		return nil, fmt.Errorf("schema version %d, this reader knows version 3", m.Version)
	}
	if m.Description, err = mt.string(3); err != nil {
		return nil, err
	}
	codes, err := mt.tables(1)
	if err != nil {
		return nil, fmt.Errorf("operator_codes: %w", err)
	}
	for i, ct := range codes {
		oc, err := readOperatorCode(ct)
		if err != nil {
			return nil, fmt.Errorf("operator_codes[%d]: %w", i, err)
		}
		m.OperatorCodes = append(m.OperatorCodes, oc)
	}
	bufs, err := mt.tables(4)
	if err != nil {
		return nil, fmt.Errorf("buffers: %w", err)
	}
	m.Buffers = make([][]byte, len(bufs))
	for i, bt := range bufs {
		if m.Buffers[i], err = readBuffer(b, bt); err != nil {
			return nil, fmt.Errorf("buffers[%d]: %w", i, err)
		}
	}
	subgraphs, err := mt.tables(2)
	if err != nil {
		return nil, fmt.Errorf("subgraphs: %w", err)
	}
	if len(subgraphs) == 0 {
		return nil, errors.New("no subgraphs")
	}
	sg := subgraphs[0]
	tensors, err := sg.tables(0)
	if err != nil {
		return nil, fmt.Errorf("tensors: %w", err)
	}
	for i, tt := range tensors {
		t, err := readTensor(tt)
		if err != nil {
			return nil, fmt.Errorf("tensors[%d]: %w", i, err)
		}
		if t.Buffer < 0 || t.Buffer >= len(m.Buffers) {
			return nil, fmt.Errorf("tensor %q refers to buffer %d of %d", t.Name, t.Buffer, len(m.Buffers))
		}
		m.Tensors = append(m.Tensors, t)
	}
	if m.Inputs, err = intsOf(sg, 1); err != nil {
		return nil, err
	}
	if m.Outputs, err = intsOf(sg, 2); err != nil {
		return nil, err
	}
	ops, err := sg.tables(3)
	if err != nil {
		return nil, fmt.Errorf("operators: %w", err)
	}
	for i, ot := range ops {
		op, err := readOperator(ot, m)
		if err != nil {
			return nil, fmt.Errorf("operators[%d]: %w", i, err)
		}
		m.Operators = append(m.Operators, op)
	}
	return m, nil
}

func intsOf(t table, n int) ([]int, error) {
	v, err := t.int32s(n)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out, nil
}

func readOperatorCode(t table) (OperatorCode, error) {
	// Schema v3 moved builtin_code from the int8 field 0 (now
	// deprecated_builtin_code, capped at 127) to the int32 field 3; writers set
	// both, old writers only the first, so the larger is the real code.
	dep, err := t.int8(0, 0)
	if err != nil {
		return OperatorCode{}, err
	}
	code, err := t.int32(3, 0)
	if err != nil {
		return OperatorCode{}, err
	}
	custom, err := t.string(1)
	if err != nil {
		return OperatorCode{}, err
	}
	ver, err := t.int32(2, 1)
	if err != nil {
		return OperatorCode{}, err
	}
	return OperatorCode{Builtin: BuiltinOp(max(int32(dep), code)), Custom: custom, Version: int(ver)}, nil
}

func readBuffer(b buf, t table) ([]byte, error) {
	data, err := t.bytes(0)
	if err != nil || data != nil {
		return data, err
	}
	// Files over 2 GB keep buffer data after the flatbuffer, addressed by
	// offset (from the start of the file) and size.
	off, err := t.uint64(1, 0)
	if err != nil {
		return nil, err
	}
	size, err := t.uint64(2, 0)
	if err != nil || off <= 1 || size == 0 {
		return nil, err
	}
	if off+size > uint64(len(b)) {
		return nil, fmt.Errorf("external data [%d, +%d) past the end of the file", off, size)
	}
	return b[off : off+size], nil
}

func readTensor(t table) (Tensor, error) {
	var out Tensor
	var err error
	if out.Shape, err = intsOf(t, 0); err != nil {
		return out, err
	}
	typ, err := t.int8(1, 0)
	if err != nil {
		return out, err
	}
	out.Type = TensorType(typ)
	bufIdx, err := t.int32(2, 0)
	if err != nil {
		return out, err
	}
	out.Buffer = int(bufIdx)
	if out.Name, err = t.string(3); err != nil {
		return out, err
	}
	qt, ok, err := t.subtable(4)
	if err != nil {
		return out, fmt.Errorf("quantization: %w", err)
	}
	if ok {
		q := &Quantization{}
		if q.Min, err = qt.float32s(0); err != nil {
			return out, err
		}
		if q.Max, err = qt.float32s(1); err != nil {
			return out, err
		}
		if q.Scale, err = qt.float32s(2); err != nil {
			return out, err
		}
		if q.ZeroPoint, err = qt.int64s(3); err != nil {
			return out, err
		}
		qd, err := qt.int32(6, 0)
		if err != nil {
			return out, err
		}
		q.QuantizedDimension = int(qd)
		if len(q.Scale) > 0 {
			out.Quantization = q
		}
	}
	return out, nil
}

// Union type numbers of BuiltinOptions in schema.fbs.
const (
	optConv2D          = 1
	optDepthwiseConv2D = 2
	optPool2D          = 5
	optAdd             = 11
	optReshape         = 17
	optReducer         = 27
)

func readOperator(t table, m *Model) (Operator, error) {
	var op Operator
	idx, err := t.int32(0, 0)
	if err != nil {
		return op, err
	}
	if idx < 0 || int(idx) >= len(m.OperatorCodes) {
		return op, fmt.Errorf("opcode_index %d of %d operator codes", idx, len(m.OperatorCodes))
	}
	op.Opcode = int(idx)
	op.Builtin = m.OperatorCodes[idx].Builtin
	if op.Inputs, err = intsOf(t, 1); err != nil {
		return op, err
	}
	if op.Outputs, err = intsOf(t, 2); err != nil {
		return op, err
	}
	for _, ti := range append(append([]int(nil), op.Inputs...), op.Outputs...) {
		if ti < -1 || ti >= len(m.Tensors) {
			return op, fmt.Errorf("%v refers to tensor %d of %d", op.Builtin, ti, len(m.Tensors))
		}
	}
	optType, err := t.uint8(3, 0)
	if err != nil {
		return op, err
	}
	ot, ok, err := t.subtable(4)
	if err != nil {
		return op, fmt.Errorf("builtin_options: %w", err)
	}
	if !ok {
		return op, nil
	}
	o := &op.Options
	i32 := func(n int, def int32) int {
		if err != nil {
			return 0
		}
		var v int32
		v, err = ot.int32(n, def)
		return int(v)
	}
	i8 := func(n int) int8 {
		if err != nil {
			return 0
		}
		var v int8
		v, err = ot.int8(n, 0)
		return v
	}
	switch optType {
	case optConv2D:
		o.Padding = Padding(i8(0))
		o.StrideW, o.StrideH = i32(1, 0), i32(2, 0)
		o.Activation = Activation(i8(3))
		o.DilationW, o.DilationH = i32(4, 1), i32(5, 1)
	case optDepthwiseConv2D:
		o.Padding = Padding(i8(0))
		o.StrideW, o.StrideH = i32(1, 0), i32(2, 0)
		o.DepthMultiplier = i32(3, 0)
		o.Activation = Activation(i8(4))
		o.DilationW, o.DilationH = i32(5, 1), i32(6, 1)
	case optPool2D:
		o.Padding = Padding(i8(0))
		o.StrideW, o.StrideH = i32(1, 0), i32(2, 0)
		o.FilterW, o.FilterH = i32(3, 0), i32(4, 0)
		o.Activation = Activation(i8(5))
	case optAdd:
		o.Activation = Activation(i8(0))
	case optReshape:
		o.NewShape, err = intsOf(ot, 0)
	case optReducer:
		o.KeepDims, err = ot.bool(0)
	}
	return op, err
}
