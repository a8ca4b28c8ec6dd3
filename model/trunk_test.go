package model

import "testing"

// TestTrunkEndsAtTheNamedLayer: a trunk cut at block_15_add returns that
// layer's activation in NHWC, equal to the reference forward's at that layer.
func TestTrunkEndsAtTheNamedLayer(t *testing.T) {
	initORT(t)
	b := loadBackbone(t, WeightsTF2)
	m, err := BuildONNX(b, nil, nil, Trunk("block_15_add"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Graph.Outputs) != 1 || m.Graph.Outputs[0].Name != ActivationName || m.Metadata["trunk_end"] != "block_15_add" {
		t.Fatalf("outputs %+v, metadata trunk_end %q", m.Graph.Outputs, m.Metadata["trunk_end"])
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(t, data, []string{ActivationName}, 0)
	px := randomImages(11, 1)
	got, shapes := s.run(t, px, 1)
	if want := []int64{1, 7, 7, 160}; len(shapes[0]) != 4 || shapes[0][1] != 7 || shapes[0][3] != 160 {
		t.Fatalf("activation shape %v, want %v", shapes[0], want)
	}
	x, err := normalize(px, 1, InputSize, InputSize)
	if err != nil {
		t.Fatal(err)
	}
	// The reference forward up to and including block_15_add.
	end := b.LayerIndex("block_15_add")
	ref := &Backbone{Layers: b.Layers[:end+1], Source: b.Source}
	outs, err := ref.ForwardAll(x)
	if err != nil {
		t.Fatal(err)
	}
	diff, scale := maxAbsDiff(got[0], outs[end].Data)
	if scale < 0.1 || diff > 1e-4*scale {
		t.Fatalf("trunk activation differs from the reference by %g (max %g)", diff, scale)
	}
	if _, err := BuildONNX(b, nil, nil, Trunk("block_99")); err == nil {
		t.Error("BuildONNX accepted an unknown trunk end")
	}
	if _, err := BuildONNX(b, &Params{Labels: []string{"a", "b"}, HeadW: make([]float32, 2*FeatureSize), HeadB: make([]float32, 2)}, nil, Trunk("block_15_add")); err == nil {
		t.Error("BuildONNX accepted a head on a trunk")
	}
}
