package evaluate

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteReport is the single report to w: accuracy, per-class table,
// confusion matrix, mistakes, samples, and the none figures when they
// apply; then the ConfusionPNG and JSON files when asked for (JSON "-":
// to stdout). skipped are the images that could not be read.
func (o *Options) WriteReport(w, stdout io.Writer, labels, dirs []string, preds []Prediction, skipped []Skipped) error {
	scored := scoredOnly(preds)
	rep, err := score(labels, scored, o.Worst)
	if err != nil {
		return err
	}
	figs, err := tally(labels, preds, o.Threshold)
	if err != nil {
		return err
	}
	// The none lines appear only where they say something, so a 3-class
	// model on gesture folders prints exactly what it always did.
	showNone := hasNone(labels) || figs.NoneImages > 0
	fmt.Fprintf(w, "model %s on %s%s: %d images\n", o.Model, strings.Join(dirs, ", "), o.part(), rep.N)
	writeSkipped(w, skipped)
	fmt.Fprintln(w)
	rep.WriteText(w)
	if showNone {
		fmt.Fprintln(w)
		figs.WriteNoneText(w, labels, o.Threshold)
	}
	if o.Samples > 0 {
		fmt.Fprintf(w, "\n%s", sampleLines(labels, sampleSpread(scored, o.Samples), o.Samples))
	}
	if err := o.writeConfusion(w, rep, filepath.Base(dirs[0])); err != nil {
		return err
	}
	type jsonReport struct {
		report
		Model     string    `json:"model"`
		Precision string    `json:"precision"`
		Data      []string  `json:"data"`
		HeldOut   bool      `json:"heldout_only"`
		Split     string    `json:"split,omitempty"`
		Threshold *float64  `json:"threshold,omitempty"`
		None      *figures  `json:"gestures_and_none,omitempty"`
		Skipped   []Skipped `json:"skipped"` // unreadable images, not in n
	}
	out := jsonReport{report: rep, Model: o.Model, Precision: o.Precision, Data: dirs, HeldOut: o.HeldOut, Skipped: skipped}
	if o.Validation {
		out.Split = "validation"
	}
	if showNone {
		out.Threshold, out.None = &o.Threshold, &figs
	}
	return o.writeJSON(stdout, out)
}

// WriteSourceTable is the per-source table to w, worst source first; then
// the ConfusionPNG (pooled over the sources) and JSON files when asked for
// (JSON "-": to stdout). skipped are the images that could not be read.
func (o *Options) WriteSourceTable(w, stdout io.Writer, labels []string, groups []SourcePredictions, preds []Prediction, skipped []Skipped) error {
	table, err := newSourceTable(labels, groups, o.Threshold, o.Target)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "model %s on %d sources%s: %d images (uncertain: top probability below %.2f)\n", o.Model, len(groups), o.part(), len(preds), o.Threshold)
	writeSkipped(w, skipped)
	fmt.Fprintln(w)
	table.WriteText(w)
	rep, err := score(labels, scoredOnly(preds), 0)
	if err != nil {
		return err
	}
	if err := o.writeConfusion(w, rep, fmt.Sprintf("pooled over %d sources", len(groups))); err != nil {
		return err
	}
	type jsonTable struct {
		sourceTable
		Model     string `json:"model"`
		Precision string `json:"precision"`
		HeldOut   bool   `json:"heldout_only"`
		// Confusion is pooled over the sources, [actual][predicted],
		// without the none images of a model that has no none class.
		Confusion [][]int   `json:"pooled_confusion"`
		Skipped   []Skipped `json:"skipped"` // unreadable images, in no row
	}
	return o.writeJSON(stdout, jsonTable{sourceTable: table, Model: o.Model, Precision: o.Precision, HeldOut: o.HeldOut, Confusion: rep.Confusion, Skipped: skipped})
}

// shownSkipped is how many skipped paths the report names: enough to find
// the bad files, never a screenful (the JSON lists them all).
const shownSkipped = 3

// writeSkipped says in one line how many images could not be read and
// names the first few; nothing when every image was read.
func writeSkipped(w io.Writer, skipped []Skipped) {
	if len(skipped) == 0 {
		return
	}
	paths := make([]string, 0, shownSkipped)
	for _, s := range skipped[:min(len(skipped), shownSkipped)] {
		paths = append(paths, s.Path)
	}
	more := ""
	if len(skipped) > shownSkipped {
		more = fmt.Sprintf(" and %d more (listed in --json)", len(skipped)-shownSkipped)
	}
	fmt.Fprintf(w, "skipped %d unreadable image(s), not scored: %s%s\n", len(skipped), strings.Join(paths, ", "), more)
}

// writeConfusion writes ConfusionPNG, when given, and says so on w.
func (o *Options) writeConfusion(w io.Writer, rep report, title string) error {
	if o.ConfusionPNG == "" {
		return nil
	}
	if err := rep.WriteConfusionPNG(o.ConfusionPNG, title); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nconfusion matrix: %s\n", o.ConfusionPNG)
	return nil
}

// writeJSON writes v indented to the JSON file ("-": to stdout; "" writes nothing).
func (o *Options) writeJSON(stdout io.Writer, v any) error {
	if o.JSON == "" {
		return nil
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if o.JSON == "-" {
		_, err = stdout.Write(data)
		return err
	}
	return os.WriteFile(o.JSON, data, 0o644)
}
