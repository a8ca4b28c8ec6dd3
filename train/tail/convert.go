package tail

import (
	"fmt"

	"github.com/rpscam/rpscam/model"
)

// TailLayers are the backbone layers the tail computes, in order.
var TailLayers = []string{"block_16_expand", "block_16_depthwise", "block_16_project", "Conv_1"}

// DimsOf reads the tail's sizes from a backbone (the layers in TailLayers).
func DimsOf(b *model.Backbone, classes int) (Dims, error) {
	ls, err := tailLayers(b)
	if err != nil {
		return Dims{}, err
	}
	return Dims{Size: ls[0].InSize, In: ls[0].InChannels, Expand: ls[0].OutChannels, Project: ls[2].OutChannels,
		Features: ls[3].OutChannels, Classes: classes}, nil
}

func tailLayers(b *model.Backbone) ([]*model.Layer, error) {
	out := make([]*model.Layer, len(TailLayers))
	for k, name := range TailLayers {
		i := b.LayerIndex(name)
		if i < 0 {
			return nil, fmt.Errorf("tail: the backbone has no layer %s", name)
		}
		out[k] = &b.Layers[i]
	}
	want := []struct {
		kind   model.LayerKind
		kernel int
		relu6  bool
	}{{model.Conv, 1, true}, {model.Depthwise, 3, true}, {model.Conv, 1, false}, {model.Conv, 1, true}}
	for k, l := range out {
		w := want[k]
		if l.Kind != w.kind || l.Kernel != w.kernel || l.Stride != 1 || l.ReLU6 != w.relu6 || l.InSize != l.OutSize {
			return nil, fmt.Errorf("tail: layer %s is a %v %dx%d stride %d (ReLU6 %v), the tail computes a %v %dx%d stride 1 (ReLU6 %v)",
				l.Name, l.Kind, l.Kernel, l.Kernel, l.Stride, l.ReLU6, w.kind, w.kernel, w.kernel, w.relu6)
		}
		if k > 0 && l.Inputs[0] != b.LayerIndex(TailLayers[k-1]) {
			return nil, fmt.Errorf("tail: %s does not read %s", l.Name, TailLayers[k-1])
		}
	}
	return out, nil
}

// FromBackbone returns the tail parameters with the backbone's pretrained
// layers (overridden by p.Layers where p has fine-tuned ones) and p's head
// (nil p: zero head).
func FromBackbone(b *model.Backbone, p *model.Params, classes int) (Params, Dims, error) {
	d, err := DimsOf(b, classes)
	if err != nil {
		return nil, Dims{}, err
	}
	ls, err := tailLayers(b)
	if err != nil {
		return nil, Dims{}, err
	}
	layer := func(l *model.Layer) ([]float32, []float32) {
		if p != nil {
			if lp, ok := p.Layers[l.Name]; ok {
				return lp.Weights, lp.Bias
			}
		}
		return l.Weights, l.Bias
	}
	out := Params{}
	w, bias := layer(ls[0])
	out[ExpandW], out[ExpandB] = transpose(w, d.Expand, d.In), clone(bias)
	w, bias = layer(ls[1])
	out[DepthW], out[DepthB] = clone(w), clone(bias) // [1,3,3,C] is already [9,C]
	w, bias = layer(ls[2])
	out[ProjectW], out[ProjectB] = transpose(w, d.Project, d.Expand), clone(bias)
	w, bias = layer(ls[3])
	out[Conv1W], out[Conv1B] = transpose(w, d.Features, d.Project), clone(bias)
	out[HeadW], out[HeadB] = make([]float32, d.Features*classes), make([]float32, classes)
	if p != nil {
		if p.Classes() != classes || p.Features() != d.Features {
			return nil, Dims{}, fmt.Errorf("tail: head is %d classes x %d features, the tail has %d x %d", p.Classes(), p.Features(), classes, d.Features)
		}
		out[HeadW], out[HeadB] = transpose(p.HeadW, classes, d.Features), clone(p.HeadB)
	}
	return out, d, d.Check(out)
}

// ToModel returns the head in model.Params' layout ([classes][features])
// and the named tail layers (any of TailLayers) in the backbone's layouts.
func ToModel(p Params, d Dims, layers ...string) (headW, headB []float32, tuned map[string]model.LayerParams, err error) {
	if err := d.Check(p); err != nil {
		return nil, nil, nil, err
	}
	tuned = map[string]model.LayerParams{}
	for _, name := range layers {
		switch name {
		case "block_16_expand":
			tuned[name] = model.LayerParams{Weights: transpose(p[ExpandW], d.In, d.Expand), Bias: clone(p[ExpandB])}
		case "block_16_depthwise":
			tuned[name] = model.LayerParams{Weights: clone(p[DepthW]), Bias: clone(p[DepthB])}
		case "block_16_project":
			tuned[name] = model.LayerParams{Weights: transpose(p[ProjectW], d.Expand, d.Project), Bias: clone(p[ProjectB])}
		case "Conv_1":
			tuned[name] = model.LayerParams{Weights: transpose(p[Conv1W], d.Project, d.Features), Bias: clone(p[Conv1B])}
		default:
			return nil, nil, nil, fmt.Errorf("tail: %q is not a tail layer (%v)", name, TailLayers)
		}
	}
	return transpose(p[HeadW], d.Features, d.Classes), clone(p[HeadB]), tuned, nil
}

// transpose turns a [rows][cols] row-major matrix into [cols][rows].
func transpose(m []float32, rows, cols int) []float32 {
	out := make([]float32, len(m))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = m[r*cols+c]
		}
	}
	return out
}

func clone(v []float32) []float32 { return append([]float32(nil), v...) }
