// Package tinymodel writes tiny ONNX classifiers with known weights, shaped
// like rpscam's real export (uint8 NHWC RGB input named "image", softmax
// output named "probabilities", labels in the metadata), so tests of
// everything downstream of the model can assert exact predictions.
package tinymodel

import (
	"fmt"
	"os"
	"strings"

	"github.com/rpscam/rpscam/internal/onnx"
)

// Labels are the classes of the mean-colour model, in output order: a red
// frame is rock, green paper, blue scissors.
var Labels = [3]string{"rock", "paper", "scissors"}

// gain scales the mean channel values into logits: logits = gain * [R, G, B]
// means (0..255). A solid primary colour gives a logit gap of 25.5, so its
// class has probability 1 in float32.
const gain = 0.1

// MeanColour returns the model: Cast -> ReduceMean over H and W ->
// MatMul(gain * identity) -> Softmax. size is the input's height and width.
func MeanColour(size int) onnx.Model {
	w := []float32{gain, 0, 0, 0, gain, 0, 0, 0, gain}
	return onnx.Model{
		ProducerName: "rpscam-tinymodel",
		Metadata: map[string]string{
			"labels":       Labels[0] + "," + Labels[1] + "," + Labels[2],
			"input_layout": "NHWC",
			"input_color":  "RGB",
		},
		Graph: onnx.Graph{
			Name: "mean_colour",
			Nodes: []onnx.Node{
				{Name: "cast", Op: "Cast", Inputs: []string{"image"}, Outputs: []string{"x"}, Attrs: []onnx.Attr{onnx.AttrInt("to", int64(onnx.Float32))}},
				{Name: "mean", Op: "ReduceMean", Inputs: []string{"x"}, Outputs: []string{"features"}, Attrs: []onnx.Attr{onnx.AttrInts("axes", 1, 2), onnx.AttrInt("keepdims", 0)}},
				{Name: "head", Op: "MatMul", Inputs: []string{"features", "w"}, Outputs: []string{"logits"}},
				{Name: "softmax", Op: "Softmax", Inputs: []string{"logits"}, Outputs: []string{"probabilities"}, Attrs: []onnx.Attr{onnx.AttrInt("axis", 1)}},
			},
			Initializers: []onnx.Tensor{{Name: "w", Type: onnx.Float32, Dims: []int64{3, 3}, Float: w}},
			Inputs:       []onnx.ValueInfo{{Name: "image", Type: onnx.Uint8, Dims: []onnx.Dim{{Param: "N"}, {Value: int64(size)}, {Value: int64(size)}, {Value: 3}}}},
			Outputs:      []onnx.ValueInfo{{Name: "probabilities", Type: onnx.Float32, Dims: []onnx.Dim{{Param: "N"}, {Value: 3}}}},
		},
	}
}

// NoHandLabels are the classes of the no-hand model, in output order: the
// mean-colour model's three and the no-hand class (infer.NoHandLabel), last,
// as rpscam's own 4-class export has it.
var NoHandLabels = [4]string{Labels[0], Labels[1], Labels[2], "none"}

// noHandBias is the no-hand class's constant logit in MeanColourNoHand; the
// gestures' logits are gain times a channel mean, as in MeanColour. A black
// frame therefore is "none" with probability e^10/(e^10+3) = 0.99986, a
// solid primary colour (logit 25.5) its gesture with probability 1 in
// float32, and a dim one (a channel mean under noHandBias/gain = 100, say
// dark red 60,0,0) "none" again.
const noHandBias = 10

// MeanColourNoHand is MeanColour with a fourth class, "none": Cast ->
// ReduceMean over H and W -> Gemm(features, w, b) -> Softmax, where w is
// gain * identity with a zero column for "none" and b is zero but for the
// noHandBias of "none". size is the input's height and width.
func MeanColourNoHand(size int) onnx.Model {
	m := MeanColour(size)
	m.Metadata["labels"] = strings.Join(NoHandLabels[:], ",")
	g := &m.Graph
	g.Name = "mean_colour_no_hand"
	g.Nodes[2] = onnx.Node{Name: "head", Op: "Gemm", Inputs: []string{"features", "w", "b"}, Outputs: []string{"logits"}}
	g.Initializers = []onnx.Tensor{
		{Name: "w", Type: onnx.Float32, Dims: []int64{3, 4}, Float: []float32{
			gain, 0, 0, 0,
			0, gain, 0, 0,
			0, 0, gain, 0,
		}},
		{Name: "b", Type: onnx.Float32, Dims: []int64{4}, Float: []float32{0, 0, 0, noHandBias}},
	}
	g.Outputs = []onnx.ValueInfo{{Name: "probabilities", Type: onnx.Float32, Dims: []onnx.Dim{{Param: "N"}, {Value: 4}}}}
	return m
}

// WriteMeanColour writes MeanColour(size) to path.
func WriteMeanColour(path string, size int) error {
	if size < 1 {
		return fmt.Errorf("tinymodel: size %d: want at least 1 pixel", size)
	}
	return Write(path, MeanColour(size))
}

// MeanColourLogits is MeanColour without the softmax: its output (still
// named "probabilities") holds logits, and its metadata says so
// (output_kind=logits), so a consumer must apply the softmax itself.
func MeanColourLogits(size int) onnx.Model {
	m := MeanColour(size)
	m.Graph.Nodes = m.Graph.Nodes[:len(m.Graph.Nodes)-1]
	m.Graph.Nodes[len(m.Graph.Nodes)-1].Outputs = []string{"probabilities"}
	m.Metadata["output_kind"] = "logits"
	return m
}

// Write writes m to path.
func Write(path string, m onnx.Model) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
