package train

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/model"
)

// DataRequest is the data a Job asks for before any folder is listed.
type DataRequest struct {
	Shared        string   // the shared data folder; "" finds it (shareddata.Dir)
	OnlyFolders   bool     // leave out DefaultSources
	Folders       []string // more sources, NAME=DIR or DIR (named by its base)
	SyntheticNone int      // generated empty scenes added to none, 0..10000
	Shares        []string // NAME=F: train on a share F of source NAME's groups
	Oversample    []string // NAME=K (finetune): list source NAME's views K times
	Tests         bool     // finetune: score the shared test splits
}

// Settle checks the job and d before anything is loaded or built and
// applies the mode's defaults to the settings given reports as not set
// (given takes rpscam train's flag names). Errors are *RecipeError.
func (j *Job) Settle(d DataRequest, given func(flag string) bool) error {
	if j.ValFraction == 0 {
		// Nothing is held out, so nothing can stop training early or pick
		// an epoch: the epoch counts must come from a validated run.
		if !given("epochs") || (j.Mode == "finetune" && !given("ft-epochs")) {
			return recipeErrorf("--val-fraction 0 trains on every group and leaves no validation to stop on: give the epoch counts a validated run chose, e.g. --epochs 2 --ft-epochs 3 (its record's head_warmup_history and history)")
		}
		j.Fit.Patience, j.FineTune.Patience = 0, 0
	}
	if j.MotionBlur < 0 || j.MotionBlur > 1 {
		return recipeErrorf("--aug-motion-blur %g: use a share of the views from 0 (off) up to 1, e.g. 0.25", j.MotionBlur)
	}
	var err error
	j.TrainShare, err = perSource("--train-share", d.Shares, "NAME=F with a source name and a share above 0 and at most 1, e.g. sxsw=0.5", func(v string) (float64, bool) {
		share, err := strconv.ParseFloat(v, 64)
		return share, err == nil && share > 0 && share <= 1
	})
	if err != nil {
		return err
	}
	switch j.Mode {
	case "finetune":
		if err := j.FineTune.Check(); err != nil {
			return err
		}
		j.FineTune.Oversample, err = perSource("--oversample", d.Oversample, "NAME=K with a source name and a whole K from 1 to 20, e.g. sxsw=2", func(v string) (int, bool) {
			n, err := strconv.Atoi(v)
			return n, err == nil && n >= 1 && n <= 20
		})
		if err != nil {
			return err
		}
	case "head":
		for _, name := range []string{"oversample", "ft-mixup", "ft-schedule", "ft-ema"} {
			if given(name) {
				return recipeErrorf("--%s applies to --mode finetune only", name)
			}
		}
		def := RecipeDefaults("head")
		if !given("views") {
			j.Views = def.Views
		}
		if !given("balance-classes") {
			j.Fit.BalanceClasses = def.Fit.BalanceClasses
		}
	default:
		return recipeErrorf("--mode %q: use head (frozen backbone) or finetune (last layers trained too)", j.Mode)
	}
	if j.Views < 1 || j.Views > 32 {
		return recipeErrorf("--views %d: want 1..32", j.Views)
	}
	if d.SyntheticNone < 0 || d.SyntheticNone > 10000 {
		return recipeErrorf("--synthetic-none %d: want 0 (off) to 10000", d.SyntheticNone)
	}
	return nil
}

// ListData sets the job's sources (the default ones unless OnlyFolders,
// the folders, the generated none scenes) and test sets (none for a
// leave-one-source-out check), and checks that the per-source settings name
// sources, before minutes of activations are computed for nothing.
func (j *Job) ListData(d DataRequest) error {
	var srcs []Source
	if !d.OnlyFolders {
		dir, err := shareddata.Dir(d.Shared)
		if err != nil {
			return err
		}
		srcs = DefaultSources(dir)
	}
	for _, s := range d.Folders {
		name, dir, ok := strings.Cut(s, "=")
		if !ok {
			dir, name = s, filepath.Base(filepath.Clean(s))
		}
		srcs = append(srcs, Source{Name: name, Dir: dir, Grouping: GroupNone})
	}
	if d.SyntheticNone > 0 {
		s, err := writeSyntheticNone(filepath.Join(j.CacheDir, syntheticNoneName), d.SyntheticNone, j.AugSeed)
		if err != nil {
			return err
		}
		srcs = append(srcs, s)
	}
	if len(srcs) == 0 {
		return recipeErrorf("no training sources: drop --only-sources or add --source NAME=DIR")
	}
	j.Sources = srcs
	if err := checkSourceNames("--train-share", slices.Sorted(maps.Keys(j.TrainShare)), srcs); err != nil {
		return err
	}
	if err := checkSourceNames("--oversample", slices.Sorted(maps.Keys(j.FineTune.Oversample)), srcs); err != nil {
		return err
	}
	j.Tests = nil
	if j.Mode == "finetune" && d.Tests && j.LeaveOut == "" {
		dir, err := shareddata.Dir(d.Shared)
		if err != nil {
			return err
		}
		j.Tests = DefaultTestSets(dir)
	}
	return nil
}

// backbonePath names the head recipe's feature-extractor ONNX by weights.
func backbonePath(w model.Weights) string {
	if w == model.WeightsTF2 {
		return "models/mobilenet_v2_backbone.onnx"
	}
	return fmt.Sprintf("models/mobilenet_v2_backbone-%s.onnx", w.Name)
}

func recipeErrorf(format string, a ...any) error {
	return &RecipeError{fmt.Errorf(format, a...)}
}

// perSource parses the NAME=VALUE items of a per-source setting into a map;
// value parses one VALUE and says whether it is in range. A bad item is a
// *RecipeError showing want, the form expected.
func perSource[V any](flag string, items []string, want string, value func(string) (V, bool)) (map[string]V, error) {
	by := map[string]V{}
	for _, item := range items {
		name, text, found := strings.Cut(item, "=")
		v, ok := value(text)
		if !found || name == "" || !ok {
			return nil, recipeErrorf("%s %q: use %s", flag, item, want)
		}
		by[name] = v
	}
	return by, nil
}

// checkSourceNames refuses names given to a per-source setting that are
// not sources.
func checkSourceNames(flag string, given []string, srcs []Source) error {
	var names []string
	for _, s := range srcs {
		names = append(names, s.Name)
	}
	for _, name := range given {
		if !slices.Contains(names, name) {
			return recipeErrorf("%s %s: no training source has that name (sources: %s)", flag, name, strings.Join(names, ", "))
		}
	}
	return nil
}
