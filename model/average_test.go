package model

import (
	"slices"
	"testing"
)

func TestAverageParamsIsTheElementwiseMean(t *testing.T) {
	a := &Params{Labels: []string{"x", "y"}, HeadW: []float32{1, 2, 3, 4}, HeadB: []float32{0, 1},
		Layers: map[string]LayerParams{"Conv_1": {Weights: []float32{1, -1, 2}, Bias: []float32{4}}}, Meta: map[string]string{"k": "a"}}
	b := &Params{Labels: []string{"x", "y"}, HeadW: []float32{3, 2, 1, 0}, HeadB: []float32{1, 1},
		Layers: map[string]LayerParams{"Conv_1": {Weights: []float32{3, 1, 2}, Bias: []float32{0}}}, Meta: map[string]string{"k": "b"}}
	avg, err := AverageParams(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{2, 2, 2, 2}; !slices.Equal(avg.HeadW, want) {
		t.Errorf("head weights %v, want %v", avg.HeadW, want)
	}
	if want := []float32{0.5, 1}; !slices.Equal(avg.HeadB, want) {
		t.Errorf("head biases %v, want %v", avg.HeadB, want)
	}
	l := avg.Layers["Conv_1"]
	if want := []float32{2, 0, 2}; !slices.Equal(l.Weights, want) || !slices.Equal(l.Bias, []float32{2}) {
		t.Errorf("Conv_1 %v / %v, want %v / [2]", l.Weights, l.Bias, want)
	}
	if avg.Meta["k"] != "a" {
		t.Errorf("meta %v: want the first set's", avg.Meta)
	}
	// The inputs are left as they were.
	if a.HeadW[0] != 1 || b.Layers["Conv_1"].Weights[0] != 3 {
		t.Error("AverageParams changed its inputs")
	}
}

func TestAverageParamsRejectsSetsThatDoNotMatch(t *testing.T) {
	base := func() *Params {
		return &Params{Labels: []string{"x", "y"}, HeadW: []float32{1, 2, 3, 4}, HeadB: []float32{0, 1},
			Layers: map[string]LayerParams{"Conv_1": {Weights: []float32{1, 2}, Bias: []float32{0}}}}
	}
	relabelled := base()
	relabelled.Labels = []string{"y", "x"}
	wider := base()
	wider.HeadW = []float32{1, 2, 3, 4, 5, 6}
	headOnly := base()
	headOnly.Layers = nil
	otherLayer := base()
	otherLayer.Layers = map[string]LayerParams{"block_16_project": {Weights: []float32{1, 2}, Bias: []float32{0}}}
	resized := base()
	resized.Layers = map[string]LayerParams{"Conv_1": {Weights: []float32{1, 2, 3}, Bias: []float32{0}}}
	for name, other := range map[string]*Params{"labels": relabelled, "head width": wider, "head only": headOnly, "other layer": otherLayer, "layer size": resized} {
		if _, err := AverageParams(base(), other); err == nil {
			t.Errorf("%s: averaged sets that do not match", name)
		}
	}
	if _, err := AverageParams(); err == nil {
		t.Error("averaged no sets")
	}
}
