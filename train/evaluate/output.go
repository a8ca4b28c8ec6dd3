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
// to stdout).
func (o *Options) WriteReport(w, stdout io.Writer, labels, dirs []string, preds []Prediction) error {
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
	fmt.Fprintf(w, "model %s on %s%s: %d images\n\n", o.Model, strings.Join(dirs, ", "), o.part(), rep.N)
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
		Model     string   `json:"model"`
		Precision string   `json:"precision"`
		Data      []string `json:"data"`
		HeldOut   bool     `json:"heldout_only"`
		Split     string   `json:"split,omitempty"`
		Threshold *float64 `json:"threshold,omitempty"`
		None      *figures `json:"gestures_and_none,omitempty"`
	}
	out := jsonReport{report: rep, Model: o.Model, Precision: o.Precision, Data: dirs, HeldOut: o.HeldOut}
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
// (JSON "-": to stdout).
func (o *Options) WriteSourceTable(w, stdout io.Writer, labels []string, groups []SourcePredictions, preds []Prediction) error {
	table, err := newSourceTable(labels, groups, o.Threshold, o.Target)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "model %s on %d sources%s: %d images (uncertain: top probability below %.2f)\n\n", o.Model, len(groups), o.part(), len(preds), o.Threshold)
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
		Confusion [][]int `json:"pooled_confusion"`
	}
	return o.writeJSON(stdout, jsonTable{sourceTable: table, Model: o.Model, Precision: o.Precision, HeldOut: o.HeldOut, Confusion: rep.Confusion})
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
