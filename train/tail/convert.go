package tail

import (
	"fmt"
	"slices"

	"github.com/rpscam/rpscam/model"
)

// noResidualLayers are the backbone layers a tail without residual blocks
// computes, in order.
var noResidualLayers = layersFor(0)

// lastResidual is the MobileNet-v2 block just before block_16: with r
// residual blocks the tail starts at block_{16-r}.
const lastResidual = 15

// maxResidual is how many residual blocks MobileNet-v2 has on the 7x7 grid
// (block_14, block_15); downBlock is the stride-2 block before them, and
// maxPreResidual how many residual blocks it has on the 14x14 grid before
// that (block_11, block_12, the last of them lastPreResidual).
const (
	maxResidual     = 2
	downBlock       = "block_13"
	maxPreResidual  = 2
	lastPreResidual = 12
	maxBlocks       = maxPreResidual + 1 + maxResidual
)

// Below, blocks counts the inverted-residual blocks a tail computes before
// block_16: 0 to 2 are residual blocks (block_15, block_14 and block_15),
// 3 adds block_13, which halves the grid (14x14 -> 7x7) and widens 96 ->
// 160 channels, 4 and 5 add block_12 and block_11 on the 14x14 grid.

// splitBlocks turns a block count into the number of residual blocks
// before the downsampling block, its presence and the number of residual
// blocks after it; Dims.blocks is its inverse.
func splitBlocks(blocks int) (pre int, down bool, residual int) {
	if blocks > maxResidual {
		return blocks - maxResidual - 1, true, maxResidual
	}
	return 0, false, blocks
}

// blocks is the block count of a tail with d's residual and downsampling
// blocks (splitBlocks' inverse).
func (d Dims) blocks() int {
	if d.down() {
		return d.PreResidual + 1 + d.Residual
	}
	return d.Residual
}

// residualBlockName is the backbone's name of residual block r (of d.Residual).
func residualBlockName(r, residual int) string {
	return fmt.Sprintf("block_%d", lastResidual-residual+1+r)
}

// preResidualBlockName is the backbone's name of residual block r (of
// d.PreResidual) before the downsampling block.
func preResidualBlockName(r, pre int) string {
	return fmt.Sprintf("block_%d", lastPreResidual-pre+1+r)
}

// namesOnly are Dims with the blocks of a tail with blocks blocks and no
// sizes: enough for the stages' backbone names and parameter names, which
// depend on which blocks there are, not on their widths.
func namesOnly(blocks int) Dims {
	pre, down, residual := splitBlocks(blocks)
	d := Dims{Residual: residual, PreResidual: pre}
	if down {
		d.DownIn, d.DownExpand = 1, 1
	}
	return d
}

// layersFor lists the backbone layers a tail with blocks blocks computes,
// in order: each block's expand, depthwise and project, then Conv_1.
func layersFor(blocks int) []string {
	var out []string
	for _, st := range namesOnly(blocks).stages() {
		out = append(out, st.backbone+"_expand", st.backbone+"_depthwise", st.backbone+"_project")
	}
	return append(out, "Conv_1")
}

// dimsOf reads the tail's sizes from a backbone.
func dimsOf(b *model.Backbone, classes, blocks int) (Dims, error) {
	ls, err := tailLayers(b, blocks)
	if err != nil {
		return Dims{}, err
	}
	pre, down, residual := splitBlocks(blocks)
	k := 3 * blocks // block_16_expand
	d := Dims{Size: ls[k].InSize, In: ls[k].InChannels, Expand: ls[k].OutChannels, Project: ls[k+2].OutChannels,
		Features: ls[k+3].OutChannels, Classes: classes, Residual: residual, PreResidual: pre}
	if down {
		d.DownIn, d.DownExpand = ls[3*pre].InChannels, ls[3*pre].OutChannels
	}
	return d, nil
}

// InputLen is the number of activation values per view a tail with blocks
// blocks reads from the trunk (7x7x160 for 0 to 2 blocks, 14x14x96 for 3
// to 5).
func InputLen(b *model.Backbone, blocks int) (int, error) {
	d, err := dimsOf(b, 2, blocks) // any class count: the input does not depend on it
	if err != nil {
		return 0, err
	}
	return d.InputLen(), nil
}

// TrunkEnd is the backbone layer whose output a tail with blocks blocks
// reads: the frozen trunk ends there and its activation is cached
// (block_15_add for 0, block_14_add for 1, block_13_project for 2,
// block_12_add for 3, block_11_add for 4, block_10_project for 5).
func TrunkEnd(b *model.Backbone, blocks int) (string, error) {
	ls, err := tailLayers(b, blocks)
	if err != nil {
		return "", err
	}
	in := ls[0].Inputs[0]
	if in < 0 || in >= len(b.Layers) {
		return "", fmt.Errorf("tail: %s reads the image, not a trunk layer", ls[0].Name)
	}
	return b.Layers[in].Name, nil
}

// tailLayers finds layersFor(blocks) in b and checks that they are what
// the graph computes: 1x1 ReLU6, 3x3 depthwise ReLU6, 1x1 linear per block
// (each reading the one before; the downsampling block's depthwise stride
// 2 from an even grid to half of it, the others stride 1), a residual
// block's sum feeding the next block, and Conv_1 (1x1 ReLU6) reading
// block_16_project.
func tailLayers(b *model.Backbone, blocks int) ([]*model.Layer, error) {
	if blocks < 0 || blocks > maxBlocks {
		return nil, fmt.Errorf("tail: %d blocks before block_16: use 0 to %d", blocks, maxBlocks)
	}
	tb := namesOnly(blocks).stages()
	names := layersFor(blocks)
	out := make([]*model.Layer, len(names))
	for k, name := range names {
		i := b.LayerIndex(name)
		if i < 0 {
			return nil, fmt.Errorf("tail: the backbone has no layer %s", name)
		}
		out[k] = &b.Layers[i]
	}
	type shape struct {
		kind   model.LayerKind
		kernel int
		relu6  bool
	}
	blockShape := []shape{{model.Conv, 1, true}, {model.Depthwise, 3, true}, {model.Conv, 1, false}}
	for k, l := range out {
		w := shape{model.Conv, 1, true} // Conv_1
		if k < len(out)-1 {
			w = blockShape[k%3]
		}
		stride, outSize := 1, l.InSize
		if k%3 == 1 && k/3 < len(tb) && tb[k/3].downsamples() {
			stride, outSize = 2, l.InSize/2
			if l.InSize%2 != 0 {
				outSize = -1 // SAME would pad before too: not what the taps assume
			}
		}
		if l.Kind != w.kind || l.Kernel != w.kernel || l.Stride != stride || l.ReLU6 != w.relu6 || l.OutSize != outSize {
			return nil, fmt.Errorf("tail: layer %s is a %v %dx%d stride %d (ReLU6 %v) from %dx%d to %dx%d, the tail computes a %v %dx%d stride %d (ReLU6 %v) to %dx%d",
				l.Name, l.Kind, l.Kernel, l.Kernel, l.Stride, l.ReLU6, l.InSize, l.InSize, l.OutSize, l.OutSize, w.kind, w.kernel, w.kernel, stride, w.relu6, outSize, outSize)
		}
		if k == 0 {
			continue
		}
		want := b.LayerIndex(names[k-1])
		if k%3 == 0 && k/3 < len(tb) && tb[k/3-1].skip {
			// A block's expand reads the previous residual block's sum.
			prev := tb[k/3-1].backbone
			want = b.LayerIndex(prev + "_add")
			if want < 0 {
				return nil, fmt.Errorf("tail: the backbone has no %s_add: %s is not a residual block", prev, prev)
			}
			sum := b.Layers[want]
			if sum.Kind != model.Add || (sum.Inputs[0] != b.LayerIndex(prev+"_project") && sum.Inputs[1] != b.LayerIndex(prev+"_project")) {
				return nil, fmt.Errorf("tail: %s_add does not sum %s_project with the block's input", prev, prev)
			}
		}
		if l.Inputs[0] != want {
			return nil, fmt.Errorf("tail: %s does not read %s", l.Name, b.Layers[want].Name)
		}
	}
	for i, st := range tb {
		if e, p := out[3*i], out[3*i+2]; st.skip && p.OutChannels != e.InChannels {
			return nil, fmt.Errorf("tail: %s has %d outputs for a residual sum with %d inputs", p.Name, p.OutChannels, e.InChannels)
		}
	}
	return out, nil
}

// FromBackbone returns the tail parameters with the backbone's pretrained
// layers (overridden by p.Layers where p has fine-tuned ones) and p's head
// (nil p: zero head), for a tail with blocks blocks before block_16.
func FromBackbone(b *model.Backbone, p *model.Params, classes, blocks int) (Params, Dims, error) {
	d, err := dimsOf(b, classes, blocks)
	if err != nil {
		return nil, Dims{}, err
	}
	ls, err := tailLayers(b, blocks)
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
	stages := d.stages()
	for i, st := range stages {
		names := st.params
		w, bias := layer(ls[3*i])
		out[names.expandW], out[names.expandB] = transpose(w, st.expand, st.in), clone(bias)
		w, bias = layer(ls[3*i+1])
		out[names.depthW], out[names.depthB] = clone(w), clone(bias) // [1,3,3,C] is already [9,C]
		w, bias = layer(ls[3*i+2])
		out[names.projectW], out[names.projectB] = transpose(w, st.out, st.expand), clone(bias)
	}
	w, bias := layer(ls[3*len(stages)])
	out[conv1W], out[conv1B] = transpose(w, d.Features, d.Project), clone(bias)
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
// and the named tail layers (any of layersFor(d.blocks())) in the
// backbone's layouts.
func ToModel(p Params, d Dims, layers ...string) (headW, headB []float32, tuned map[string]model.LayerParams, err error) {
	if err := d.Check(p); err != nil {
		return nil, nil, nil, err
	}
	// Each backbone layer's tail tensors and, for 1x1 convolutions, the
	// tail matrix's [in, out] shape to transpose back to OHWI.
	type source struct {
		w, b    string
		in, out int // 0: no transpose (the depthwise kernel)
	}
	sources := map[string]source{}
	for _, st := range d.stages() {
		k := st.params
		sources[st.backbone+"_expand"] = source{k.expandW, k.expandB, st.in, st.expand}
		sources[st.backbone+"_depthwise"] = source{k.depthW, k.depthB, 0, 0}
		sources[st.backbone+"_project"] = source{k.projectW, k.projectB, st.expand, st.out}
	}
	sources["Conv_1"] = source{conv1W, conv1B, d.Project, d.Features}
	tuned = map[string]model.LayerParams{}
	for _, name := range layers {
		src, ok := sources[name]
		if !ok {
			return nil, nil, nil, fmt.Errorf("tail: %q is not a tail layer (%v)", name, layersFor(d.blocks()))
		}
		w := clone(p[src.w])
		if src.in > 0 {
			w = transpose(p[src.w], src.in, src.out)
		}
		tuned[name] = model.LayerParams{Weights: w, Bias: clone(p[src.b])}
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

// tuneBlocks names the tuning choices with 1, 2, ... blocks before block_16.
var tuneBlocks = []string{"block15", "block14", "block13", "block12", "block11"}

// Tune maps a tuning choice to the backbone layers and tail parameters
// trained, and the number of blocks the tail computes before block_16:
// conv1 (Conv_1 + head), block16 (block_16 too), block15 (block_15 too),
// block14 (block_14 too), block13 (block_13, the stride-2 block, too),
// block12 or block11 (block_12, or block_11 and block_12, on the 14x14
// grid before it, too).
func Tune(name string) (layers, params []string, blocks int, err error) {
	switch name {
	case "conv1":
		return []string{"Conv_1"}, append(append([]string{}, conv1Params...), headParams...), 0, nil
	case "block16":
		return slices.Clone(noResidualLayers), slices.Clone(allParams), 0, nil
	}
	if blocks := slices.Index(tuneBlocks, name) + 1; blocks > 0 {
		return layersFor(blocks), namesOnly(blocks).ParamNames(), blocks, nil
	}
	return nil, nil, 0, fmt.Errorf("--tune %q: use conv1 (Conv_1 + head), block16 (block_16 + Conv_1 + head), block15 (block_15 too), block14 (block_14 and block_15 too), block13 (block_13 to block_15 too), block12 (block_12 to block_15 too) or block11 (block_11 to block_15 too)", name)
}
