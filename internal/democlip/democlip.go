// Package democlip makes the demo video: labelled photos from the shared
// test splits shown as a hand-held camera would, with the ground truth of
// every frame in a CSV beside it.
package democlip

import (
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/internal/shareddata"
	"github.com/rpscam/rpscam/sink"
)

// classes are shown in this order, over and over: the three gestures,
// then an empty scene (no hand), which a live demo sees between gestures.
var classes = [4]string{"rock", "paper", "scissors", "none"}

// sets are the test splits the clip draws its hands from, one round of
// the classes from each in turn: real hands first (sxsw, then subhih's
// webcam scenes), then the CGI renders the original tutorial used.
var sets = [3]string{"data/rps-real/sxsw/test", "data/rps-real/subhih/test", "data/rps-cgi/test"}

// noneSet holds the empty scenes of every round: subhih's test split is
// the only shared test split with a none class.
const noneSet = "data/rps-real/subhih/test"

// setFor is the folder that round's photo of class comes from.
func setFor(round int, class string) string {
	if class == "none" {
		return noneSet
	}
	return sets[round%len(sets)]
}

// Config is what to make.
type Config struct {
	Out           string // the video (.mp4: H.264; .avi: MJPG)
	Shared        string // the shared data folder
	Images        int    // photos in the clip
	PerImage      int    // frames each photo is held for
	Width, Height int
	FPS           float64
}

// Result is what Make wrote.
type Result struct {
	Path      string // the video as the recorder named it
	Frames    int
	Photos    int
	Codec     string
	TruthPath string // the per-frame ground truth CSV
}

// Make writes the clip and its ground truth.
func Make(cfg Config) (Result, error) {
	picks, err := pickImages(cfg.Shared, cfg.Images)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Out), 0o755); err != nil {
		return Result{}, fmt.Errorf("creating the output folder: %w", err)
	}
	rec, err := sink.NewRecorder(cfg.Out, cfg.FPS, cfg.Width, cfg.Height)
	if err != nil {
		return Result{}, err
	}
	defer rec.Close()
	truthPath := strings.TrimSuffix(cfg.Out, filepath.Ext(cfg.Out)) + ".truth.csv"
	truthFile, err := os.Create(truthPath)
	if err != nil {
		return Result{}, fmt.Errorf("writing the ground truth: %w", err)
	}
	defer truthFile.Close()
	truth := csv.NewWriter(truthFile)
	truth.Write([]string{"frame", "label", "image"})
	if err := writeFrames(rec, truth, cfg, picks); err != nil {
		return Result{}, err
	}
	truth.Flush()
	if err := truth.Error(); err != nil {
		return Result{}, fmt.Errorf("writing %s: %w", truthPath, err)
	}
	if err := rec.Close(); err != nil {
		return Result{}, fmt.Errorf("finishing %s: %w", cfg.Out, err)
	}
	return Result{Path: rec.Path(), Frames: rec.Frames(), Photos: len(picks), Codec: rec.Codec(), TruthPath: truthPath}, nil
}

// writeFrames holds each photo for cfg.PerImage frames, one truth row each.
func writeFrames(rec *sink.Recorder, truth *csv.Writer, cfg Config, picks []capture.LabeledImage) error {
	frame := gocv.NewMatWithSize(cfg.Height, cfg.Width, gocv.MatTypeCV8UC3)
	defer frame.Close()
	n := 0
	for _, p := range picks {
		img, err := capture.ReadImage(p.Path)
		if err != nil {
			return err
		}
		for k := 0; k < cfg.PerImage; k++ {
			renderFrame(img, &frame, n)
			if err := rec.Write(frame); err != nil {
				img.Close()
				return err
			}
			rel, _ := filepath.Rel(cfg.Shared, p.Path)
			truth.Write([]string{strconv.Itoa(n), p.Class, rel})
			n++
		}
		img.Close()
	}
	return nil
}

// pickImages chooses n photos: classes in turn, test sets in turn (one
// round of the classes from each), photos spread evenly over each sorted
// class folder so the clip shows many people and backgrounds. The choice
// depends only on the folder contents.
func pickImages(dir string, n int) ([]capture.LabeledImage, error) {
	k := len(classes)
	lists := map[string][]capture.LabeledImage{}
	visits := map[string]int{} // how often the clip draws from each folder
	for i := 0; i < n; i++ {
		class := classes[i%k]
		folder := filepath.Join(setFor(i/k, class), class)
		visits[folder]++
		if lists[folder] != nil {
			continue
		}
		imgs, err := capture.ListImages(filepath.Join(dir, folder))
		if err != nil {
			return nil, fmt.Errorf("%w: democlip needs %s: %v (point --shared or $RPSCAM_SHARED at the folder holding data/)", shareddata.ErrNotFound, folder, err)
		}
		sort.Slice(imgs, func(i, j int) bool { return imgs[i].Path < imgs[j].Path })
		for i := range imgs {
			imgs[i].Class = class
		}
		lists[folder] = imgs
	}
	seen := map[string]int{}
	out := make([]capture.LabeledImage, 0, n)
	for i := 0; i < n; i++ {
		class := classes[i%k]
		folder := filepath.Join(setFor(i/k, class), class)
		l := lists[folder]
		// The v-th of a folder's visits spreads over its list: evenly
		// spaced, starting off-centre.
		v := seen[folder]
		seen[folder]++
		idx := (len(l)*(2*v+1)/(2*visits[folder]) + 7*v) % len(l)
		out = append(out, l[idx])
	}
	return out, nil
}

// renderFrame draws photo img onto frame as a hand-held camera would see
// it: scaled to about 80% of the frame height, centred on a dark background,
// with a slow zoom and pan (sub-pixel, so it moves smoothly) that continue
// across photo changes like one continuous shot.
func renderFrame(img gocv.Mat, frame *gocv.Mat, n int) {
	fw, fh := float64(frame.Cols()), float64(frame.Rows())
	iw, ih := float64(img.Cols()), float64(img.Rows())
	t := float64(n)
	target := fh * (0.80 + 0.04*math.Sin(2*math.Pi*t/97))
	k := target / math.Max(iw, ih)
	dx := 0.03*fw*math.Sin(2*math.Pi*t/71) + 0.01*fw*math.Sin(2*math.Pi*t/23)
	dy := 0.02*fh*math.Sin(2*math.Pi*t/53+1) + 0.006*fh*math.Sin(2*math.Pi*t/17)
	tx := (fw-k*iw)/2 + dx
	ty := (fh-k*ih)/2 + dy
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	m.SetDoubleAt(0, 0, k)
	m.SetDoubleAt(0, 2, tx)
	m.SetDoubleAt(1, 1, k)
	m.SetDoubleAt(1, 2, ty)
	gocv.WarpAffineWithParams(img, frame, m, image.Pt(frame.Cols(), frame.Rows()), gocv.InterpolationLinear, gocv.BorderConstant, background)
}

// background is the letterbox colour, a dark neutral grey.
var background = color.RGBA{R: 40, G: 40, B: 44}
