package train

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rpscam/rpscam/train/tail"
)

// Check refuses a fine-tuning recipe that cannot run, before anything is
// loaded or built; the errors name rpscam train's flags.
func (c FineTuneConfig) Check() error {
	if _, _, _, err := tail.Tune(c.Tune); err != nil {
		return &RecipeError{err}
	}
	switch {
	case c.Monitor != "val_loss" && c.Monitor != "val_accuracy":
		return &RecipeError{fmt.Errorf("--ft-monitor %q: use val_loss or val_accuracy", c.Monitor)}
	case c.Schedule != "constant" && c.Schedule != "cosine":
		return &RecipeError{fmt.Errorf("--ft-schedule %q: use constant or cosine", c.Schedule)}
	case c.EMA < 0 || c.EMA >= 1:
		return &RecipeError{fmt.Errorf("--ft-ema %g: use 0 (off) up to below 1, e.g. 0.998", c.EMA)}
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 1:
		return &RecipeError{fmt.Errorf("--ft-label-smoothing %g: use 0 (off) up to below 1, e.g. 0.1", c.LabelSmoothing)}
	case c.Mixup < 0:
		return &RecipeError{fmt.Errorf("--ft-mixup %g: use 0 (off) or a Beta alpha above 0, e.g. 0.2", c.Mixup)}
	case c.Epochs < 1 || c.LRHead <= 0 || c.LRBody < 0 || c.Anchor < 0:
		return &RecipeError{fmt.Errorf("--ft-epochs %d, --ft-lr-head %g, --ft-lr %g, --ft-anchor %g: epochs and the head rate must be positive, the others non-negative", c.Epochs, c.LRHead, c.LRBody, c.Anchor)}
	}
	return nil
}

// RecipeFlags are the flags a mode's Reproduce line always names.
func RecipeFlags(mode string) []string {
	common := []string{"mode", "weights", "seed", "split-seed", "aug-seed", "views"}
	if mode == "head" {
		return append(common, "balance-classes")
	}
	return append(common, "tune", "ft-epochs", "ft-lr", "ft-lr-head", "ft-anchor", "ft-label-smoothing", "ft-monitor", "ft-patience", "balance-classes")
}

// notRecipe are the train flags that do not shape the trained parameters:
// where inputs and outputs live, speed, and the leave-one-source-out check
// (which writes no record). A Reproduce line leaves them out; every other
// flag, including any added later, is a recipe flag unless listed here.
// (--backbone and --trunk are derived from --weights unless given; the
// record keeps the files' checksums.)
var notRecipe = map[string]bool{
	"shared": true, "leave-out": true, "backbone": true, "trunk": true, "cache": true, "tests": true,
	"params-out": true, "record": true, "out": true, "curve": true, "threads": true, "ort-lib": true,
}

// Flag is one rpscam train flag as a run used it, for ReproduceLine.
type Flag struct {
	Name    string
	Values  []string // the value, or a repeatable flag's items
	Bool    bool     // written --name, or --name=false
	Changed bool     // given on the command line
}

// ReproduceLine is the rpscam train command that trains the same
// parameters: the recipe's main flags (always, at the values the run used,
// so the line stays right when a default changes), then every other recipe
// flag the run set, in the order flags lists them (--help's). effective
// gives values that differ from a flag's text (the weights an empty
// --weights resolved to). Values adjusted after parsing (head mode's 4
// views, no patience without validation) are read as adjusted.
func ReproduceLine(flags []Flag, effective map[string]string, always ...string) string {
	var b strings.Builder
	b.WriteString("rpscam train")
	write := func(f Flag) {
		if v, ok := effective[f.Name]; ok {
			fmt.Fprintf(&b, " --%s %s", f.Name, shellWord(v))
			return
		}
		for _, v := range f.Values {
			switch {
			case f.Bool && v == "true":
				fmt.Fprintf(&b, " --%s", f.Name)
			case f.Bool:
				fmt.Fprintf(&b, " --%s=false", f.Name)
			default:
				fmt.Fprintf(&b, " --%s %s", f.Name, shellWord(v))
			}
		}
	}
	for _, name := range always {
		if i := slices.IndexFunc(flags, func(f Flag) bool { return f.Name == name }); i >= 0 {
			write(flags[i])
		}
	}
	for _, f := range flags {
		if f.Changed && !notRecipe[f.Name] && !slices.Contains(always, f.Name) {
			write(f)
		}
	}
	return b.String()
}

// shellWord quotes s for a POSIX shell unless it is plainly one word.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.,/=:+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
