package tflite

import (
	"encoding/binary"
	"fmt"
	"math"
)

// buf is a FlatBuffers byte buffer. Every accessor bounds-checks, so a
// truncated or corrupt file comes back as an error instead of a panic.
// FlatBuffers are little-endian on every platform.
type buf []byte

// table is a FlatBuffers table: its position in the buffer and its vtable.
type table struct {
	b      buf
	pos    int
	vtab   int
	vtSize int
}

func (b buf) u32(at int) (uint32, error) {
	if at < 0 || at+4 > len(b) {
		return 0, fmt.Errorf("offset %d out of range (file is %d bytes): truncated or not a TFLite file", at, len(b))
	}
	return binary.LittleEndian.Uint32(b[at:]), nil
}

func (b buf) u16(at int) (uint16, error) {
	if at < 0 || at+2 > len(b) {
		return 0, fmt.Errorf("offset %d out of range (file is %d bytes): truncated or not a TFLite file", at, len(b))
	}
	return binary.LittleEndian.Uint16(b[at:]), nil
}

// tableAt reads the table whose first byte is at pos: an int32 soffset back
// to the vtable, which lists the byte offset of each field within the table
// (0 = field absent, use the schema default).
func (b buf) tableAt(pos int) (table, error) {
	so, err := b.u32(pos)
	if err != nil {
		return table{}, err
	}
	vt := pos - int(int32(so))
	vtSize, err := b.u16(vt)
	if err != nil {
		return table{}, err
	}
	if vtSize < 4 || vt+int(vtSize) > len(b) {
		return table{}, fmt.Errorf("vtable at %d has bad size %d", vt, vtSize)
	}
	return table{b: b, pos: pos, vtab: vt, vtSize: int(vtSize)}, nil
}

// field returns the absolute position of field n, or 0 if it is absent.
func (t table) field(n int) int {
	slot := 4 + 2*n
	if slot+2 > t.vtSize {
		return 0
	}
	off := binary.LittleEndian.Uint16(t.b[t.vtab+slot:])
	if off == 0 {
		return 0
	}
	return t.pos + int(off)
}

func (t table) scalar(n, size int) ([]byte, error) {
	p := t.field(n)
	if p == 0 {
		return nil, nil
	}
	if p+size > len(t.b) {
		return nil, fmt.Errorf("field %d at %d out of range", n, p)
	}
	return t.b[p : p+size], nil
}

func (t table) int8(n int, def int8) (int8, error) {
	s, err := t.scalar(n, 1)
	if err != nil || s == nil {
		return def, err
	}
	return int8(s[0]), nil
}

func (t table) uint8(n int, def uint8) (uint8, error) {
	s, err := t.scalar(n, 1)
	if err != nil || s == nil {
		return def, err
	}
	return s[0], nil
}

func (t table) int32(n int, def int32) (int32, error) {
	s, err := t.scalar(n, 4)
	if err != nil || s == nil {
		return def, err
	}
	return int32(binary.LittleEndian.Uint32(s)), nil
}

func (t table) uint64(n int, def uint64) (uint64, error) {
	s, err := t.scalar(n, 8)
	if err != nil || s == nil {
		return def, err
	}
	return binary.LittleEndian.Uint64(s), nil
}

func (t table) bool(n int) (bool, error) {
	v, err := t.uint8(n, 0)
	return v != 0, err
}

// ref follows the uoffset stored in field n (tables, vectors, strings are
// stored out of line); 0 means absent.
func (t table) ref(n int) (int, error) {
	p := t.field(n)
	if p == 0 {
		return 0, nil
	}
	off, err := t.b.u32(p)
	if err != nil {
		return 0, err
	}
	return p + int(off), nil
}

// subtable returns the table in field n; ok is false when absent.
func (t table) subtable(n int) (table, bool, error) {
	p, err := t.ref(n)
	if err != nil || p == 0 {
		return table{}, false, err
	}
	st, err := t.b.tableAt(p)
	return st, err == nil, err
}

// vector returns the start of the element data and the element count of the
// vector in field n (0, 0 when absent).
func (t table) vector(n, elemSize int) (start, count int, err error) {
	p, err := t.ref(n)
	if err != nil || p == 0 {
		return 0, 0, err
	}
	c, err := t.b.u32(p)
	if err != nil {
		return 0, 0, err
	}
	start = p + 4
	if uint64(start)+uint64(c)*uint64(elemSize) > uint64(len(t.b)) {
		return 0, 0, fmt.Errorf("vector at %d of %d elements runs past the end of the file", p, c)
	}
	return start, int(c), nil
}

func (t table) bytes(n int) ([]byte, error) {
	s, c, err := t.vector(n, 1)
	if err != nil || c == 0 {
		return nil, err
	}
	return t.b[s : s+c], nil
}

func (t table) string(n int) (string, error) {
	b, err := t.bytes(n)
	return string(b), err
}

func (t table) int32s(n int) ([]int32, error) {
	s, c, err := t.vector(n, 4)
	if err != nil || c == 0 {
		return nil, err
	}
	out := make([]int32, c)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(t.b[s+4*i:]))
	}
	return out, nil
}

func (t table) int64s(n int) ([]int64, error) {
	s, c, err := t.vector(n, 8)
	if err != nil || c == 0 {
		return nil, err
	}
	out := make([]int64, c)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.b[s+8*i:]))
	}
	return out, nil
}

func (t table) float32s(n int) ([]float32, error) {
	s, c, err := t.vector(n, 4)
	if err != nil || c == 0 {
		return nil, err
	}
	out := make([]float32, c)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.b[s+4*i:]))
	}
	return out, nil
}

// tables returns the tables of a vector of tables in field n.
func (t table) tables(n int) ([]table, error) {
	s, c, err := t.vector(n, 4)
	if err != nil || c == 0 {
		return nil, err
	}
	out := make([]table, c)
	for i := range out {
		p := s + 4*i
		off, _ := t.b.u32(p)
		if out[i], err = t.b.tableAt(p + int(off)); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return out, nil
}
