package main

import (
	"encoding/json"
	"fmt"
	"image"
	"slices"
	"strings"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/pipeline"
)

// classifiedImage is one image's result, as --json writes it.
type classifiedImage struct {
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

type classifyReport struct {
	Model    string `json:"model"`
	Provider string `json:"provider"`
	// Precision is the model build --precision picked, e.g. "fp32 (auto: ...)".
	Precision string            `json:"precision"`
	Images    []classifiedImage `json:"images"`
	Skipped   []skippedImage    `json:"skipped"`
	// Labelled counts images in class folders; Accuracy is Correct/Labelled.
	Labelled int     `json:"labelled"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy,omitempty"`
}

type skippedImage struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

func runClassify(env *cliEnv, args []string) error {
	return exitError(classify(env, args))
}

func classify(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "classify", "[flags] IMAGE|FOLDER...",
		"rpscam classify hand1.jpg hand2.png",
		"rpscam classify ../shared/data/rps-cgi/test          # class folders: prints Actual/Predicted and the accuracy",
		"rpscam classify --json photos/ > results.json",
		"rpscam classify --roi 0,0,300,300 --threshold 0.8 shot.png")
	mf := addModelFlags(fs, false)
	asJSON := fs.Bool("json", false, "write one JSON object with every result on stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("give at least one image file or folder, e.g. rpscam classify hand.jpg")
	}
	roi, dev, err := mf.check()
	if err != nil {
		return err
	}
	imgs, err := capture.ListImages(fs.Args()...)
	if err != nil {
		return usageError{err}
	}
	cls, choice, err := mf.load(env, dev)
	if err != nil {
		return err
	}
	defer cls.Close()
	labels := cls.Labels()
	rep := classifyReport{Model: choice.Path, Precision: choice.String(), Provider: cls.Provider(), Images: []classifiedImage{}, Skipped: []skippedImage{}}
	for _, li := range imgs {
		ci, skip := classifyImage(cls, li, roi, float32(mf.threshold))
		if skip != nil {
			fmt.Fprintf(env.stderr, "rpscam: skipping %s: %s\n", li.Path, skip.why)
			rep.Skipped = append(rep.Skipped, skip.skippedImage)
			continue
		}
		// A folder name is a class only when the model knows it: photos/2024/
		// is not a class.
		if slices.Contains(labels, li.Class) {
			ci.Actual = li.Class
			ok := li.Class == ci.Predicted
			ci.Correct = &ok
			rep.Labelled++
			if ok {
				rep.Correct++
			}
		}
		rep.Images = append(rep.Images, *ci)
		if !*asJSON {
			printClassified(env, ci, labels)
		}
	}
	if rep.Labelled > 0 {
		rep.Accuracy = float64(rep.Correct) / float64(rep.Labelled)
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		if rep.Labelled > 0 {
			fmt.Fprintf(env.stdout, "Accuracy: %.1f%% (%d of %d)\n", 100*rep.Accuracy, rep.Correct, rep.Labelled)
		}
		if len(rep.Skipped) > 0 {
			fmt.Fprintf(env.stdout, "Skipped: %d unreadable image(s)\n", len(rep.Skipped))
		}
	}
	if len(rep.Images) == 0 {
		return fmt.Errorf("none of the %d image(s) could be classified", len(imgs))
	}
	return nil
}

// skip is why an image was not classified: the message for stderr and the
// report's entry.
type skip struct {
	skippedImage
	why string
}

// classifyImage classifies one image file with the decision rule of the
// video commands, or says why it cannot.
func classifyImage(cls *infer.Classifier, li capture.LabeledImage, roi image.Rectangle, threshold float32) (*classifiedImage, *skip) {
	img, err := capture.ReadImage(li.Path)
	if err != nil {
		return nil, &skip{skippedImage{li.Path, err.Error()}, err.Error()}
	}
	defer img.Close()
	if !roi.Empty() && !roi.In(image.Rect(0, 0, img.Cols(), img.Rows())) {
		return nil, &skip{skippedImage{li.Path, "roi outside the image"}, fmt.Sprintf("--roi lies outside its %dx%d pixels", img.Cols(), img.Rows())}
	}
	res, err := cls.Classify(img, roi)
	if err != nil {
		return nil, &skip{skippedImage{li.Path, err.Error()}, err.Error()}
	}
	labels := cls.Labels()
	d := pipeline.Decide(res.Probs, labels, threshold)
	ci := &classifiedImage{Path: li.Path, Predicted: d.Label, Confidence: d.Confidence, Uncertain: d.Uncertain, Probabilities: map[string]float32{},
		Display: infer.DisplayLabel(d.Label), Hand: infer.IsHand(d.Label)}
	for i, l := range labels {
		ci.Probabilities[l] = res.Probs[i]
	}
	return ci, nil
}

func printClassified(env *cliEnv, ci *classifiedImage, labels []string) {
	var probs []string
	for _, l := range labels {
		probs = append(probs, fmt.Sprintf("%s %.3f", infer.DisplayLabel(l), ci.Probabilities[l]))
	}
	verdict := ci.Display
	if ci.Uncertain {
		verdict += " (uncertain)"
	}
	fmt.Fprintf(env.stdout, "%s: %s %.1f%%  [%s]\n", ci.Path, verdict, 100*ci.Confidence, strings.Join(probs, ", "))
	if ci.Actual != "" {
		fmt.Fprintf(env.stdout, "  Actual: %s  Predicted: %s\n", infer.DisplayLabel(ci.Actual), ci.Display)
	}
}
