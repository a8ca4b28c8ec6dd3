// Package imagefiles classifies image files with the decision rule of the
// video commands (rpscam classify): one result per image, the images that
// could not be read or classified, and the accuracy over those in class
// folders the model knows.
package imagefiles

import (
	"fmt"
	"image"
	"io"
	"slices"
	"strings"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/pipeline"
)

// Result is one image's result, as the JSON report writes it.
type Result struct {
	Path          string             `json:"path"`
	Actual        string             `json:"actual,omitempty"` // the class folder, when there is one
	Predicted     string             `json:"predicted"`
	Confidence    float32            `json:"confidence"`
	Uncertain     bool               `json:"uncertain"`
	Correct       *bool              `json:"correct,omitempty"`
	Probabilities map[string]float32 `json:"probabilities"`
	// Display is Predicted as people read it ("no hand" for the no-hand
	// class "none"); Hand is false for that class. Predicted keeps the label.
	Display string `json:"display"`
	Hand    bool   `json:"hand"`
}

// Report is every result of a run.
type Report struct {
	Model    string `json:"model"`
	Provider string `json:"provider"`
	// Precision is the model build --precision picked, e.g. "fp32 (auto: ...)".
	Precision string    `json:"precision"`
	Images    []Result  `json:"images"`
	Skipped   []Skipped `json:"skipped"`
	// Labelled counts images in class folders; Accuracy is Correct/Labelled.
	Labelled int     `json:"labelled"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy,omitempty"`
}

// Skipped is an image that was not classified and why, for the report.
type Skipped struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Skip is why an image was not classified: the report's entry and the
// message for the user.
type Skip struct {
	Skipped
	Why string
}

// newReport starts an empty report for the model cls runs.
func newReport(cls *infer.Classifier, model, precision string) *Report {
	return &Report{Model: model, Precision: precision, Provider: cls.Provider(), Images: []Result{}, Skipped: []Skipped{}}
}

// Add records r for the image li; its class folder counts as the actual
// class only when the model knows it (photos/2024/ is not a class).
func (rep *Report) Add(r *Result, li capture.LabeledImage, labels []string) {
	if slices.Contains(labels, li.Class) {
		r.Actual = li.Class
		ok := li.Class == r.Predicted
		r.Correct = &ok
		rep.Labelled++
		if ok {
			rep.Correct++
		}
	}
	rep.Images = append(rep.Images, *r)
	if rep.Labelled > 0 {
		rep.Accuracy = float64(rep.Correct) / float64(rep.Labelled)
	}
}

// Skip records an image that was not classified.
func (rep *Report) Skip(s *Skip) { rep.Skipped = append(rep.Skipped, s.Skipped) }

// WriteSummary prints the accuracy over the labelled images and the count
// of skipped ones, each when there is any.
func (rep *Report) WriteSummary(w io.Writer) {
	if rep.Labelled > 0 {
		fmt.Fprintf(w, "Accuracy: %.1f%% (%d of %d)\n", 100*rep.Accuracy, rep.Correct, rep.Labelled)
	}
	outside := 0
	for _, s := range rep.Skipped {
		if s.Error == errROIOutside {
			outside++
		}
	}
	switch unreadable := len(rep.Skipped) - outside; {
	case outside == 0 && unreadable > 0:
		fmt.Fprintf(w, "Skipped: %d unreadable image(s)\n", unreadable)
	case outside > 0 && unreadable == 0:
		fmt.Fprintf(w, "Skipped: %d image(s) that --roi does not fit in\n", outside)
	case outside > 0:
		fmt.Fprintf(w, "Skipped: %d image(s): %d unreadable, %d that --roi does not fit in\n", len(rep.Skipped), unreadable, outside)
	}
}

// errROIOutside is the report's reason for an image smaller than --roi.
const errROIOutside = "roi outside the image"

// classify classifies one image file with the decision rule of the video
// commands, or says why it cannot.
func classify(cls *infer.Classifier, li capture.LabeledImage, roi image.Rectangle, threshold float32) (*Result, *Skip) {
	img, err := capture.ReadImage(li.Path)
	if err != nil {
		return nil, &Skip{Skipped{li.Path, err.Error()}, err.Error()}
	}
	defer img.Close()
	if !roi.Empty() && !roi.In(image.Rect(0, 0, img.Cols(), img.Rows())) {
		return nil, &Skip{Skipped{li.Path, errROIOutside}, fmt.Sprintf("--roi lies outside its %dx%d pixels", img.Cols(), img.Rows())}
	}
	res, err := cls.Classify(img, roi)
	if err != nil {
		return nil, &Skip{Skipped{li.Path, err.Error()}, err.Error()}
	}
	labels := cls.Labels()
	d := pipeline.Decide(res.Probs, labels, threshold)
	r := &Result{Path: li.Path, Predicted: d.Label, Confidence: d.Confidence, Uncertain: d.Uncertain, Probabilities: map[string]float32{},
		Display: infer.DisplayLabel(d.Label), Hand: infer.IsHand(d.Label)}
	for i, l := range labels {
		r.Probabilities[l] = res.Probs[i]
	}
	return r, nil
}

// WriteText prints r as a line with every class's probability, and the
// actual class under it when the image had one.
func (r *Result) WriteText(w io.Writer, labels []string) {
	var probs []string
	for _, l := range labels {
		probs = append(probs, fmt.Sprintf("%s %.3f", infer.DisplayLabel(l), r.Probabilities[l]))
	}
	verdict := r.Display
	if r.Uncertain {
		verdict += " (uncertain)"
	}
	fmt.Fprintf(w, "%s: %s %.1f%%  [%s]\n", r.Path, verdict, 100*r.Confidence, strings.Join(probs, ", "))
	if r.Actual != "" {
		fmt.Fprintf(w, "  Actual: %s  Predicted: %s\n", infer.DisplayLabel(r.Actual), r.Display)
	}
}
