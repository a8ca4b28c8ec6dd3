package train

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/rpscam/rpscam/internal/nn"
)

// Config is one training run: data, split, augmentation and the head recipe.
type Config struct {
	Sources     []Source
	ValFraction float64 // share of each source's groups used for validation
	Seed        uint64  // initialisation, shuffling and dropout
	// SplitSeed picks the validation groups. It is apart from Seed so that
	// runs with other seeds can be compared (or averaged) on one split.
	SplitSeed uint64
	Views     int // per image: 1 clean view + Views-1 augmented views
	// LeaveOut names a source kept out of training and validation entirely
	// and scored afterwards: the leave-one-source-out check of how the
	// model does on data unlike anything it trained on.
	LeaveOut string
	// TrainShare trains on only this share (0 < share <= 1) of a source's
	// training groups, keyed by source name; validation is untouched. It
	// measures a learning curve: how the held-out figures move with the
	// amount of a source's data, i.e. what more of it would buy.
	TrainShare map[string]float64
	Fit        FitConfig
}

// DefaultConfig is the committed recipe; models/README.md gives the
// measurements behind the class balancing and the 12 views per image (the
// lower mean validation loss over seeds 1-3; the seed is the one of those
// runs whose validation loss was lowest).
func DefaultConfig(sources []Source) Config {
	return Config{
		Sources: sources, ValFraction: 0.15, Seed: 1, SplitSeed: 1, Views: 12,
		Fit: FitConfig{Epochs: 60, BatchSize: 64, LearningRate: 1e-3, Dropout: 0.2, WeightDecay: 1e-4, Patience: 8, BalanceClasses: true},
	}
}

// SourceCounts records how a source was used.
type SourceCounts struct {
	Name       string `json:"name"`
	Dir        string `json:"dir"`
	Grouping   string `json:"grouping"`
	Train      int    `json:"train_images"`
	Validation int    `json:"validation_images"`
	HeldOut    int    `json:"held_out_images"`
	Groups     int    `json:"groups"`
	LeftOut    bool   `json:"left_out,omitempty"`
	// TrainShare is Config.TrainShare's value for the source, when one was set.
	TrainShare float64 `json:"train_share,omitempty"`
}

// outcome is what run produced.
type outcome struct {
	Head          *Head
	History       []EpochStats
	Sources       []SourceCounts
	ValAccuracy   float64            // clean views of the validation images
	ValLoss       float64            // likewise
	ValBySource   map[string]float64 // clean-view validation accuracy per source
	LeftOut       *scored            // the left-out source, when Config.LeaveOut is set
	FeatureTime   time.Duration
	FitTime       time.Duration
	TrainExamples int // feature vectors trained on (images x views)
}

// scored is accuracy on a set of images.
type scored struct {
	Source   string  `json:"source"`
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
	Recall   []float64
}

// run lists and splits the sources, extracts (or loads cached) features,
// and fits the head, logging Keras-style lines to log.
func run(cfg Config, ex *Extractor, log io.Writer) (*outcome, error) {
	if cfg.Views < 1 {
		return nil, fmt.Errorf("views %d: want 1 or more", cfg.Views)
	}
	out := &outcome{ValBySource: map[string]float64{}}
	sp, err := SplitSources(cfg, log)
	if err != nil {
		return nil, err
	}
	out.Sources = sp.Sources
	trainEx, valEx, leftEx := sp.Train, sp.Validation, sp.LeftOut
	start := time.Now()
	ex.ProgressName = fmt.Sprintf("features (%d images x %d views)", len(trainEx), cfg.Views)
	trainF, err := ex.Features(trainEx, cfg.Views)
	if err != nil {
		return nil, err
	}
	ex.ProgressName = "features (validation)"
	valF, err := ex.Features(valEx, 1)
	if err != nil {
		return nil, err
	}
	var leftF FeatureSet
	if len(leftEx) > 0 {
		ex.ProgressName = "features (left-out source)"
		if leftF, err = ex.Features(leftEx, 1); err != nil {
			return nil, err
		}
	}
	out.FeatureTime = time.Since(start)
	out.TrainExamples = len(trainF.X)

	dim := ex.Runner.OutputDim()
	h, err := NewHead(dim, len(Labels), cfg.Seed)
	if err != nil {
		return nil, err
	}
	fit := cfg.Fit
	fit.Seed = cfg.Seed
	userEpoch := fit.OnEpoch
	fit.OnEpoch = func(s EpochStats) {
		best := ""
		if s.Best {
			best = " *"
		}
		fmt.Fprintf(log, "Epoch %d/%d - %.1fs - loss: %.4f - accuracy: %.4f - val_loss: %.4f - val_accuracy: %.4f%s\n",
			s.Epoch, s.Epochs, s.Seconds, s.Loss, s.Accuracy, s.ValLoss, s.ValAccuracy, best)
		if s.StoppedEarly {
			fmt.Fprintf(log, "early stopping: no better val_loss for %d epochs", fit.Patience)
		}
		if s.Restored {
			fmt.Fprintf(log, "; restored the weights of the best epoch\n")
		} else if s.StoppedEarly {
			fmt.Fprintln(log)
		}
		if userEpoch != nil {
			userEpoch(s)
		}
	}
	fitStart := time.Now()
	clock := func() float64 { return time.Since(fitStart).Seconds() }
	hist, err := Fit(h, trainF.Batch(fit.BalanceClasses), valF.Batch(false), fit, clock)
	if err != nil {
		return nil, err
	}
	out.FitTime = time.Since(fitStart)
	out.Head, out.History = h, hist
	out.ValLoss, out.ValAccuracy = h.Evaluate(valF.Batch(false))
	bySrc := map[string][2]int{}
	probs := make([]float32, h.Classes)
	for i, x := range valF.X {
		h.Probs(x, probs)
		c := bySrc[valF.Examples[i].Source]
		c[1]++
		if nn.Argmax(probs) == valF.Y[i] {
			c[0]++
		}
		bySrc[valF.Examples[i].Source] = c
	}
	for s, c := range bySrc {
		out.ValBySource[s] = float64(c[0]) / float64(c[1])
	}
	if len(leftF.X) > 0 {
		out.LeftOut = score(h, leftF, cfg.LeaveOut)
	}
	return out, nil
}

// Splits are a Config's examples: shuffled training images, validation
// images and the left-out source's images, with per-source counts.
type Splits struct {
	Train, Validation, LeftOut []Example
	Sources                    []SourceCounts
}

// SplitSources lists every source and splits it by groups (Split), logging
// one line per source to log.
func SplitSources(cfg Config, log io.Writer) (*Splits, error) {
	sp := &Splits{}
	found := cfg.LeaveOut == ""
	for name, share := range cfg.TrainShare {
		if !slices.ContainsFunc(cfg.Sources, func(s Source) bool { return s.Name == name }) {
			return nil, fmt.Errorf("train share for %q names no source (have %s)", name, sourceNames(cfg.Sources))
		}
		if !(share > 0 && share <= 1) {
			return nil, fmt.Errorf("train share %g for %s: use a share in (0, 1], e.g. 0.5", share, name)
		}
	}
	for _, s := range cfg.Sources {
		all, held, err := s.List()
		if err != nil {
			return nil, err
		}
		groups := map[string]bool{}
		for _, e := range all {
			groups[e.Group] = true
		}
		sc := SourceCounts{Name: s.Name, Dir: s.Dir, Grouping: string(s.Grouping), HeldOut: len(held), Groups: len(groups)}
		if s.Name == cfg.LeaveOut {
			found, sc.LeftOut = true, true
			sp.LeftOut = append(sp.LeftOut, all...)
			sp.Sources = append(sp.Sources, sc)
			continue
		}
		tr, va, err := Split(all, cfg.ValFraction, cfg.SplitSeed)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", s.Name, err)
		}
		if share, ok := cfg.TrainShare[s.Name]; ok {
			tr, sc.TrainShare = keepShare(tr, share, cfg.SplitSeed), share
		}
		sc.Train, sc.Validation = len(tr), len(va)
		sp.Sources = append(sp.Sources, sc)
		sp.Train = append(sp.Train, tr...)
		sp.Validation = append(sp.Validation, va...)
	}
	if !found {
		return nil, fmt.Errorf("--leave-out %q names no source (have %s)", cfg.LeaveOut, sourceNames(cfg.Sources))
	}
	if len(sp.Train) == 0 {
		return nil, fmt.Errorf("no training images left: check the sources and --leave-out")
	}
	sp.Train = shuffle(sp.Train, cfg.Seed)
	for _, sc := range sp.Sources {
		note := map[bool]string{true: " (left out)"}[sc.LeftOut]
		if sc.TrainShare != 0 {
			note = fmt.Sprintf(" (training on %g of its training groups)", sc.TrainShare)
		}
		fmt.Fprintf(log, "source %-11s %5d train %4d validation %4d held out %4d groups%s  %s\n", sc.Name, sc.Train, sc.Validation, sc.HeldOut, sc.Groups, note, sc.Dir)
	}
	return sp, nil
}

func score(h *Head, f FeatureSet, name string) *scored {
	s := &scored{Source: name, N: len(f.X), Recall: make([]float64, h.Classes)}
	right := 0
	per := make([][2]int, h.Classes)
	probs := make([]float32, h.Classes)
	for i, x := range f.X {
		h.Probs(x, probs)
		per[f.Y[i]][1]++
		if nn.Argmax(probs) == f.Y[i] {
			right++
			per[f.Y[i]][0]++
		}
	}
	s.Accuracy = float64(right) / float64(max(len(f.X), 1))
	for c := range per {
		s.Recall[c] = math.NaN()
		if per[c][1] > 0 {
			s.Recall[c] = float64(per[c][0]) / float64(per[c][1])
		}
	}
	return s
}

func sourceNames(ss []Source) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Name
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}
