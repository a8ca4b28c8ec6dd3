package imagefiles

import (
	"fmt"
	"image"
	"io"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
)

// Options are how ClassifyAll classifies and what it says as it goes.
type Options struct {
	ROI              image.Rectangle // the zero rectangle: the model's centre crop
	Threshold        float32         // below it a result is uncertain
	Model, Precision string          // for the report
	Text             io.Writer       // each result's lines; nil: none
	Log              io.Writer       // a line per skipped file; nil: none
}

// ClassifyAll classifies imgs into a Report. The error says that none of
// them could be classified; the Report is whole either way.
func ClassifyAll(cls *infer.Classifier, imgs []capture.LabeledImage, o Options) (*Report, error) {
	labels := cls.Labels()
	rep := newReport(cls, o.Model, o.Precision)
	for _, li := range imgs {
		r, skip := classify(cls, li, o.ROI, o.Threshold)
		if skip != nil {
			if o.Log != nil {
				fmt.Fprintf(o.Log, "rpscam: skipping %s: %s\n", li.Path, skip.Why)
			}
			rep.Skip(skip)
			continue
		}
		rep.Add(r, li, labels)
		if o.Text != nil {
			r.WriteText(o.Text, labels)
		}
	}
	if len(rep.Images) == 0 {
		return rep, fmt.Errorf("none of the %d image(s) could be classified", len(imgs))
	}
	return rep, nil
}
