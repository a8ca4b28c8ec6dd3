package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rpscam/rpscam/internal/nn"
)

// Params are what training adds to the backbone: a dense classification
// head on the 1280 features and, optionally, fine-tuned replacements for
// some backbone layers.
type Params struct {
	// Labels name the classes in output order, e.g. rock, paper, scissors.
	Labels []string
	// HeadW is the dense layer's weights, [classes][features] row-major;
	// HeadB its biases, [classes]. features is len(HeadW)/len(Labels) and
	// must be FeatureSize for BuildONNX.
	HeadW []float32
	HeadB []float32
	// Layers optionally replaces backbone layers by name (Layer.Name, e.g.
	// "Conv_1", "block_16_project"), in the same layout as Layer.Weights
	// and Layer.Bias.
	Layers map[string]LayerParams
	// Meta is copied into the ONNX metadata (training date, data,
	// validation figures...).
	Meta map[string]string
}

// LayerParams are fine-tuned weights for one backbone layer.
type LayerParams struct {
	Weights []float32
	Bias    []float32
}

// Classes is the number of output classes.
func (p *Params) Classes() int { return len(p.Labels) }

// Features is the head's input width.
func (p *Params) Features() int {
	if len(p.Labels) == 0 {
		return 0
	}
	return len(p.HeadW) / len(p.Labels)
}

// Validate checks the head's shapes and that every value is finite.
func (p *Params) Validate() error {
	if p == nil {
		return errors.New("params: nil")
	}
	if len(p.Labels) < 2 {
		return fmt.Errorf("params: %d labels, a classifier needs at least 2", len(p.Labels))
	}
	seen := map[string]bool{}
	for _, l := range p.Labels {
		if l == "" || strings.ContainsAny(l, ",\n") || strings.TrimSpace(l) != l {
			return fmt.Errorf("params: label %q must be non-empty, without commas, newlines or surrounding spaces (labels are stored comma-separated)", l)
		}
		if seen[l] {
			return fmt.Errorf("params: label %q appears twice", l)
		}
		seen[l] = true
	}
	c := len(p.Labels)
	if len(p.HeadW) == 0 || len(p.HeadW)%c != 0 {
		return fmt.Errorf("params: %d head weights are not [%d classes][features]", len(p.HeadW), c)
	}
	if len(p.HeadB) != c {
		return fmt.Errorf("params: %d head biases for %d classes", len(p.HeadB), c)
	}
	if err := finite("head weights", p.HeadW); err != nil {
		return err
	}
	if err := finite("head biases", p.HeadB); err != nil {
		return err
	}
	for name, lp := range p.Layers {
		if name == "" {
			return errors.New("params: fine-tuned layer with an empty name")
		}
		if err := finite(name+" weights", lp.Weights); err != nil {
			return err
		}
		if err := finite(name+" biases", lp.Bias); err != nil {
			return err
		}
	}
	return nil
}

func finite(what string, v []float32) error {
	for i, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("params: %s[%d] is %v: training diverged", what, i, f)
		}
	}
	return nil
}

// The params file format, version 1. All integers are little-endian uint32
// unless noted; strings are a uint32 byte length and UTF-8 bytes.
//
//	magic     "RPSPARAM" (8 bytes)
//	version   1
//	meta      count, then (key string, value string) pairs sorted by key
//	labels    count, then strings
//	features  head input width F
//	headW     classes*F float32, [classes][F] row-major
//	headB     classes float32
//	layers    count, then per layer (sorted by name): name string,
//	          encoding byte (1 = float32, 2 = IEEE float16), weight count,
//	          weights in that encoding, bias count, biases as float32
//	sha256    32 bytes over everything above
const (
	paramsMagic   = "RPSPARAM"
	paramsVersion = 1
	encFloat32    = 1
	encFloat16    = 2
)

// ErrChecksum is returned by ReadParams for a file whose content does not
// match its checksum (corrupt or hand-edited).
var ErrChecksum = errors.New("params file checksum mismatch")

// WriteOption changes how WriteParams encodes a file.
type WriteOption func(*writeConfig)

type writeConfig struct{ float16Layers bool }

// Float16Layers stores fine-tuned layer weights as IEEE half precision,
// halving the file (Conv_1 alone is 409,600 weights). Relative rounding is at
// most 2^-11, far below what fine-tuning changes; the head and all biases
// stay float32.
func Float16Layers() WriteOption { return func(c *writeConfig) { c.float16Layers = true } }

// WriteParams writes p to path atomically (a temporary file renamed into place).
func WriteParams(path string, p *Params, opts ...WriteOption) error {
	var cfg writeConfig
	for _, o := range opts {
		o(&cfg)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	b := encodeParams(p, p.Meta, cfg)
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing params: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("writing params: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing params: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing params: %w", err)
	}
	return nil
}

// WeightsSHA256 is the sha256 of p's labels and numbers in float32, without
// the metadata. A params file's own checksum changes with every run's training
// date and command; this one only when a parameter does, so two runs compare
// by it. A float16 file read back hashes as its float16-rounded values.
func (p *Params) WeightsSHA256() string {
	b := encodeParams(p, nil, writeConfig{})
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// encodeParams is a params file's content before its checksum, with meta
// in place of p.Meta.
func encodeParams(p *Params, meta map[string]string, cfg writeConfig) *bytes.Buffer {
	var b bytes.Buffer
	b.WriteString(paramsMagic)
	u32 := func(v int) { _ = binary.Write(&b, binary.LittleEndian, uint32(v)) }
	str := func(s string) { u32(len(s)); b.WriteString(s) }
	f32s := func(v []float32) {
		for _, f := range v {
			_ = binary.Write(&b, binary.LittleEndian, math.Float32bits(f))
		}
	}
	u32(paramsVersion)
	keys := sortedKeys(meta)
	u32(len(keys))
	for _, k := range keys {
		str(k)
		str(meta[k])
	}
	u32(len(p.Labels))
	for _, l := range p.Labels {
		str(l)
	}
	u32(p.Features())
	f32s(p.HeadW)
	f32s(p.HeadB)
	names := sortedKeys(p.Layers)
	u32(len(names))
	for _, n := range names {
		lp := p.Layers[n]
		str(n)
		if cfg.float16Layers {
			b.WriteByte(encFloat16)
			u32(len(lp.Weights))
			b.Write(nn.HalfBytesFromFloat32s(lp.Weights))
		} else {
			b.WriteByte(encFloat32)
			u32(len(lp.Weights))
			f32s(lp.Weights)
		}
		u32(len(lp.Bias))
		f32s(lp.Bias)
	}
	return &b
}

// ReadParams reads a file written by WriteParams, verifying its checksum.
func ReadParams(path string) (*Params, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading params: %w", err)
	}
	p, err := decodeParams(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func decodeParams(data []byte) (*Params, error) {
	if len(data) < len(paramsMagic)+4+sha256.Size || string(data[:len(paramsMagic)]) != paramsMagic {
		return nil, errors.New("not an rpscam params file (no RPSPARAM header)")
	}
	body, stored := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if v := binary.LittleEndian.Uint32(body[len(paramsMagic):]); v != paramsVersion {
		return nil, fmt.Errorf("params format version %d, this rpscam reads version %d: rebuild rpscam or re-export the params", v, paramsVersion)
	}
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], stored) {
		return nil, fmt.Errorf("%w: the file is corrupt or was modified; restore it (git checkout) or retrain", ErrChecksum)
	}
	r := &reader{b: body[len(paramsMagic)+4:]}
	p := &Params{}
	if n := r.count(8); n > 0 {
		p.Meta = make(map[string]string, n)
		for i := 0; i < n; i++ {
			k := r.str()
			p.Meta[k] = r.str()
		}
	}
	nl := r.count(4)
	for i := 0; i < nl; i++ {
		p.Labels = append(p.Labels, r.str())
	}
	features := r.count(4)
	p.HeadW = r.f32s(nl * features)
	p.HeadB = r.f32s(nl)
	if n := r.count(9); n > 0 {
		p.Layers = make(map[string]LayerParams, n)
		for i := 0; i < n; i++ {
			name := r.str()
			enc := r.byte()
			var lp LayerParams
			switch enc {
			case encFloat32:
				lp.Weights = r.f32s(r.count(4))
			case encFloat16:
				lp.Weights = r.f16s(r.count(2))
			default:
				if r.err == nil {
					r.err = fmt.Errorf("layer %q: unknown encoding %d", name, enc)
				}
			}
			lp.Bias = r.f32s(r.count(4))
			p.Layers[name] = lp
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d unexpected bytes after the last layer", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("malformed params file: %w", r.err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// reader decodes the params body; the first error sticks and later reads
// return zero values, so decodeParams checks once at the end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("truncated: need %d bytes, %d left", n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// count reads a uint32 count of items of at least minSize bytes each,
// rejecting counts the rest of the file cannot hold.
func (r *reader) count(minSize int) int {
	b := r.take(4)
	if b == nil {
		return 0
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n*minSize > len(r.b) {
		r.err = fmt.Errorf("count %d does not fit in the %d bytes left", n, len(r.b))
		return 0
	}
	return n
}

func (r *reader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) str() string { return string(r.take(r.count(1))) }

func (r *reader) f32s(n int) []float32 {
	b := r.take(4 * n)
	if b == nil || n == 0 {
		return nil
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func (r *reader) f16s(n int) []float32 {
	b := r.take(2 * n)
	if b == nil || n == 0 {
		return nil
	}
	out := make([]float32, n)
	nn.HalfBytesToFloat32sInto(out, b)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
