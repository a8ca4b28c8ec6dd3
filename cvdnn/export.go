package cvdnn

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/model"
)

// The graph input of an exported model: the normalised float32 NCHW image
// that rpscam's own export computes from its uint8 input (see
// model.BuildONNX's first steps), batch 1.
const inputName = "image_norm"

// Export rewrites rpscam's float model at src (uint8 NHWC in, normalisation
// in the graph) into the form OpenCV 4.6's ONNX importer reads and writes it
// to dst:
//   - the input steps (Cast, Mul, Sub, Transpose to NCHW) are removed and
//     image_norm, float32 [1,3,H,W], becomes the input; the metadata says
//     how to feed it (input_layout NCHW, input_scale, input_offset), so the
//     same infer.Preprocessor fills it;
//   - each ReLU6 Clip with min and max as constant inputs (opset 11 and
//     later) gets them as attributes instead, the only Clip OpenCV 4.6 reads.
//
// Everything else (weights, node names, outputs, metadata) is kept byte for
// byte. ONNX Runtime does not load the result (Clip attributes are not valid
// in opset 13): compare it with the original, on the same uint8 image.
func Export(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	out, err := exportBytes(data)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return model.WriteONNX(dst, rawModel(out))
}

type rawModel []byte

func (m rawModel) Marshal() ([]byte, error) { return m, nil }

// field is one protobuf field as it appears in the message.
type field struct {
	num  protowire.Number
	typ  protowire.Type
	raw  []byte // tag and value
	body []byte // a length-delimited field's contents
}

func parseFields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		f := field{num: num, typ: typ, raw: b[:n+m]}
		if typ == protowire.BytesType {
			f.body, _ = protowire.ConsumeBytes(b[n:])
		}
		out = append(out, f)
		b = b[n+m:]
	}
	return out, nil
}

// node is a NodeProto's fields that matter here.
type node struct {
	raw            field
	op             string
	inputs, output []string
}

func parseNode(f field) (node, error) {
	nd := node{raw: f}
	fs, err := parseFields(f.body)
	for _, g := range fs {
		switch g.num {
		case 1:
			nd.inputs = append(nd.inputs, string(g.body))
		case 2:
			nd.output = append(nd.output, string(g.body))
		case 4:
			nd.op = string(g.body)
		}
	}
	return nd, err
}

// scalar reads a one-element float32 TensorProto initializer.
func scalar(f field) (name string, v float32, ok bool) {
	fs, err := parseFields(f.body)
	if err != nil {
		return "", 0, false
	}
	var elems []float32
	for _, g := range fs {
		switch {
		case g.num == 8:
			name = string(g.body)
		case g.num == 9 && len(g.body) == 4:
			elems = append(elems, math.Float32frombits(binary.LittleEndian.Uint32(g.body)))
		case g.num == 4 && g.typ == protowire.BytesType && len(g.body) == 4: // packed float_data
			elems = append(elems, math.Float32frombits(binary.LittleEndian.Uint32(g.body)))
		case g.num == 4 && g.typ == protowire.Fixed32Type:
			u, _ := protowire.ConsumeFixed32(g.raw[protowire.SizeTag(4):])
			elems = append(elems, math.Float32frombits(u))
		}
	}
	if len(elems) != 1 {
		return name, 0, false
	}
	return name, elems[0], true
}

// inputSteps are the ops model.BuildONNX puts between the uint8 input and
// image_norm, in order.
var inputSteps = [4]string{"Cast", "Mul", "Sub", "Transpose"}

func exportBytes(data []byte) ([]byte, error) {
	top, err := parseFields(data)
	if err != nil {
		return nil, fmt.Errorf("not a readable ONNX file: %w", err)
	}
	var out []byte
	var scale, offset float32
	found := false
	for _, f := range top {
		switch f.num {
		case 7: // ModelProto.graph
			g, s, o, err := exportGraph(f.body)
			if err != nil {
				return nil, err
			}
			scale, offset, found = s, o, true
			out = protowire.AppendTag(out, 7, protowire.BytesType)
			out = protowire.AppendBytes(out, g)
		case 14: // metadata_props: rewritten below
		default:
			out = append(out, f.raw...)
		}
	}
	if !found {
		return nil, fmt.Errorf("no graph in the file")
	}
	meta, order, err := metadataInOrder(top)
	if err != nil {
		return nil, err
	}
	set := map[string]string{
		infer.KeyInputLayout: string(infer.NCHW),
		infer.KeyInputScale:  strconv.FormatFloat(float64(scale), 'g', -1, 32),
		infer.KeyInputOffset: strconv.FormatFloat(float64(offset), 'g', -1, 32),
		"opencv_form":        "input steps removed (float32 NCHW image_norm in), Clip bounds as attributes",
	}
	for _, k := range []string{infer.KeyInputLayout, infer.KeyInputScale, infer.KeyInputOffset, "opencv_form"} {
		if _, seen := meta[k]; !seen {
			order = append(order, k)
		}
		meta[k] = set[k]
	}
	for _, k := range order {
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, k)
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendString(e, meta[k])
		out = protowire.AppendTag(out, 14, protowire.BytesType)
		out = protowire.AppendBytes(out, e)
	}
	return out, nil
}

// exportGraph rewrites a GraphProto; it returns the input steps' scale and
// offset (model_value = pixel*scale + offset).
func exportGraph(b []byte) (graph []byte, scale, offset float32, err error) {
	fs, err := parseFields(b)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("not a readable ONNX graph: %w", err)
	}
	scalars := map[string]float32{}
	var nodes []node
	for _, f := range fs {
		switch f.num {
		case 5: // initializer
			if name, v, ok := scalar(f); ok {
				scalars[name] = v
			}
		case 1:
			nd, err := parseNode(f)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("not a readable ONNX node: %w", err)
			}
			nodes = append(nodes, nd)
		}
	}
	steps, err := findInputSteps(nodes)
	if err != nil {
		return nil, 0, 0, err
	}
	mul, sub := nodes[steps[1]], nodes[steps[2]]
	s, okS := scalars[mul.inputs[1]]
	o, okO := scalars[sub.inputs[1]]
	if !okS || !okO {
		return nil, 0, 0, fmt.Errorf("the input steps' scale (%s) and offset (%s) are not scalar constants", mul.inputs[1], sub.inputs[1])
	}
	drop := map[int]bool{steps[0]: true, steps[1]: true, steps[2]: true, steps[3]: true}
	image := nodes[steps[0]].inputs[0]
	nodeAt := 0
	for _, f := range fs {
		switch f.num {
		case 1:
			i := nodeAt
			nodeAt++
			if drop[i] {
				continue
			}
			raw, err := clipWithAttributes(nodes[i], scalars)
			if err != nil {
				return nil, 0, 0, err
			}
			graph = append(graph, raw...)
		case 11: // input
			vi, err := rewriteInput(f, image)
			if err != nil {
				return nil, 0, 0, err
			}
			graph = append(graph, vi...)
		default:
			graph = append(graph, f.raw...)
		}
	}
	return graph, s, -o, nil
}

// findInputSteps finds model.BuildONNX's Cast -> Mul -> Sub -> Transpose
// chain ending in image_norm and returns the nodes' indices.
func findInputSteps(nodes []node) ([4]int, error) {
	var at [4]int
	want := inputName
	for step := 3; step >= 0; step-- {
		i := producer(nodes, want)
		if i < 0 || nodes[i].op != inputSteps[step] || len(nodes[i].inputs) == 0 {
			return at, fmt.Errorf("not rpscam's float model: no %s step producing %s (rpscam export or train writes models whose uint8 input goes through Cast, Mul, Sub and Transpose to %s)",
				inputSteps[step], want, inputName)
		}
		at[step] = i
		want = nodes[i].inputs[0]
	}
	if len(nodes[at[1]].inputs) != 2 || len(nodes[at[2]].inputs) != 2 {
		return at, fmt.Errorf("not rpscam's float model: its Mul and Sub input steps do not take a constant each")
	}
	return at, nil
}

func producer(nodes []node, output string) int {
	for i, nd := range nodes {
		for _, o := range nd.output {
			if o == output {
				return i
			}
		}
	}
	return -1
}

// clipWithAttributes returns nd's NodeProto, a Clip(x, min, max) with
// constant bounds rewritten as Clip(x) with min and max attributes.
func clipWithAttributes(nd node, scalars map[string]float32) ([]byte, error) {
	if nd.op != "Clip" || len(nd.inputs) == 1 {
		return nd.raw.raw, nil
	}
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, nd.inputs[0])
	fs, _ := parseFields(nd.raw.body)
	for _, f := range fs {
		if f.num != 1 {
			b = append(b, f.raw...)
		}
	}
	for i, name := range []string{"min", "max"} {
		if i+1 >= len(nd.inputs) || nd.inputs[i+1] == "" {
			continue
		}
		v, ok := scalars[nd.inputs[i+1]]
		if !ok {
			return nil, fmt.Errorf("Clip node producing %v: its %s (%s) is not a scalar constant, which OpenCV 4.6 cannot read", nd.output, name, nd.inputs[i+1])
		}
		var a []byte
		a = protowire.AppendTag(a, 1, protowire.BytesType)
		a = protowire.AppendString(a, name)
		a = protowire.AppendTag(a, 2, protowire.Fixed32Type)
		a = protowire.AppendFixed32(a, math.Float32bits(v))
		a = protowire.AppendTag(a, 20, protowire.VarintType)
		a = protowire.AppendVarint(a, 1) // AttributeProto.FLOAT
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, a)
	}
	var out []byte
	out = protowire.AppendTag(out, 1, protowire.BytesType)
	return protowire.AppendBytes(out, b), nil
}

// rewriteInput replaces the uint8 NHWC input image by image_norm, float32
// [1,C,H,W]; other inputs are kept.
func rewriteInput(f field, image string) ([]byte, error) {
	fs, err := parseFields(f.body)
	if err != nil {
		return nil, err
	}
	name := ""
	var typ []byte
	for _, g := range fs {
		if g.num == 1 {
			name = string(g.body)
		} else if g.num == 2 {
			typ = g.body
		}
	}
	if name != image {
		return f.raw, nil
	}
	dims, err := tensorDims(typ)
	if err != nil || len(dims) != 4 || dims[1] <= 0 || dims[2] <= 0 || dims[3] <= 0 {
		return nil, fmt.Errorf("input %s: want a fixed-size NHWC image [N,H,W,C], have dims %v (%v)", image, dims, err)
	}
	var shape []byte
	for _, d := range []int64{1, dims[3], dims[1], dims[2]} {
		var dim []byte
		dim = protowire.AppendTag(dim, 1, protowire.VarintType)
		dim = protowire.AppendVarint(dim, uint64(d))
		shape = protowire.AppendTag(shape, 1, protowire.BytesType)
		shape = protowire.AppendBytes(shape, dim)
	}
	var tensor []byte
	tensor = protowire.AppendTag(tensor, 1, protowire.VarintType)
	tensor = protowire.AppendVarint(tensor, 1) // FLOAT
	tensor = protowire.AppendTag(tensor, 2, protowire.BytesType)
	tensor = protowire.AppendBytes(tensor, shape)
	var tp []byte
	tp = protowire.AppendTag(tp, 1, protowire.BytesType)
	tp = protowire.AppendBytes(tp, tensor)
	var vi []byte
	vi = protowire.AppendTag(vi, 1, protowire.BytesType)
	vi = protowire.AppendString(vi, inputName)
	vi = protowire.AppendTag(vi, 2, protowire.BytesType)
	vi = protowire.AppendBytes(vi, tp)
	var out []byte
	out = protowire.AppendTag(out, 11, protowire.BytesType)
	return protowire.AppendBytes(out, vi), nil
}

// tensorDims reads a TypeProto's tensor shape; a symbolic dimension is -1.
func tensorDims(typ []byte) ([]int64, error) {
	var dims []int64
	walk := func(b []byte, num protowire.Number) []byte {
		fs, _ := parseFields(b)
		for _, f := range fs {
			if f.num == num && f.typ == protowire.BytesType {
				return f.body
			}
		}
		return nil
	}
	shape := walk(walk(typ, 1), 2)
	fs, err := parseFields(shape)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if f.num != 1 {
			continue
		}
		d := int64(-1)
		parts, _ := parseFields(f.body)
		for _, p := range parts {
			if p.num == 1 && p.typ == protowire.VarintType {
				v, _ := protowire.ConsumeVarint(p.raw[protowire.SizeTag(1):])
				d = int64(v)
			}
		}
		dims = append(dims, d)
	}
	return dims, nil
}

// metadata reads a model's metadata_props.
func metadata(data []byte) (map[string]string, error) {
	top, err := parseFields(data)
	if err != nil {
		return nil, err
	}
	meta, _, err := metadataInOrder(top)
	return meta, err
}

func metadataInOrder(top []field) (map[string]string, []string, error) {
	meta := map[string]string{}
	var order []string
	for _, f := range top {
		if f.num != 14 {
			continue
		}
		kv, err := parseFields(f.body)
		if err != nil {
			return nil, nil, err
		}
		var k, v string
		for _, g := range kv {
			if g.num == 1 {
				k = string(g.body)
			} else if g.num == 2 {
				v = string(g.body)
			}
		}
		if _, seen := meta[k]; !seen {
			order = append(order, k)
		}
		meta[k] = v
	}
	return meta, order, nil
}
