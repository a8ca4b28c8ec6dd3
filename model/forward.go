package model

import (
	"fmt"
	"strings"

	"github.com/rpscam/rpscam/internal/nn"
)

// normalize converts NHWC uint8 RGB pixels to the network's float input,
// x/127.5 - 1, computed in float32 exactly as the ONNX graph's Cast, Mul and
// Sub nodes do.
func normalize(pixels []uint8, n, height, width int) (*nn.Tensor, error) {
	if n <= 0 || height <= 0 || width <= 0 || len(pixels) != n*height*width*InputColours {
		return nil, fmt.Errorf("normalize: %d bytes for %d images of %dx%dx%d", len(pixels), n, height, width, InputColours)
	}
	t := nn.New(n, height, width, InputColours)
	const scale = float32(1.0 / 127.5)
	for i, p := range pixels {
		t.Data[i] = float32(p)*scale - 1
	}
	return t, nil
}

// Forward runs the backbone on a normalised NHWC batch [N,224,224,3] and
// returns the pooled features [N,1280]. It is the reference the ONNX graph
// is tested against.
func (b *Backbone) Forward(x *nn.Tensor) (*nn.Tensor, error) {
	outs, err := b.forward(x, false)
	if err != nil {
		return nil, err
	}
	return nn.GlobalAvgPool(outs[len(outs)-1])
}

// ForwardAll runs the backbone and returns every layer's output, indexed
// like Layers: what training code needs to backpropagate into late layers
// or to cache the activations entering them.
func (b *Backbone) ForwardAll(x *nn.Tensor) ([]*nn.Tensor, error) {
	return b.forward(x, true)
}

func (b *Backbone) forward(x *nn.Tensor, keep bool) ([]*nn.Tensor, error) {
	if x == nil || len(x.Shape) != 4 || x.Shape[1] != InputSize || x.Shape[2] != InputSize || x.Shape[3] != InputColours {
		var shape []int
		if x != nil {
			shape = x.Shape
		}
		return nil, fmt.Errorf("backbone input has shape %v, want [N,%d,%d,%d] (see Normalize)", shape, InputSize, InputSize, InputColours)
	}
	// lastUse lets the plain forward pass drop activations as soon as no
	// later layer reads them (the 112x112x96 ones are 4.8 MB per image).
	lastUse := make([]int, len(b.Layers))
	for i, l := range b.Layers {
		for _, in := range l.Inputs {
			if in >= 0 {
				lastUse[in] = i
			}
		}
	}
	outs := make([]*nn.Tensor, len(b.Layers))
	for i := range b.Layers {
		l := &b.Layers[i]
		ins := make([]*nn.Tensor, len(l.Inputs))
		for k, src := range l.Inputs {
			if src == ImageInput {
				ins[k] = x
			} else {
				ins[k] = outs[src]
			}
		}
		y, err := l.Apply(ins...)
		if err != nil {
			return nil, fmt.Errorf("layer %d %s: %w", i, l.Name, err)
		}
		outs[i] = y
		if !keep {
			for _, src := range l.Inputs {
				if src >= 0 && lastUse[src] == i {
					outs[src] = nil
				}
			}
		}
	}
	return outs, nil
}

// ImageNetParams returns the file's ImageNet classifier as head Params, so
// BuildONNX can make the full 1001-class network for verification. labels
// are the 1001 lines of imagenet_labels.txt; only the text before the first
// comma is kept ("tench, Tinca tinca" -> "tench") because the labels
// metadata is comma-separated, and a repeated name gets "#<class index>".
func (b *Backbone) ImageNetParams(labels []string) (*Params, error) {
	if b.ImageNet == nil {
		return nil, fmt.Errorf("%s has no ImageNet classifier", b.Source.File)
	}
	classes := b.ImageNet.OutChannels
	if len(labels) != classes {
		return nil, fmt.Errorf("%d ImageNet labels for %d classes: pass the 1001 lines of imagenet_labels.txt", len(labels), classes)
	}
	short := make([]string, len(labels))
	seen := map[string]bool{}
	for i, l := range labels {
		if j := strings.IndexByte(l, ','); j >= 0 {
			l = l[:j]
		}
		l = strings.TrimSpace(l)
		// Two ImageNet classes share a first name (crane the bird and the
		// machine; maillot): the class index keeps them apart.
		if seen[l] {
			l = fmt.Sprintf("%s#%d", l, i)
		}
		seen[l] = true
		short[i] = l
	}
	// The 1x1 convolution's OHWI weights [1001,1,1,1280] are already the
	// row-major [classes][features] matrix a dense layer needs.
	return &Params{
		Labels: short,
		HeadW:  append([]float32(nil), b.ImageNet.Weights...),
		HeadB:  append([]float32(nil), b.ImageNet.Bias...),
		Meta:   map[string]string{"head": "imagenet-1001 from " + b.Source.File},
	}, nil
}
