// Package evaluate scores a classifier's predictions on labelled images:
// accuracy, per-class precision/recall/F1, the confusion matrix (as text and
// as a PNG), the most confidently wrong files and tutorial-style sample lines.
package evaluate

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Prediction is one scored image.
type Prediction struct {
	Path   string    `json:"path"`
	Source string    `json:"source,omitempty"` // training source, when scoring a validation split
	Actual int       `json:"actual"`
	Probs  []float32 `json:"probs"`
}

// Predicted is the arg-max class.
func (p Prediction) Predicted() int {
	best := 0
	for i, v := range p.Probs {
		if v > p.Probs[best] {
			best = i
		}
	}
	return best
}

// classStats are one class's figures.
type classStats struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// mistake is a misclassified file, with the confidence of the wrong answer.
type mistake struct {
	Path       string  `json:"path"`
	Actual     string  `json:"actual"`
	Predicted  string  `json:"predicted"`
	Confidence float64 `json:"confidence"`
}

// report is what rpscam eval prints and writes as JSON.
type report struct {
	Labels   []string `json:"labels"`
	N        int      `json:"n"`
	Correct  int      `json:"correct"`
	Accuracy float64  `json:"accuracy"`
	// LogLoss is the mean cross-entropy -ln p(actual class), the figure
	// rpscam train's early stopping watches as val_loss.
	LogLoss float64 `json:"log_loss"`
	// BySource is the accuracy per training source (predictions that name one).
	BySource  map[string]float64 `json:"accuracy_by_source,omitempty"`
	PerClass  []classStats       `json:"per_class"`
	Confusion [][]int            `json:"confusion"` // [actual][predicted]
	Worst     []mistake          `json:"worst"`
}

// score computes the report; worst caps the number of listed mistakes
// (below 0 lists none, as 0 does: a cap is never a slice bound to panic on).
func score(labels []string, preds []Prediction, worst int) (report, error) {
	worst = max(worst, 0)
	k := len(labels)
	r := report{Labels: labels, N: len(preds), Confusion: make([][]int, k)}
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, k)
	}
	var wrong []mistake
	seen, right := map[string]int{}, map[string]int{}
	for _, p := range preds {
		if p.Actual < 0 || p.Actual >= k || len(p.Probs) != k {
			return report{}, fmt.Errorf("%s: class %d with %d probabilities does not fit %d labels", p.Path, p.Actual, len(p.Probs), k)
		}
		got := p.Predicted()
		r.Confusion[p.Actual][got]++
		r.LogLoss -= math.Log(math.Max(float64(p.Probs[p.Actual]), 1e-12))
		if p.Source != "" {
			seen[p.Source]++
		}
		if got == p.Actual {
			r.Correct++
			if p.Source != "" {
				right[p.Source]++
			}
		} else {
			wrong = append(wrong, mistake{Path: p.Path, Actual: labels[p.Actual], Predicted: labels[got], Confidence: float64(p.Probs[got])})
		}
	}
	if r.N > 0 {
		r.Accuracy = float64(r.Correct) / float64(r.N)
		r.LogLoss /= float64(r.N)
	}
	if len(seen) > 0 {
		r.BySource = map[string]float64{}
		for src, n := range seen {
			r.BySource[src] = float64(right[src]) / float64(n)
		}
	}
	for c := 0; c < k; c++ {
		var tp, predicted, actual int
		for o := 0; o < k; o++ {
			predicted += r.Confusion[o][c]
			actual += r.Confusion[c][o]
		}
		tp = r.Confusion[c][c]
		s := classStats{Label: labels[c], Support: actual}
		if predicted > 0 {
			s.Precision = float64(tp) / float64(predicted)
		}
		if actual > 0 {
			s.Recall = float64(tp) / float64(actual)
		}
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
		r.PerClass = append(r.PerClass, s)
	}
	sort.SliceStable(wrong, func(i, j int) bool { return wrong[i].Confidence > wrong[j].Confidence })
	if len(wrong) > worst {
		wrong = wrong[:worst]
	}
	r.Worst = wrong
	if r.Worst == nil {
		r.Worst = []mistake{}
	}
	return r, nil
}

// WriteText prints the report: accuracy, the per-class table, the confusion
// matrix and the worst mistakes.
func (r report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "accuracy %.2f%% (%d/%d)  log loss %.4f\n", 100*r.Accuracy, r.Correct, r.N, r.LogLoss)
	if len(r.BySource) > 0 {
		srcs := make([]string, 0, len(r.BySource))
		for src := range r.BySource {
			srcs = append(srcs, src)
		}
		sort.Strings(srcs)
		for _, src := range srcs {
			fmt.Fprintf(w, "  %-12s %.2f%%\n", src, 100*r.BySource[src])
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-10s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support")
	for _, s := range r.PerClass {
		fmt.Fprintf(w, "%-10s %9.4f %9.4f %9.4f %8d\n", s.Label, s.Precision, s.Recall, s.F1, s.Support)
	}
	fmt.Fprintf(w, "\nconfusion (rows actual, columns predicted)\n%-10s", "")
	for _, l := range r.Labels {
		fmt.Fprintf(w, " %9s", l)
	}
	fmt.Fprintln(w)
	for i, row := range r.Confusion {
		fmt.Fprintf(w, "%-10s", r.Labels[i])
		for _, v := range row {
			fmt.Fprintf(w, " %9d", v)
		}
		fmt.Fprintln(w)
	}
	if len(r.Worst) > 0 {
		fmt.Fprintf(w, "\nmost confident mistakes\n")
		for _, m := range r.Worst {
			fmt.Fprintf(w, "  %-8s -> %-8s %5.1f%%  %s\n", m.Actual, m.Predicted, 100*m.Confidence, m.Path)
		}
	}
}

// sampleLines are the tutorial's "Actual: rock, Predicted: rock (97.3%)"
// lines for the first n predictions.
func sampleLines(labels []string, preds []Prediction, n int) string {
	var b strings.Builder
	for i, p := range preds {
		if i == n {
			break
		}
		got := p.Predicted()
		mark := ""
		if got != p.Actual {
			mark = "  <- wrong"
		}
		fmt.Fprintf(&b, "Actual: %-8s Predicted: %-8s (%.1f%%)%s\n", labels[p.Actual], labels[got], 100*p.Probs[got], mark)
	}
	return b.String()
}
