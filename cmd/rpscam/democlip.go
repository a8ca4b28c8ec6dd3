package main

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
	"github.com/rpscam/rpscam/sink"
)

// demoClasses are shown in this order, over and over: the three gestures,
// then an empty scene (no hand), which a live demo sees between gestures.
var demoClasses = [4]string{"rock", "paper", "scissors", "none"}

// demoSets are the test splits the clip draws its hands from, one round of
// the classes from each in turn: real hands first (sxsw, then subhih's
// webcam scenes), then the CGI renders the original tutorial used.
var demoSets = [3]string{"data/rps-real/sxsw/test", "data/rps-real/subhih/test", "data/rps-cgi/test"}

// demoNoneSet holds the empty scenes of every round: subhih's test split is
// the only shared test split with a none class.
const demoNoneSet = "data/rps-real/subhih/test"

// demoSet is the folder that round's photo of class comes from.
func demoSet(round int, class string) string {
	if class == "none" {
		return demoNoneSet
	}
	return demoSets[round%len(demoSets)]
}

func runDemoClip(env *cliEnv, args []string) error {
	return exitError(demoClip(env, args))
}

func demoClip(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "democlip", "--out FILE [flags]",
		"rpscam democlip --out out/demo.mp4",
		"rpscam democlip --out out/demo.mp4 --per-image 15 --size 1280x720 --images 60",
		"RPSCAM_SHARED=/data/shared rpscam democlip --out /tmp/demo.avi")
	out := fs.StringP("out", "o", "out/demo.mp4", "video to write (.mp4: H.264; .avi: MJPG)")
	shared := fs.String("shared", "", "the shared data folder (default $RPSCAM_SHARED, else ../shared beside the repository)")
	perImage := fs.Int("per-image", 12, "frames each photo is held for")
	size := fs.String("size", "640x480", "frame size WxH")
	images := fs.Int("images", 48, "photos in the clip (rock, paper, scissors and an empty scene in turn)")
	fps := fs.Float64("fps", 30, "frame rate of the clip")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	w, h, err := parseSize(*size)
	if err != nil {
		return err
	}
	if *perImage < 1 || *images < 1 || !(*fps > 0 && *fps <= 240) {
		return usagef("--per-image and --images must be at least 1, --fps in (0, 240]")
	}
	dir, err := sharedDir(*shared)
	if err != nil {
		return err
	}
	picks, err := pickDemoImages(dir, *images)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return fmt.Errorf("creating the output folder: %w", err)
	}
	rec, err := sink.NewRecorder(*out, *fps, w, h)
	if err != nil {
		return err
	}
	defer rec.Close()
	truthPath := strings.TrimSuffix(*out, filepath.Ext(*out)) + ".truth.csv"
	truthFile, err := os.Create(truthPath)
	if err != nil {
		return fmt.Errorf("writing the ground truth: %w", err)
	}
	defer truthFile.Close()
	truth := csv.NewWriter(truthFile)
	truth.Write([]string{"frame", "label", "image"})

	frame := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	defer frame.Close()
	n := 0
	for _, p := range picks {
		img, err := capture.ReadImage(p.Path)
		if err != nil {
			return err
		}
		for k := 0; k < *perImage; k++ {
			renderDemoFrame(img, &frame, n)
			if err := rec.Write(frame); err != nil {
				img.Close()
				return err
			}
			rel, _ := filepath.Rel(dir, p.Path)
			truth.Write([]string{strconv.Itoa(n), p.Class, rel})
			n++
		}
		img.Close()
	}
	truth.Flush()
	if err := truth.Error(); err != nil {
		return fmt.Errorf("writing %s: %w", truthPath, err)
	}
	if err := rec.Close(); err != nil {
		return fmt.Errorf("finishing %s: %w", *out, err)
	}
	fmt.Fprintf(env.stdout, "wrote %s: %d frames (%d photos x %d), %dx%d at %.4g fps, %s; ground truth per frame in %s\n",
		rec.Path(), rec.Frames(), len(picks), *perImage, w, h, *fps, rec.Codec(), truthPath)
	return nil
}

// pickDemoImages chooses n photos: classes in turn, test sets in turn (one
// round of the classes from each), photos spread evenly over each sorted
// class folder so the clip shows many people and backgrounds. The choice
// depends only on the folder contents.
func pickDemoImages(dir string, n int) ([]capture.LabeledImage, error) {
	k := len(demoClasses)
	lists := map[string][]capture.LabeledImage{}
	visits := map[string]int{} // how often the clip draws from each folder
	for i := 0; i < n; i++ {
		class := demoClasses[i%k]
		folder := filepath.Join(demoSet(i/k, class), class)
		visits[folder]++
		if lists[folder] != nil {
			continue
		}
		imgs, err := capture.ListImages(filepath.Join(dir, folder))
		if err != nil {
			return nil, fmt.Errorf("%w: democlip needs %s: %v (point --shared or $RPSCAM_SHARED at the folder holding data/)", errNoShared, folder, err)
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
		class := demoClasses[i%k]
		folder := filepath.Join(demoSet(i/k, class), class)
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

// renderDemoFrame draws photo img onto frame as a hand-held camera would see
// it: scaled to about 80% of the frame height, centred on a dark background,
// with a slow zoom and pan (sub-pixel, so it moves smoothly) that continue
// across photo changes like one continuous shot.
func renderDemoFrame(img gocv.Mat, frame *gocv.Mat, n int) {
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
	gocv.WarpAffineWithParams(img, frame, m, image.Pt(frame.Cols(), frame.Rows()), gocv.InterpolationLinear, gocv.BorderConstant, demoBackground)
}

// demoBackground is the letterbox colour, a dark neutral grey.
var demoBackground = color.RGBA{R: 40, G: 40, B: 44}

// parseSize reads "WxH".
func parseSize(s string) (int, int, error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w < 16 || h < 16 || w > 7680 || h > 4320 {
		return 0, 0, usagef("--size %q: want WIDTHxHEIGHT between 16x16 and 7680x4320, e.g. 640x480", s)
	}
	return w, h, nil
}
