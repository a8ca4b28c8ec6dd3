package teach

import (
	"fmt"
	"io"
	"math"

	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/train"
)

// WriteText is the before/after report as rpscam teach prints it: what
// was trained on, the held-out samples per class, the test set, the model.
func (r *Result) WriteText(w io.Writer) {
	pct := func(v float64) string {
		if math.IsNaN(v) {
			return "  –  "
		}
		return fmt.Sprintf("%5.1f%%", 100*v)
	}
	fmt.Fprintf(w, "teach: trained on %d samples (+%d general images) in %s", r.Trained, r.General, r.Took.Round(1e8))
	if r.GeneralTook > 0 {
		fmt.Fprintf(w, " (general features computed once: %s)", r.GeneralTook.Round(1e8))
	}
	fmt.Fprintln(w)
	if r.HeldOut > 0 {
		fmt.Fprintf(w, "held-out samples (each class's newest frames): %d\n%-10s %8s %8s %8s\n", r.HeldOut, "class", "held out", "before", "after")
		for _, c := range r.PerClass {
			fmt.Fprintf(w, "%-10s %8d %8s %8s\n", c.Class, c.HeldOut, pct(c.Before), pct(c.After))
		}
		fmt.Fprintf(w, "%-10s %8d %8s %8s\n", "all", r.HeldOut, pct(r.Before), pct(r.After))
	}
	if r.TestN > 0 {
		fmt.Fprintf(w, "test set (%d images): before %s, after %s\n", r.TestN, pct(r.TestBefore), pct(r.TestAfter))
	}
	fmt.Fprintf(w, "model written: %s (rpscam live --model %s)\n", r.Model, r.Model)
}

// ProgressBars draws Train's progress on w, one bar per stage (an updated
// line on a terminal).
func ProgressBars(w io.Writer) func(Progress) {
	terminal := term.IsTerminal(w)
	var bar *train.Progress
	stage := ""
	return func(p Progress) {
		if p.Stage != stage || bar == nil {
			stage = p.Stage
			bar = train.NewProgress(w, fmt.Sprintf("%-8s", p.Stage), p.Total, terminal)
		}
		bar.Update(p.Done)
	}
}
