//go:build matprofile

package pipeline

import (
	"context"
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"
)

// TestNoLeakedMats runs the pipeline through its normal end, a sink stop, a
// classifier failure and a cancel, with an annotator that allocates, and
// checks gocv's count of open Mats is back where it started each time.
// Run with: go test -tags matprofile ./pipeline/
func TestNoLeakedMats(t *testing.T) {
	annotate := AnnotatorFunc(func(img *gocv.Mat, a *Annotated) error {
		tmp := gocv.NewMat()
		defer tmp.Close()
		gocv.CvtColor(*img, &tmp, gocv.ColorBGRToGray)
		gocv.PutText(img, a.Decision.Label, image.Pt(2, 10), gocv.FontHersheyPlain, 1, color.RGBA{255, 255, 255, 0}, 1)
		return nil
	})
	runs := []struct {
		name string
		run  func() error
	}{
		{"to the end", func() error {
			p, err := New(&fakeSource{w: 64, h: 48, n: 40}, &meanColourClassifier{}, WithAnnotator(annotate), WithSinks(newRecordingSink()), WithROI(image.Rect(8, 8, 40, 40)))
			if err != nil {
				return err
			}
			_, err = p.Run(context.Background())
			return err
		}},
		{"sink stop", func() error {
			s := newRecordingSink()
			s.stopAt = 3
			p, err := New(&fakeSource{w: 64, h: 48, n: -1}, &meanColourClassifier{}, WithAnnotator(annotate), WithSinks(s))
			if err != nil {
				return err
			}
			_, err = p.Run(context.Background())
			return err
		}},
		{"classifier failure", func() error {
			p, err := New(&fakeSource{w: 64, h: 48, n: -1}, &meanColourClassifier{failAt: 5}, WithAnnotator(annotate), withQueueDepth(4))
			if err != nil {
				return err
			}
			if _, err := p.Run(context.Background()); err == nil {
				t.Error("classifier failure: want an error")
			}
			return nil
		}},
		{"staged, to the end", func() error {
			p, err := New(&fakeSource{w: 64, h: 48, n: 25}, &stagedMeanColour{}, WithAnnotator(annotate), WithSinks(newRecordingSink()), WithROI(image.Rect(8, 8, 40, 40)), withQueueDepth(2))
			if err != nil {
				return err
			}
			_, err = p.Run(context.Background())
			return err
		}},
		{"staged, inference failure", func() error {
			p, err := New(&fakeSource{w: 64, h: 48, n: -1}, &stagedMeanColour{inferFailAt: 4}, WithAnnotator(annotate), withQueueDepth(3))
			if err != nil {
				return err
			}
			if _, err := p.Run(context.Background()); err == nil {
				t.Error("staged inference failure: want an error")
			}
			return nil
		}},
		{"parallel, failure in one instance", func() error {
			p, err := New(&fakeSource{w: 64, h: 48, n: -1}, &stagedMeanColour{}, WithParallelClassifiers(&stagedMeanColour{inferFailAt: 3}), WithAnnotator(annotate), withQueueDepth(2))
			if err != nil {
				return err
			}
			if _, err := p.Run(context.Background()); err == nil {
				t.Error("parallel failure: want an error")
			}
			return nil
		}},
		{"swap while running, with a frame tap", func() error {
			var p *Pipeline
			s := newRecordingSink()
			s.hook = func(a *Annotated) {
				if a.Index == 4 {
					if _, _, err := p.Swap(&stagedMeanColour{}); err != nil {
						t.Error(err)
					}
				}
			}
			tap := func(frame gocv.Mat, roi image.Rectangle) {
				kept := frame.Clone() // what a teaching tap does
				kept.Close()
			}
			p, err := New(&fakeSource{w: 64, h: 48, n: 20}, &stagedMeanColour{}, WithAnnotator(annotate), WithSinks(s), WithFrameTap(tap), withQueueDepth(2))
			if err != nil {
				return err
			}
			_, err = p.Run(context.Background())
			return err
		}},
		{"cancel", func() error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := newRecordingSink()
			s.hook = func(a *Annotated) {
				if a.Index == 7 {
					cancel()
				}
			}
			p, err := New(&fakeSource{w: 64, h: 48, n: -1}, &meanColourClassifier{}, WithAnnotator(annotate), WithSinks(s), withQueueDepth(3))
			if err != nil {
				return err
			}
			_, err = p.Run(ctx)
			return err
		}},
	}
	for _, r := range runs {
		before := gocv.MatProfile.Count()
		if err := r.run(); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if after := gocv.MatProfile.Count(); after != before {
			t.Errorf("%s: %d Mats open before, %d after: the pipeline leaked %d", r.name, before, after, after-before)
		}
	}
}
