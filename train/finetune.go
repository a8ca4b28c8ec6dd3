package train

import (
	"fmt"
	"io"
	"time"
)

// TestSet is a labelled folder scored after training (never trained on).
type TestSet struct {
	Name string
	Src  Source // HoldOut: score only the held-out part
}

// DefaultTestSets are the shared data's test splits: the TFDS CGI test
// split, the sxsw test split (grouped by clip upstream) and drgfreeman's
// fixed held-out 20%.
func DefaultTestSets(shared string) []TestSet {
	ds := DefaultSources(shared)
	return []TestSet{
		{Name: "cgi-test", Src: Source{Name: "cgi-test", Dir: ds[0].Dir[:len(ds[0].Dir)-len("train")] + "test", Grouping: GroupNone}},
		{Name: "sxsw-test", Src: Source{Name: "sxsw-test", Dir: ds[2].Dir[:len(ds[2].Dir)-len("train")] + "test", Grouping: GroupNone}},
		{Name: "drgfreeman-heldout", Src: Source{Name: "drgfreeman-heldout", Dir: ds[1].Dir, Grouping: GroupNone, HoldOut: true}},
	}
}

// Examples lists the test images (the held-out part for a HoldOut source).
func (t TestSet) Examples() ([]Example, error) {
	all, held, err := t.Src.List()
	if err != nil {
		return nil, err
	}
	if t.Src.HoldOut {
		return held, nil
	}
	return all, nil
}

// Activations are the cached trunk outputs of one run's examples.
type Activations struct {
	Train, Validation, LeftOut FeatureSet
	Tests                      map[string]FeatureSet
	TestOrder                  []string
	Splits                     *Splits
	Time                       time.Duration
}

// ExtractActivations splits the sources and runs ex (whose Runner is the
// trunk) over every training view, the validation and left-out images and
// the test sets, from the cache where present.
func ExtractActivations(cfg Config, tests []TestSet, ex *Extractor, log io.Writer) (*Activations, error) {
	if cfg.Views < 1 {
		return nil, fmt.Errorf("views %d: want 1 or more", cfg.Views)
	}
	sp, err := SplitSources(cfg, log)
	if err != nil {
		return nil, err
	}
	a := &Activations{Splits: sp, Tests: map[string]FeatureSet{}}
	start := time.Now()
	ex.ProgressName = fmt.Sprintf("activations (%d images x %d views)", len(sp.Train), cfg.Views)
	if a.Train, err = ex.Features(sp.Train, cfg.Views); err != nil {
		return nil, err
	}
	ex.ProgressName = "activations (validation)"
	if a.Validation, err = ex.Features(sp.Validation, 1); err != nil {
		return nil, err
	}
	if len(sp.LeftOut) > 0 {
		ex.ProgressName = "activations (left-out source)"
		if a.LeftOut, err = ex.Features(sp.LeftOut, 1); err != nil {
			return nil, err
		}
	}
	for _, t := range tests {
		exs, err := t.Examples()
		if err != nil {
			return nil, fmt.Errorf("test set %s: %w", t.Name, err)
		}
		ex.ProgressName = "activations (test " + t.Name + ")"
		fs, err := ex.Features(exs, 1)
		if err != nil {
			return nil, err
		}
		a.Tests[t.Name] = fs
		a.TestOrder = append(a.TestOrder, t.Name)
	}
	a.Time = time.Since(start)
	return a, nil
}
