// Package onnx writes ONNX model files.
//
// It is a small, dependency-light encoder for the subset of the ONNX protobuf
// schema (onnx/onnx.proto3) that rpscam produces: a single graph of standard
// operators with float32, int64, int32, int8 and uint8 tensors and string
// metadata. ONNX Runtime does the reading; ReadOps and ReadMetadata only
// pick operator types and metadata out of a file without loading it.
package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// DataType is TensorProto.DataType.
type DataType int32

// The element types rpscam uses.
const (
	Float32 DataType = 1
	Uint8   DataType = 2
	Int8    DataType = 3
	Int32   DataType = 6
	Int64   DataType = 7
)

// irVersion 8 pairs with opset 13..17 and is read by every ONNX Runtime since 1.10.
const irVersion = 8

// defaultOpset is the ai.onnx opset rpscam's graphs are written against.
const defaultOpset = 13

// Model is a whole ONNX file.
type Model struct {
	Graph           Graph
	Opset           int64 // ai.onnx opset; defaultOpset when zero
	ProducerName    string
	ProducerVersion string
	DocString       string
	// Metadata becomes ModelProto.metadata_props, which ONNX Runtime exposes as
	// the custom metadata map. Keys are written sorted so files are reproducible.
	Metadata map[string]string
}

// Graph is a computation graph. Nodes must be in topological order.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Node is one operator application.
type Node struct {
	Name    string
	Op      string
	Inputs  []string
	Outputs []string
	Attrs   []Attr
}

// Tensor is a constant (an initializer or a tensor attribute). Exactly one of
// the data slices matching Type is used.
type Tensor struct {
	Name  string
	Type  DataType
	Dims  []int64
	Float []float32
	Int64 []int64
	Int32 []int32
	Bytes []byte // Uint8 or Int8 data
}

// ValueInfo declares a graph input or output.
type ValueInfo struct {
	Name string
	Type DataType
	Dims []Dim
	// UnknownShape leaves the shape out (Dims are ignored): ONNX Runtime
	// infers it, e.g. for an intermediate tensor exposed as an output.
	UnknownShape bool
}

// Dim is one dimension of a declared shape: a fixed size, or a symbolic name
// such as "N" for a batch dimension chosen at run time.
type Dim struct {
	Value int64
	Param string
}

// Dims makes fixed dimensions.
func Dims(values ...int64) []Dim {
	d := make([]Dim, len(values))
	for i, v := range values {
		d[i] = Dim{Value: v}
	}
	return d
}

// Attr is a node attribute; build it with the Attr* constructors.
type Attr struct {
	name   string
	kind   int32
	i      int64
	f      float32
	s      string
	ints   []int64
	floats []float32
	t      *Tensor
}

// Attribute type numbers from AttributeProto.AttributeType.
const (
	attrFloat  = 1
	attrInt    = 2
	attrString = 3
	attrTensor = 4
	attrFloats = 6
	attrInts   = 7
)

// AttrInt is an integer attribute.
func AttrInt(name string, v int64) Attr { return Attr{name: name, kind: attrInt, i: v} }

// floatAttr is a float attribute.
func floatAttr(name string, v float32) Attr { return Attr{name: name, kind: attrFloat, f: v} }

// stringAttr is a string attribute.
func stringAttr(name, v string) Attr { return Attr{name: name, kind: attrString, s: v} }

// AttrInts is an integer-list attribute.
func AttrInts(name string, v ...int64) Attr { return Attr{name: name, kind: attrInts, ints: v} }

// floatsAttr is a float-list attribute.
func floatsAttr(name string, v ...float32) Attr { return Attr{name: name, kind: attrFloats, floats: v} }

// tensorAttr is a tensor attribute (as Constant's "value").
func tensorAttr(name string, t Tensor) Attr { return Attr{name: name, kind: attrTensor, t: &t} }

// Marshal encodes the model as ONNX protobuf bytes. It checks that every
// tensor's data length matches its dimensions, the most common way to write a
// file that ONNX Runtime then rejects with a less helpful message.
func (m *Model) Marshal() ([]byte, error) {
	for i := range m.Graph.Initializers {
		if err := m.Graph.Initializers[i].check(); err != nil {
			return nil, err
		}
	}
	for _, n := range m.Graph.Nodes {
		for _, a := range n.Attrs {
			if a.t != nil {
				if err := a.t.check(); err != nil {
					return nil, fmt.Errorf("node %s: %w", n.Name, err)
				}
			}
		}
	}
	opset := m.Opset
	if opset == 0 {
		opset = defaultOpset
	}
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, irVersion)
	b = appendString(b, 2, m.ProducerName)
	b = appendString(b, 3, m.ProducerVersion)
	b = appendString(b, 6, m.DocString)
	b = appendMessage(b, 7, m.Graph.marshal())
	var op []byte
	op = appendString(op, 1, "")
	op = protowire.AppendTag(op, 2, protowire.VarintType)
	op = protowire.AppendVarint(op, uint64(opset))
	b = appendMessage(b, 8, op)
	keys := make([]string, 0, len(m.Metadata))
	for k := range m.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var kv []byte
		kv = appendString(kv, 1, k)
		kv = appendString(kv, 2, m.Metadata[k])
		b = appendMessage(b, 14, kv)
	}
	return b, nil
}

func (g *Graph) marshal() []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendMessage(b, 1, n.marshal())
	}
	b = appendString(b, 2, g.Name)
	for i := range g.Initializers {
		b = appendMessage(b, 5, g.Initializers[i].marshal())
	}
	for _, v := range g.Inputs {
		b = appendMessage(b, 11, v.marshal())
	}
	for _, v := range g.Outputs {
		b = appendMessage(b, 12, v.marshal())
	}
	return b
}

func (n *Node) marshal() []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, in) // empty names mark omitted optional inputs
	}
	for _, out := range n.Outputs {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, out)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.Op)
	for _, a := range n.Attrs {
		b = appendMessage(b, 5, a.marshal())
	}
	return b
}

// Name is the attribute's name.
func (a Attr) Name() string { return a.name }

// Int is an integer attribute's value (0 for other kinds).
func (a Attr) Int() int64 { return a.i }

func (a *Attr) marshal() []byte {
	var b []byte
	b = appendString(b, 1, a.name)
	switch a.kind {
	case attrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.i))
	case attrString:
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendString(b, a.s)
	case attrTensor:
		b = appendMessage(b, 5, a.t.marshal())
	case attrFloats:
		var p []byte
		for _, f := range a.floats {
			p = protowire.AppendFixed32(p, math.Float32bits(f))
		}
		b = appendMessage(b, 7, p)
	case attrInts:
		var p []byte
		for _, v := range a.ints {
			p = protowire.AppendVarint(p, uint64(v))
		}
		b = appendMessage(b, 8, p)
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(a.kind))
	return b
}

func (t *Tensor) elements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

func (t *Tensor) check() error {
	var have int
	switch t.Type {
	case Float32:
		have = len(t.Float)
	case Int64:
		have = len(t.Int64)
	case Int32:
		have = len(t.Int32)
	case Uint8, Int8:
		have = len(t.Bytes)
	default:
		return fmt.Errorf("tensor %q: unsupported data type %d", t.Name, t.Type)
	}
	if int64(have) != t.elements() {
		return fmt.Errorf("tensor %q: dims %v need %d elements, have %d", t.Name, t.Dims, t.elements(), have)
	}
	return nil
}

func (t *Tensor) marshal() []byte {
	var b []byte
	if len(t.Dims) > 0 {
		var p []byte
		for _, d := range t.Dims {
			p = protowire.AppendVarint(p, uint64(d))
		}
		b = appendMessage(b, 1, p)
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.Type))
	b = appendString(b, 8, t.Name)
	// raw_data is little-endian, which is what ONNX specifies regardless of host.
	var raw []byte
	switch t.Type {
	case Float32:
		raw = make([]byte, 4*len(t.Float))
		for i, f := range t.Float {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
		}
	case Int64:
		raw = make([]byte, 8*len(t.Int64))
		for i, v := range t.Int64 {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
	case Int32:
		raw = make([]byte, 4*len(t.Int32))
		for i, v := range t.Int32 {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
		}
	case Uint8, Int8:
		raw = t.Bytes
	}
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	b = protowire.AppendBytes(b, raw)
	return b
}

func (v *ValueInfo) marshal() []byte {
	var shape []byte
	for _, d := range v.Dims {
		var dim []byte
		if d.Param != "" {
			dim = appendString(dim, 2, d.Param)
		} else {
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d.Value))
		}
		shape = appendMessage(shape, 1, dim)
	}
	var tensorType []byte
	tensorType = protowire.AppendTag(tensorType, 1, protowire.VarintType)
	tensorType = protowire.AppendVarint(tensorType, uint64(v.Type))
	if !v.UnknownShape {
		tensorType = appendMessage(tensorType, 2, shape)
	}
	var typ []byte
	typ = appendMessage(typ, 1, tensorType)
	var b []byte
	b = appendString(b, 1, v.Name)
	b = appendMessage(b, 2, typ)
	return b
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, field protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}
