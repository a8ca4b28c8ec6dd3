package model

import (
	"fmt"
	"maps"
	"strings"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/nn"
	"github.com/rpscam/rpscam/internal/onnx"
)

// ONNX interface names and metadata keys: the contract with the inference
// code that loads the model (infer's names and keys wherever infer reads
// them, so writer and reader cannot drift apart).
const (
	InputName         = infer.InputName         // uint8 [N,224,224,3] NHWC RGB
	FeaturesName      = infer.FeaturesName      // float32 [N,1280]
	probabilitiesName = infer.ProbabilitiesName // float32 [N,classes], with a head

	metaLabels        = infer.KeyLabels      // class names, comma-separated, in output order
	metaInputLayout   = infer.KeyInputLayout // "NHWC"
	metaInputColor    = infer.KeyInputColor  // "RGB"
	metaInputSize     = "input_size"         // "224"
	metaNormalization = "normalization"
	metaSourceWeights = "source_weights"    // "<file name> sha256:<hex>"
	metaProducer      = "producer"          // "rpscam"
	metaOutputKind    = infer.KeyOutputKind // "probabilities": the output is already a softmax
	// MetaBackboneWeights names the Weights (tf2 or slim) the features come
	// from; a head trained on one must not be exported on the other.
	MetaBackboneWeights = "backbone_weights"

	// ActivationName is the output of a trunk graph (see Trunk): one
	// layer's activation, float32 [N,H,W,C] NHWC.
	ActivationName = "activation"
)

// BuildOption changes what BuildONNX writes.
type BuildOption func(*buildConfig)

type buildConfig struct{ trunk string }

// Trunk ends the graph at the output of the named layer (e.g.
// "block_15_add", the input of block_16), whose activation becomes the only
// output, ActivationName, in NHWC. Fine-tuning caches this activation once
// per training view and trains the layers after it. A trunk takes no head.
func Trunk(layer string) BuildOption { return func(c *buildConfig) { c.trunk = layer } }

// BuildONNX writes the backbone as an ONNX graph (opset 13) taking uint8
// NHWC RGB images of any batch size and producing the pooled features; with
// head, also the class probabilities (softmax of head.HeadW·features +
// head.HeadB), and any fine-tuned layers in head.Layers replace the
// backbone's. meta is added to the model's metadata, after head.Meta; the
// interface keys (labels, input_*) are always set by BuildONNX.
func BuildONNX(b *Backbone, head *Params, meta map[string]string, opts ...BuildOption) (*onnx.Model, error) {
	if b == nil || len(b.Layers) == 0 {
		return nil, fmt.Errorf("build ONNX: empty backbone")
	}
	var cfg buildConfig
	for _, o := range opts {
		o(&cfg)
	}
	layers, err := buildLayers(b, head, cfg)
	if err != nil {
		return nil, err
	}
	g := &graphBuilder{}
	n := onnx.Dim{Param: "N"}
	g.graph.Name = "rpscam_mobilenet_v2"
	g.graph.Inputs = []onnx.ValueInfo{{Name: InputName, Type: onnx.Uint8, Dims: []onnx.Dim{n, {Value: InputSize}, {Value: InputSize}, {Value: InputColours}}}}
	g.normalizeInput()
	g.layers(layers)
	if cfg.trunk != "" {
		return g.trunkModel(b, layers[len(layers)-1], n, cfg.trunk, meta), nil
	}
	return g.featureModel(b, head, layers[len(layers)-1].Name, n, meta), nil
}

// buildLayers returns the layers BuildONNX writes: the backbone's up to a
// trunk's end, or all of them with a head's fine-tuned weights.
func buildLayers(b *Backbone, head *Params, cfg buildConfig) ([]Layer, error) {
	layers := b.Layers
	if cfg.trunk != "" {
		if head != nil {
			return nil, fmt.Errorf("build ONNX: a trunk (ending at %s) takes no head", cfg.trunk)
		}
		end := b.LayerIndex(cfg.trunk)
		if end < 0 {
			return nil, fmt.Errorf("build ONNX: trunk end %q is not a backbone layer (names are Keras', e.g. block_15_add, block_16_project)", cfg.trunk)
		}
		layers = layers[:end+1]
	}
	if head != nil {
		if err := head.Validate(); err != nil {
			return nil, err
		}
		if f := head.Features(); f != FeatureSize {
			return nil, fmt.Errorf("build ONNX: head takes %d features, the backbone gives %d", f, FeatureSize)
		}
		var err error
		if layers, err = withFineTuned(b.Layers, head.Layers); err != nil {
			return nil, err
		}
	}
	return layers, nil
}

// normalizeInput adds the normalisation inside the graph, so every caller
// feeds camera bytes as they are: uint8 NHWC in, x/127.5-1 NCHW out
// ("image_norm").
func (g *graphBuilder) normalizeInput() {
	g.scalar("scale", float32(1.0/127.5))
	g.scalar("one", 1)
	g.scalar("relu6_min", 0)
	g.scalar("relu6_max", 6)
	g.node("cast", "Cast", []string{InputName}, []string{"image_f32"}, onnx.AttrInt("to", int64(onnx.Float32)))
	g.node("scale", "Mul", []string{"image_f32", "scale"}, []string{"image_scaled"})
	g.node("shift", "Sub", []string{"image_scaled", "one"}, []string{"image_norm_nhwc"})
	g.node("to_nchw", "Transpose", []string{"image_norm_nhwc"}, []string{"image_norm"}, onnx.AttrInts("perm", 0, 3, 1, 2))
}

// layers adds one node per convolution or add (and a Clip per ReLU6), each
// named after its layer.
func (g *graphBuilder) layers(layers []Layer) {
	out := func(i int) string {
		if i == ImageInput {
			return "image_norm"
		}
		return layers[i].Name
	}
	for i := range layers {
		l := &layers[i]
		name := l.Name
		pre := name
		if l.ReLU6 {
			pre = name + "/pre_relu6"
		}
		switch l.Kind {
		case Conv, Depthwise:
			_, top, bottom := nn.Same.Pads(l.InSize, l.Kernel, l.Stride)
			w, dims, group := oihw(l)
			g.init(onnx.Tensor{Name: name + "/W", Type: onnx.Float32, Dims: dims, Float: w})
			g.init(onnx.Tensor{Name: name + "/B", Type: onnx.Float32, Dims: []int64{int64(l.OutChannels)}, Float: l.Bias})
			g.node(name, "Conv", []string{out(l.Inputs[0]), name + "/W", name + "/B"}, []string{pre},
				onnx.AttrInts("kernel_shape", int64(l.Kernel), int64(l.Kernel)),
				onnx.AttrInts("strides", int64(l.Stride), int64(l.Stride)),
				// ONNX pads are [h_begin, w_begin, h_end, w_end]; TF SAME puts
				// the odd pixel at the end, the same for height and width here.
				onnx.AttrInts("pads", int64(top), int64(top), int64(bottom), int64(bottom)),
				onnx.AttrInt("group", group))
		case Add:
			g.node(name, "Add", []string{out(l.Inputs[0]), out(l.Inputs[1])}, []string{pre})
		}
		if l.ReLU6 {
			g.node(name+"/relu6", "Clip", []string{pre, "relu6_min", "relu6_max"}, []string{name})
		}
	}
}

// baseMeta is the metadata every built model starts from.
func baseMeta(b *Backbone) map[string]string {
	return map[string]string{
		metaProducer:      "rpscam",
		metaSourceWeights: fmt.Sprintf("%s sha256:%s", b.Source.File, b.Source.SHA256),
		metaNormalization: "x/127.5-1 (in the graph: feed uint8)",
		metaInputSize:     fmt.Sprint(InputSize),
	}
}

// trunkModel ends the graph at last, whose activation goes out as
// ActivationName in NHWC.
func (g *graphBuilder) trunkModel(b *Backbone, last Layer, n onnx.Dim, trunk string, meta map[string]string) *onnx.Model {
	g.node("to_nhwc", "Transpose", []string{last.Name}, []string{ActivationName}, onnx.AttrInts("perm", 0, 2, 3, 1))
	g.graph.Outputs = []onnx.ValueInfo{{Name: ActivationName, Type: onnx.Float32,
		Dims: []onnx.Dim{n, {Value: int64(last.OutSize)}, {Value: int64(last.OutSize)}, {Value: int64(last.OutChannels)}}}}
	md := baseMeta(b)
	md["trunk_end"] = trunk
	maps.Copy(md, meta)
	md[metaInputLayout], md[metaInputColor] = "NHWC", "RGB"
	return &onnx.Model{Graph: g.graph, ProducerName: "rpscam", Metadata: md,
		DocString: "MobileNet-v2 1.0/224 trunk up to " + trunk + " from " + b.Source.File + ", dequantized to float32 by rpscam"}
}

// featureModel pools the last layer into FeaturesName and, with a head,
// adds the classifier and its probabilitiesName output.
func (g *graphBuilder) featureModel(b *Backbone, head *Params, last string, n onnx.Dim, meta map[string]string) *onnx.Model {
	g.node("global_pool", "GlobalAveragePool", []string{last}, []string{"pooled"})
	g.node("flatten", "Flatten", []string{"pooled"}, []string{FeaturesName}, onnx.AttrInt("axis", 1))
	features := onnx.ValueInfo{Name: FeaturesName, Type: onnx.Float32, Dims: []onnx.Dim{n, {Value: FeatureSize}}}

	md := baseMeta(b)
	if head != nil {
		maps.Copy(md, head.Meta)
		classes := int64(head.Classes())
		// Dropout only acts in training, so the head is Gemm then Softmax.
		g.init(onnx.Tensor{Name: "head/W", Type: onnx.Float32, Dims: []int64{classes, FeatureSize}, Float: head.HeadW})
		g.init(onnx.Tensor{Name: "head/B", Type: onnx.Float32, Dims: []int64{classes}, Float: head.HeadB})
		g.node("head", "Gemm", []string{FeaturesName, "head/W", "head/B"}, []string{"logits"}, onnx.AttrInt("transB", 1))
		g.node("softmax", "Softmax", []string{"logits"}, []string{probabilitiesName}, onnx.AttrInt("axis", 1))
		g.graph.Outputs = []onnx.ValueInfo{{Name: probabilitiesName, Type: onnx.Float32, Dims: []onnx.Dim{n, {Value: classes}}}, features}
	} else {
		g.graph.Outputs = []onnx.ValueInfo{features}
	}
	maps.Copy(md, meta)
	md[metaInputLayout] = "NHWC"
	md[metaInputColor] = "RGB"
	if head != nil {
		md[metaLabels] = strings.Join(head.Labels, ",")
		md[metaOutputKind] = "probabilities"
	} else {
		delete(md, metaLabels)
		delete(md, metaOutputKind)
	}
	return &onnx.Model{
		Graph:        g.graph,
		ProducerName: "rpscam",
		DocString:    "MobileNet-v2 1.0/224 from " + b.Source.File + ", dequantized to float32 by rpscam",
		Metadata:     md,
	}
}

// withFineTuned returns a copy of layers with the named layers' weights replaced.
func withFineTuned(layers []Layer, tuned map[string]LayerParams) ([]Layer, error) {
	if len(tuned) == 0 {
		return layers, nil
	}
	out := append([]Layer(nil), layers...)
	found := 0
	for i := range out {
		lp, ok := tuned[out[i].Name]
		if !ok {
			continue
		}
		found++
		if out[i].Kind == Add {
			return nil, fmt.Errorf("fine-tuned layer %s is an add and has no weights", out[i].Name)
		}
		if len(lp.Weights) != len(out[i].Weights) || len(lp.Bias) != len(out[i].Bias) {
			return nil, fmt.Errorf("fine-tuned layer %s has %d weights and %d biases, the backbone's has %d and %d",
				out[i].Name, len(lp.Weights), len(lp.Bias), len(out[i].Weights), len(out[i].Bias))
		}
		out[i].Weights, out[i].Bias = lp.Weights, lp.Bias
	}
	if found != len(tuned) {
		for name := range tuned {
			if (&Backbone{Layers: layers}).LayerIndex(name) < 0 {
				return nil, fmt.Errorf("fine-tuned layer %q is not a backbone layer (names are Keras', e.g. Conv_1, block_16_project)", name)
			}
		}
	}
	return out, nil
}

// oihw converts a layer's TFLite weights to ONNX Conv's [out, in/group, kh, kw].
func oihw(l *Layer) ([]float32, []int64, int64) {
	k := l.Kernel
	if l.Kind == Depthwise {
		// [1,K,K,C] -> [C,1,K,K], one group per channel.
		c := l.OutChannels
		w := make([]float32, len(l.Weights))
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				for ch := 0; ch < c; ch++ {
					w[(ch*k+ky)*k+kx] = l.Weights[(ky*k+kx)*c+ch]
				}
			}
		}
		return w, []int64{int64(c), 1, int64(k), int64(k)}, int64(c)
	}
	o, in := l.OutChannels, l.InChannels
	w := make([]float32, len(l.Weights))
	for oc := 0; oc < o; oc++ {
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				for ic := 0; ic < in; ic++ {
					w[((oc*in+ic)*k+ky)*k+kx] = l.Weights[((oc*k+ky)*k+kx)*in+ic]
				}
			}
		}
	}
	return w, []int64{int64(o), int64(in), int64(k), int64(k)}, 1
}

type graphBuilder struct{ graph onnx.Graph }

func (g *graphBuilder) node(name, op string, in, out []string, attrs ...onnx.Attr) {
	g.graph.Nodes = append(g.graph.Nodes, onnx.Node{Name: name, Op: op, Inputs: in, Outputs: out, Attrs: attrs})
}

func (g *graphBuilder) init(t onnx.Tensor) { g.graph.Initializers = append(g.graph.Initializers, t) }

func (g *graphBuilder) scalar(name string, v float32) {
	g.init(onnx.Tensor{Name: name, Type: onnx.Float32, Float: []float32{v}})
}
