package evaluate

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/rpscam/rpscam/infer"
)

// noneImage is the Actual of an image from a none/ folder scored by a model
// that has no none class: no output can be right for it, so it is judged
// only by whether the model is uncertain about it.
const noneImage = -1

// figures are what matters to a user in front of the camera, for one source
// or pooled: how often a hand gets its gesture, how often a hand is taken
// for no hand, and how often an empty box shows no confident gesture. A
// share is nil (null in JSON, "-" in text) when it has no images to count.
type figures struct {
	Source          string   `json:"source"`
	Data            string   `json:"data,omitempty"`
	GestureImages   int      `json:"gesture_images"`
	GestureCorrect  int      `json:"gesture_correct"`
	GestureAccuracy *float64 `json:"gesture_accuracy"`
	// Recall is per class with images: each gesture, and none when the
	// model has that class (the share of none images labelled none).
	Recall                 map[string]*float64 `json:"recall"`
	HandsLabelledNone      int                 `json:"hands_labelled_none"`
	HandsLabelledNoneShare *float64            `json:"hands_labelled_none_share"`
	NoneImages             int                 `json:"none_images"`
	NoneLabelledNone       int                 `json:"none_labelled_none"`
	// NoneOrUncertain counts none images labelled none or whose top
	// probability is below the threshold: what the live overlay shows as
	// no gesture.
	NoneOrUncertain      int      `json:"none_or_uncertain"`
	NoneOrUncertainShare *float64 `json:"none_or_uncertain_share"`
}

// hasNone reports whether labels include the none class.
func hasNone(labels []string) bool { return noneIndex(labels) >= 0 }

func noneIndex(labels []string) int {
	for i, l := range labels {
		if infer.IsNoHand(l) {
			return i
		}
	}
	return -1
}

// gestureLabels are labels without none, in model order.
func gestureLabels(labels []string) []string {
	var out []string
	for _, l := range labels {
		if !infer.IsNoHand(l) {
			out = append(out, l)
		}
	}
	return out
}

func share(n, of int) *float64 {
	if of == 0 {
		return nil
	}
	v := float64(n) / float64(of)
	return &v
}

// tally computes the figures of preds for a model with labels. uncertain
// means a top probability below threshold, as in the live pipeline's
// Decide. A prediction's Actual is a label index or noneImage.
func tally(labels []string, preds []Prediction, threshold float64) (figures, error) {
	none := noneIndex(labels)
	k := len(labels)
	seen, right := make([]int, k), make([]int, k)
	var f figures
	for _, p := range preds {
		if p.Actual < noneImage || p.Actual >= k || len(p.Probs) != k || (p.Actual == noneImage && none >= 0) {
			return figures{}, fmt.Errorf("%s: class %d with %d probabilities does not fit labels %s", p.Path, p.Actual, len(p.Probs), strings.Join(labels, ","))
		}
		got := p.Predicted()
		if p.Actual == noneImage || p.Actual == none {
			f.NoneImages++
			if got == none {
				f.NoneLabelledNone++
			}
			if got == none || float64(p.Probs[got]) < threshold {
				f.NoneOrUncertain++
			}
		} else {
			f.GestureImages++
			if got == p.Actual {
				f.GestureCorrect++
			}
			if got == none {
				f.HandsLabelledNone++
			}
		}
		if p.Actual >= 0 {
			seen[p.Actual]++
			if got == p.Actual {
				right[p.Actual]++
			}
		}
	}
	f.GestureAccuracy = share(f.GestureCorrect, f.GestureImages)
	f.HandsLabelledNoneShare = share(f.HandsLabelledNone, f.GestureImages)
	f.NoneOrUncertainShare = share(f.NoneOrUncertain, f.NoneImages)
	f.Recall = map[string]*float64{}
	for c, l := range labels {
		f.Recall[l] = share(right[c], seen[c])
	}
	return f, nil
}

// WriteNoneText prints the lines the single report adds about the none
// class: nothing for a model without none scored on hands only.
func (f figures) WriteNoneText(w io.Writer, labels []string, threshold float64) {
	if !hasNone(labels) {
		if f.NoneImages > 0 {
			fmt.Fprintf(w, "none: %d images; the model has no none class, so they are scored by uncertainty only: %d (%s) uncertain (top probability below %.2f)\n",
				f.NoneImages, f.NoneOrUncertain, pct(f.NoneOrUncertainShare), threshold)
		}
		return
	}
	fmt.Fprintf(w, "gestures: %d images, accuracy %s (%d/%d), %d (%s) labelled none\n",
		f.GestureImages, pct(f.GestureAccuracy), f.GestureCorrect, f.GestureImages, f.HandsLabelledNone, pct(f.HandsLabelledNoneShare))
	fmt.Fprintf(w, "none: %d images, %d (%s) labelled none, %d (%s) labelled none or uncertain (top probability below %.2f)\n",
		f.NoneImages, f.NoneLabelledNone, pct(share(f.NoneLabelledNone, f.NoneImages)), f.NoneOrUncertain, pct(f.NoneOrUncertainShare), threshold)
}

// pct formats a share as a percentage with one decimal, "-" when undefined.
func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100**v)
}

// SourcePredictions are one source's scored images.
type SourcePredictions struct {
	Name, Data string
	Preds      []Prediction
}

// sourceMeans are the unweighted means over sources of each share, each over the
// sources where it is defined, so every person counts the same.
type sourceMeans struct {
	GestureAccuracy        *float64            `json:"gesture_accuracy"`
	Recall                 map[string]*float64 `json:"recall"`
	HandsLabelledNoneShare *float64            `json:"hands_labelled_none_share"`
	NoneOrUncertainShare   *float64            `json:"none_or_uncertain_share"`
}

// tableSummary closes the per-source table.
type tableSummary struct {
	Sources int `json:"sources"`
	// WithGestures counts the sources with gesture images: the gesture
	// accuracy mean and the count under target are over these.
	WithGestures int         `json:"sources_with_gestures"`
	Mean         sourceMeans `json:"mean"`
	// UnderTarget names the sources whose gesture accuracy is below
	// Target, worst first.
	Target      float64  `json:"target"`
	UnderTarget []string `json:"sources_under_target"`
	Pooled      figures  `json:"pooled"`
}

// sourceTable is rpscam eval --per-source: one row per source, the worst
// gesture accuracy first, because the point is that every person works.
type sourceTable struct {
	Labels       []string     `json:"labels"`
	ModelHasNone bool         `json:"model_has_none"`
	Threshold    float64      `json:"threshold"`
	Sources      []figures    `json:"sources"`
	Summary      tableSummary `json:"summary"`
}

// newSourceTable tallies each source and the pooled predictions, sorts the
// rows worst first (sources without gesture images last, ties by name) and
// counts the sources under target.
func newSourceTable(labels []string, sources []SourcePredictions, threshold, target float64) (sourceTable, error) {
	t := sourceTable{Labels: labels, ModelHasNone: hasNone(labels), Threshold: threshold}
	var all []Prediction
	for _, s := range sources {
		f, err := tally(labels, s.Preds, threshold)
		if err != nil {
			return sourceTable{}, err
		}
		f.Source, f.Data = s.Name, s.Data
		t.Sources = append(t.Sources, f)
		all = append(all, s.Preds...)
	}
	sort.SliceStable(t.Sources, func(i, j int) bool { return worse(t.Sources[i], t.Sources[j]) })
	pooled, err := tally(labels, all, threshold)
	if err != nil {
		return sourceTable{}, err
	}
	pooled.Source = "pooled"
	t.Summary = tableSummary{Sources: len(sources), Mean: means(labels, t.Sources), Target: target, UnderTarget: []string{}, Pooled: pooled}
	for _, f := range t.Sources {
		if f.GestureAccuracy == nil {
			continue
		}
		t.Summary.WithGestures++
		if *f.GestureAccuracy < target {
			t.Summary.UnderTarget = append(t.Summary.UnderTarget, f.Source)
		}
	}
	return t, nil
}

func worse(a, b figures) bool {
	switch {
	case a.GestureAccuracy == nil || b.GestureAccuracy == nil:
		if (a.GestureAccuracy == nil) != (b.GestureAccuracy == nil) {
			return b.GestureAccuracy == nil
		}
	case *a.GestureAccuracy != *b.GestureAccuracy:
		return *a.GestureAccuracy < *b.GestureAccuracy
	}
	return a.Source < b.Source
}

func means(labels []string, rows []figures) sourceMeans {
	mean := func(get func(figures) *float64) *float64 {
		var sum float64
		n := 0
		for _, f := range rows {
			if v := get(f); v != nil {
				sum += *v
				n++
			}
		}
		if n == 0 {
			return nil
		}
		sum /= float64(n)
		return &sum
	}
	m := sourceMeans{
		GestureAccuracy:        mean(func(f figures) *float64 { return f.GestureAccuracy }),
		HandsLabelledNoneShare: mean(func(f figures) *float64 { return f.HandsLabelledNoneShare }),
		NoneOrUncertainShare:   mean(func(f figures) *float64 { return f.NoneOrUncertainShare }),
		Recall:                 map[string]*float64{},
	}
	for _, l := range labels {
		m.Recall[l] = mean(func(f figures) *float64 { return f.Recall[l] })
	}
	return m
}

// WriteText prints the table, the mean and pooled rows and the summary.
func (t sourceTable) WriteText(w io.Writer) {
	recall := gestureLabels(t.Labels)
	if t.ModelHasNone {
		recall = append(recall, infer.NoHandLabel)
	} else {
		fmt.Fprintf(w, "the model has no none class: none images count as right when uncertain (top probability below %.2f), and hands->none does not apply\n\n", t.Threshold)
	}
	width := len("pooled")
	for _, f := range t.Sources {
		width = max(width, len(f.Source))
	}
	fmt.Fprintf(w, "%-*s %8s %8s", width, "source", "gestures", "accuracy")
	for _, l := range recall {
		fmt.Fprintf(w, " %8s", l)
	}
	fmt.Fprintf(w, " %11s %10s %14s\n", "hands->none", "none imgs", "none|uncertain")
	row := func(name, count string, acc *float64, rec map[string]*float64, handsNone *float64, noneImgs string, noneUnc *float64) {
		fmt.Fprintf(w, "%-*s %8s %8s", width, name, count, pct(acc))
		for _, l := range recall {
			fmt.Fprintf(w, " %8s", pct(rec[l]))
		}
		hn := pct(handsNone)
		if !t.ModelHasNone {
			hn = "-"
		}
		fmt.Fprintf(w, " %11s %10s %14s\n", hn, noneImgs, pct(noneUnc))
	}
	for _, f := range t.Sources {
		row(f.Source, fmt.Sprint(f.GestureImages), f.GestureAccuracy, f.Recall, f.HandsLabelledNoneShare, fmt.Sprint(f.NoneImages), f.NoneOrUncertainShare)
	}
	m, p := t.Summary.Mean, t.Summary.Pooled
	fmt.Fprintln(w, strings.Repeat("-", width+18+9*len(recall)+11+10+14+3))
	row("mean", "", m.GestureAccuracy, m.Recall, m.HandsLabelledNoneShare, "", m.NoneOrUncertainShare)
	row("pooled", fmt.Sprint(p.GestureImages), p.GestureAccuracy, p.Recall, p.HandsLabelledNoneShare, fmt.Sprint(p.NoneImages), p.NoneOrUncertainShare)
	over := fmt.Sprintf("%d sources", t.Summary.WithGestures)
	if t.Summary.WithGestures != t.Summary.Sources {
		over = fmt.Sprintf("the %d of %d sources with gesture images", t.Summary.WithGestures, t.Summary.Sources)
	}
	fmt.Fprintf(w, "\ngesture accuracy: mean over %s %s, pooled %s (%d/%d); %d of %d sources under %.4g%%",
		over, pct(m.GestureAccuracy), pct(p.GestureAccuracy), p.GestureCorrect, p.GestureImages,
		len(t.Summary.UnderTarget), t.Summary.WithGestures, 100*t.Summary.Target)
	if len(t.Summary.UnderTarget) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(t.Summary.UnderTarget, ", "))
	}
	fmt.Fprintln(w)
	if p.NoneImages > 0 {
		fmt.Fprintf(w, "none images: %d pooled, %d (%s) labelled none or uncertain\n", p.NoneImages, p.NoneOrUncertain, pct(p.NoneOrUncertainShare))
	}
}
