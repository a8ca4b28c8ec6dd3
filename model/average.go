package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// AverageParams returns the element-wise mean of parameter sets trained
// from the same starting point (a "model soup"): the same labels, head
// width and fine-tuned layers with the same sizes. Fine-tuning with small
// learning rates from one pretrained backbone keeps runs in one basin, so
// their mean behaves like an ensemble of them at the cost of one model.
// Meta is taken from the first set.
func AverageParams(ps ...*Params) (*Params, error) {
	if len(ps) == 0 {
		return nil, errors.New("average: no parameter sets")
	}
	first := ps[0]
	for i, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("average: set %d: %w", i+1, err)
		}
		if !slices.Equal(p.Labels, first.Labels) {
			return nil, fmt.Errorf("average: set %d has classes %v, set 1 %v", i+1, p.Labels, first.Labels)
		}
		if len(p.HeadW) != len(first.HeadW) {
			return nil, fmt.Errorf("average: set %d has a head of %d weights, set 1 %d", i+1, len(p.HeadW), len(first.HeadW))
		}
		if len(p.Layers) != len(first.Layers) {
			return nil, fmt.Errorf("average: set %d fine-tunes layers %v, set 1 %v", i+1, sortedKeys(p.Layers), sortedKeys(first.Layers))
		}
		for name, l := range first.Layers {
			o, ok := p.Layers[name]
			if !ok || len(o.Weights) != len(l.Weights) || len(o.Bias) != len(l.Bias) {
				return nil, fmt.Errorf("average: set %d lacks layer %s or has it in another size", i+1, name)
			}
		}
	}
	mean := func(pick func(*Params) []float32) []float32 {
		out := make([]float32, len(pick(first)))
		for _, p := range ps {
			for i, v := range pick(p) {
				out[i] += v
			}
		}
		for i := range out {
			out[i] /= float32(len(ps))
		}
		return out
	}
	avg := &Params{
		Labels: slices.Clone(first.Labels),
		HeadW:  mean(func(p *Params) []float32 { return p.HeadW }),
		HeadB:  mean(func(p *Params) []float32 { return p.HeadB }),
		Meta:   map[string]string{},
	}
	for k, v := range first.Meta {
		avg.Meta[k] = v
	}
	if len(first.Layers) > 0 {
		avg.Layers = map[string]LayerParams{}
		for name := range first.Layers {
			avg.Layers[name] = LayerParams{
				Weights: mean(func(p *Params) []float32 { return p.Layers[name].Weights }),
				Bias:    mean(func(p *Params) []float32 { return p.Layers[name].Bias }),
			}
		}
	}
	return avg, nil
}

// ReadRuns reads the parameter files of runs to average; all must have
// been trained on the same backbone weights. A missing file is a
// *ChoiceError.
func ReadRuns(paths []string) ([]*Params, error) {
	for _, path := range paths {
		if _, err := os.Stat(path); err != nil {
			return nil, &ChoiceError{fmt.Errorf("params %s: %v (rpscam train writes it; or pass --params)", path, errors.Unwrap(err))}
		}
	}
	var sets []*Params
	for _, path := range paths {
		p, err := ReadParams(path)
		if err != nil {
			return nil, err
		}
		if len(sets) > 0 && p.Meta[MetaBackboneWeights] != sets[0].Meta[MetaBackboneWeights] {
			return nil, fmt.Errorf("%s was trained on backbone weights %q, %s on %q: only runs from the same backbone can be averaged",
				path, p.Meta[MetaBackboneWeights], paths[0], sets[0].Meta[MetaBackboneWeights])
		}
		sets = append(sets, p)
	}
	return sets, nil
}

// MarkAveraged names the averaged runs (file and sha256) in p's and the
// model's metadata and drops the first run's validation figures, which do
// not describe the average (rpscam eval --validation measures it).
func MarkAveraged(p *Params, meta map[string]string, paths []string) error {
	var from []string
	for _, path := range paths {
		sum, err := FileSHA256(path)
		if err != nil {
			return err
		}
		from = append(from, filepath.Base(path)+":"+sum[:12])
	}
	p.Meta["averaged_from"] = strings.Join(from, ",")
	meta["averaged_from"] = p.Meta["averaged_from"]
	delete(p.Meta, "validation_accuracy")
	delete(p.Meta, "validation_loss")
	return nil
}
