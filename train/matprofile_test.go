//go:build matprofile

package train

import (
	"image/color"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"
)

// TestMatProfileNoLeaks runs augmentation (every branch: background replacement,
// blur, JPEG) and feature extraction, then checks every Mat was closed.
func TestMatProfileNoLeaks(t *testing.T) {
	dir := t.TempDir()
	writeSolid(t, filepath.Join(dir, "rock", "a.png"), color.RGBA{R: 250, G: 250, B: 250})
	writeSolid(t, filepath.Join(dir, "paper", "b.png"), color.RGBA{G: 200})
	writeSolid(t, filepath.Join(dir, "scissors", "c.png"), color.RGBA{B: 200})
	start := gocv.MatProfile.Count()
	cfg := DefaultAugment()
	cfg.BlurP, cfg.JPEGP, cfg.BackgroundP = 1, 1, 1
	aug, err := newAugmenter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := readBGR(filepath.Join(dir, "rock", "a.png"))
	for _, bg := range []string{"white", "green", ""} {
		v, err := aug.Apply(src, bg, newRand(1))
		if err != nil {
			t.Fatal(err)
		}
		v.Close()
	}
	src.Close()
	empty := gocv.NewMat()
	if _, err := aug.Apply(empty, "", newRand(1)); err == nil {
		t.Fatal("want an error for an empty image")
	}
	empty.Close()
	exs, err := listDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ex := &Extractor{Runner: &meanRunner{}, NewPre: func() (Preprocessor, error) { return &resizePre{m: gocv.NewMat()}, nil },
		Read: readBGR, Augment: aug, Batch: 2, AugSeed: 1}
	if _, err := ex.Features(exs, 2); err != nil {
		t.Fatal(err)
	}
	if n := gocv.MatProfile.Count(); n != start {
		var b []byte
		gocv.MatProfile.WriteTo(writerFunc(func(p []byte) (int, error) { b = append(b, p...); return len(p), nil }), 1)
		t.Fatalf("%d Mats open after the run, %d before:\n%s", n, start, b)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
