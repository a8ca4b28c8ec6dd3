package tinymodel

import "github.com/rpscam/rpscam/internal/onnx"

// RPSShaped is shaped like model.BuildONNX's output (uint8 NHWC image, the
// same four input steps with the same names, a Conv with a ReLU6 Clip taking
// its bounds as inputs, pooling, a Gemm head and a softmax), size x size
// pixels, so code that rewrites rpscam's graph (package cvdnn) is tested
// without the real weights. A red frame is rock, green paper, blue scissors.
func RPSShaped(size int) onnx.Model {
	scalar := func(name string, v float32) onnx.Tensor {
		return onnx.Tensor{Name: name, Type: onnx.Float32, Float: []float32{v}}
	}
	nd := func(name, op string, in, out []string, attrs ...onnx.Attr) onnx.Node {
		return onnx.Node{Name: name, Op: op, Inputs: in, Outputs: out, Attrs: attrs}
	}
	return onnx.Model{
		ProducerName: "rpscam",
		Metadata:     map[string]string{"labels": "rock,paper,scissors", "input_layout": "NHWC", "input_color": "RGB", "output_kind": "probabilities"},
		Graph: onnx.Graph{
			Name: "tiny_rps",
			Nodes: []onnx.Node{
				nd("cast", "Cast", []string{"image"}, []string{"image_f32"}, onnx.AttrInt("to", int64(onnx.Float32))),
				nd("scale", "Mul", []string{"image_f32", "scale"}, []string{"image_scaled"}),
				nd("shift", "Sub", []string{"image_scaled", "one"}, []string{"image_norm_nhwc"}),
				nd("to_nchw", "Transpose", []string{"image_norm_nhwc"}, []string{"image_norm"}, onnx.AttrInts("perm", 0, 3, 1, 2)),
				nd("conv", "Conv", []string{"image_norm", "conv/W", "conv/B"}, []string{"conv/pre_relu6"}, onnx.AttrInts("kernel_shape", 1, 1)),
				nd("conv/relu6", "Clip", []string{"conv/pre_relu6", "relu6_min", "relu6_max"}, []string{"conv"}),
				nd("global_pool", "GlobalAveragePool", []string{"conv"}, []string{"pooled"}),
				nd("flatten", "Flatten", []string{"pooled"}, []string{"features"}, onnx.AttrInt("axis", 1)),
				nd("head", "Gemm", []string{"features", "head/W", "head/B"}, []string{"logits"}, onnx.AttrInt("transB", 1)),
				nd("softmax", "Softmax", []string{"logits"}, []string{"probabilities"}, onnx.AttrInt("axis", 1)),
			},
			Initializers: []onnx.Tensor{
				scalar("scale", 1/127.5), scalar("one", 1), scalar("relu6_min", 0), scalar("relu6_max", 6),
				// Channel out = 7*in+1 on inputs in [-1, 1]: a full channel (8)
				// clips at 6 and an empty one (-6) at 0, so both bounds act.
				{Name: "conv/W", Type: onnx.Float32, Dims: []int64{3, 3, 1, 1}, Float: []float32{7, 0, 0, 0, 7, 0, 0, 0, 7}},
				{Name: "conv/B", Type: onnx.Float32, Dims: []int64{3}, Float: []float32{1, 1, 1}},
				{Name: "head/W", Type: onnx.Float32, Dims: []int64{3, 3}, Float: []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}},
				{Name: "head/B", Type: onnx.Float32, Dims: []int64{3}, Float: []float32{0, 0.1, 0.2}},
			},
			Inputs:  []onnx.ValueInfo{{Name: "image", Type: onnx.Uint8, Dims: []onnx.Dim{{Param: "N"}, {Value: int64(size)}, {Value: int64(size)}, {Value: 3}}}},
			Outputs: []onnx.ValueInfo{{Name: "probabilities", Type: onnx.Float32, Dims: []onnx.Dim{{Param: "N"}, {Value: 3}}}},
		},
	}
}
