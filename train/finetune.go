package train

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TestSet is a labelled folder scored after training (never trained on).
type TestSet struct {
	Name string
	Src  Source // with a HoldOut rule: score only the held-out part
}

// DefaultTestSets are the shared data's test parts, one per training source
// and never trained on: the upstream test splits of the CGI renders, sxsw
// (grouped by clip) and subhih (other sessions), and the fixed held-out
// parts of the sources without one (drgfreeman, parikshitkumar1,
// signdigits).
func DefaultTestSets(shared string) []TestSet {
	var out []TestSet
	for _, s := range DefaultSources(shared) {
		t := s
		t.Background = ""
		if s.HoldOut != NoHoldOut {
			t.Name = s.Name + "-heldout"
		} else {
			t.Name = s.Name + "-test"
			t.Dir = filepath.Join(filepath.Dir(s.Dir), "test")
		}
		out = append(out, TestSet{Name: t.Name, Src: t})
	}
	return out
}

// Examples lists the test images (the held-out part for a HoldOut source).
func (t TestSet) Examples() ([]Example, error) {
	all, held, err := t.Src.List()
	if err != nil {
		return nil, err
	}
	if t.Src.HoldOut != NoHoldOut {
		return held, nil
	}
	return all, nil
}

// HeldOutPart returns the fixed test part of the default source whose
// folder is dir (compared as absolute paths), for rpscam eval --heldout;
// ok is false when dir is no default source with a held-out part.
func HeldOutPart(shared, dir string) (examples []Example, ok bool, err error) {
	want, err := filepath.Abs(dir)
	if err != nil {
		return nil, false, err
	}
	for _, t := range DefaultTestSets(shared) {
		have, err := filepath.Abs(t.Src.Dir)
		if err != nil || have != want || t.Src.HoldOut == NoHoldOut {
			continue
		}
		exs, err := t.Examples()
		return exs, true, err
	}
	return nil, false, nil
}

// activations are the cached trunk outputs of one run's examples.
type activations struct {
	Train, Validation, LeftOut FeatureSet
	Tests                      map[string]FeatureSet
	TestOrder                  []string
	Splits                     *Splits
	Time                       time.Duration
}

// extractActivations splits the sources and runs ex (whose Runner is the
// trunk) over every training view, the validation and left-out images and
// the test sets, from the cache where present.
func extractActivations(cfg Config, tests []TestSet, ex *Extractor, perView int, available uint64, log io.Writer) (*activations, error) {
	if cfg.Views < 1 {
		return nil, fmt.Errorf("views %d: want 1 or more", cfg.Views)
	}
	sp, err := SplitSources(cfg, log)
	if err != nil {
		return nil, err
	}
	if note := memoryNote(len(sp.Train)*cfg.Views+len(sp.Validation)+len(sp.LeftOut), perView, available); note != "" {
		fmt.Fprintln(log, note)
	}
	a := &activations{Splits: sp, Tests: map[string]FeatureSet{}}
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

// memoryNote says, before the activations are computed, when the machine
// has less memory available than the run works best with (0: unknown, no
// note). The activations are read where they lie in the cache file
// (mapped), so they need not all fit: the kernel keeps what fits in its
// file cache and reads the rest from disk again each epoch, which is only
// slower. What must fit is the rest, ONNX Runtime's sessions and the Go
// heap: 2.2 GB at the peak of the 12-view block_13 recipe's first run from
// an empty cache (2026-12-05; 5.7 GB with its 3.5 GB of mapped activations,
// 6.95 GB when the activations were held on the heap).
func memoryNote(views, perView int, available uint64) string {
	const working = 2.5e9 // the 2.2 GB measured, rounded up
	acts := float64(views) * float64(perView) * 2
	switch {
	case available == 0 || working+acts <= float64(available):
		return ""
	case working > float64(available):
		return fmt.Sprintf("train: warning: this run needs about %.1f GB of memory besides its activations, %.1f GB are available: it may be killed; close other programs", working/1e9, float64(available)/1e9)
	}
	return fmt.Sprintf("train: note: the activations (%.1f GB: %d views x %d values as binary16) do not all fit in the %.1f GB available beside training's %.1f GB: "+
		"epochs will read part of them from disk again, which is slower; fewer --views or a shallower --tune (block14 holds 2.4 times fewer values a view) fit", acts/1e9, views, perView, float64(available)/1e9, working/1e9)
}

// availableMemory is MemAvailable from /proc/meminfo in bytes, 0 where it
// cannot be read (not Linux).
func availableMemory() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "MemAvailable:" {
			if kb, err := strconv.ParseUint(fields[1], 10, 64); err == nil {
				return kb * 1024 // the value is in kB
			}
		}
	}
	return 0
}
