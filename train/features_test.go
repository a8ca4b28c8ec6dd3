package train

import (
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpscam/rpscam/internal/nn"
	"gocv.io/x/gocv"
)

// meanRunner is a fake backbone: one feature per channel, the channel mean.
type meanRunner struct{ calls, images int }

func (r *meanRunner) OutputDim() int { return 3 }
func (r *meanRunner) Run(px []uint8, n int) ([]float32, error) {
	r.calls++
	r.images += n
	per := len(px) / n
	out := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		for j := 0; j < per; j++ {
			out[3*i+j%3] += float32(px[i*per+j]) / float32(per/3)
		}
	}
	return out, nil
}

// resizePre is a stand-in for infer.Preprocessor: 8x8 BGR -> RGB bytes.
type resizePre struct{ m gocv.Mat }

func (p *resizePre) Size() int { return 8 * 8 * 3 }
func (p *resizePre) Close() error {
	return p.m.Close()
}
func (p *resizePre) IntoUint8(bgr gocv.Mat, _ image.Rectangle, dst []uint8) error {
	gocv.Resize(bgr, &p.m, image.Pt(8, 8), 0, 0, gocv.InterpolationArea)
	gocv.CvtColor(p.m, &p.m, gocv.ColorBGRToRGB)
	b, err := p.m.DataPtrUint8()
	if err != nil {
		return err
	}
	copy(dst, b)
	return nil
}

func writeSolid(t *testing.T, path string, c color.RGBA) {
	t.Helper()
	img := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0), 40, 60, gocv.MatTypeCV8UC3)
	defer img.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if !gocv.IMWrite(path, img) {
		t.Fatalf("writing %s", path)
	}
}

func readBGR(path string) (gocv.Mat, error) {
	m := gocv.IMRead(path, gocv.IMReadColor)
	if m.Empty() {
		m.Close()
		return gocv.NewMat(), errors.New("cannot read " + path)
	}
	return m, nil
}

// solidImages writes one solid-colour image per class into a new folder
// (rock red, paper green, scissors blue) and lists it, with the default
// augmentation.
func solidImages(t *testing.T) (dir string, exs []Example, aug *Augmenter) {
	t.Helper()
	dir = t.TempDir()
	writeSolid(t, filepath.Join(dir, "rock", "a.png"), color.RGBA{R: 200, G: 10, B: 10})
	writeSolid(t, filepath.Join(dir, "paper", "b.png"), color.RGBA{R: 10, G: 200, B: 10})
	writeSolid(t, filepath.Join(dir, "scissors", "c.png"), color.RGBA{R: 10, G: 10, B: 200})
	exs, err := listDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if aug, err = newAugmenter(DefaultAugment()); err != nil {
		t.Fatal(err)
	}
	return dir, exs, aug
}

func TestExtractorViewsAndCache(t *testing.T) {
	dir, exs, aug := solidImages(t)
	cacheDir := filepath.Join(dir, "cache")
	reads := 0
	countedRead := func(path string) (gocv.Mat, error) {
		reads++
		return readBGR(path)
	}
	newEx := func(r *meanRunner) *Extractor {
		c, err := OpenCache(cacheDir, "backbone-sha", DefaultAugment())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return &Extractor{Runner: r, NewPre: func() (Preprocessor, error) { return &resizePre{m: gocv.NewMat()}, nil },
			Read: countedRead, Augment: aug, Batch: 2, Cache: c, AugSeed: 1}
	}
	r1 := &meanRunner{}
	f, err := newEx(r1).Features(exs, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.X) != 9 || r1.images != 9 || r1.calls != 5 {
		t.Fatalf("%d vectors from %d images in %d calls, want 9 in 5 batches of <= 2", len(f.X), r1.images, r1.calls)
	}
	if reads != 3 {
		t.Errorf("%d image reads for 3 images x 3 views, want each image decoded once", reads)
	}
	// View 0 is the clean image: exact channel means in RGB order.
	for i, ex := range f.Examples {
		if f.Views[i] != 0 {
			continue
		}
		want := [3]float32{10, 10, 10}
		want[ex.Class] = 200
		for k := 0; k < 3; k++ {
			if d := f.X[i][k] - want[k]; d > 0.5 || d < -0.5 {
				t.Errorf("%s view 0 feature %v, want %v", ex.Path, f.X[i], want)
			}
		}
	}
	// A second extractor over the same cache computes nothing and returns the same vectors.
	r2 := &meanRunner{}
	g, err := newEx(r2).Features(exs, 3)
	if err != nil {
		t.Fatal(err)
	}
	if r2.calls != 0 {
		t.Errorf("cached run called the backbone %d times", r2.calls)
	}
	for i := range f.X {
		for k := range f.X[i] {
			if f.X[i][k] != g.X[i][k] {
				t.Fatalf("cached vector %d differs", i)
			}
		}
	}
	// Entries follow the images' contents: touching a file or copying the
	// data set elsewhere (new paths and times, as a re-mounted ../shared
	// has) recomputes nothing; new bytes in one file recompute its views only.
	if err := os.Chtimes(exs[0].Path, f0time(), f0time()); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), "copy")
	for _, ex := range exs {
		data, err := os.ReadFile(ex.Path)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(copied, filepath.Base(filepath.Dir(ex.Path)), filepath.Base(ex.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	moved, err := listDir(copied)
	if err != nil {
		t.Fatal(err)
	}
	r3 := &meanRunner{}
	if _, err := newEx(r3).Features(append(exs, moved...), 3); err != nil {
		t.Fatal(err)
	}
	if r3.images != 0 {
		t.Errorf("touched and copied files: %d images recomputed, want 0", r3.images)
	}
	writeSolid(t, moved[0].Path, color.RGBA{R: 90, G: 90, B: 90})
	r4 := &meanRunner{}
	h, err := newEx(r4).Features(append(moved, moved[0]), 3)
	if err != nil {
		t.Fatal(err)
	}
	if r4.images != 3 {
		t.Errorf("after rewriting one file, %d images recomputed, want its 3 views", r4.images)
	}
	// That file is listed twice: both copies' rows are filled.
	for i := range h.X {
		if h.X[i] == nil {
			t.Fatalf("row %d (%s view %d) left empty", i, h.Examples[i].Path, h.Views[i])
		}
	}
	if d := h.X[0][0] - 90; d > 0.5 || d < -0.5 {
		t.Errorf("rewritten file's view 0 feature %v, want its new mean 90", h.X[0])
	}
}

func f0time() (t time.Time) { return time.Unix(1_600_000_000, 0) }

// TestExtractorHalfRowsLieInTheCacheFile: with Half set, every row
// Features returns, computed in this call or found in the cache, is the
// cache file's record read where it lies (mapped), not a heap copy that
// training would hold besides it, and holds the float32 path's values
// rounded to binary16.
func TestExtractorHalfRowsLieInTheCacheFile(t *testing.T) {
	dir, exs, aug := solidImages(t)
	newEx := func(r *meanRunner, c VectorCache, half bool) *Extractor {
		return &Extractor{Runner: r, NewPre: func() (Preprocessor, error) { return &resizePre{m: gocv.NewMat()}, nil },
			Read: readBGR, Augment: aug, Batch: 2, Cache: c, AugSeed: 1, Half: half}
	}
	wide, err := newEx(&meanRunner{}, nil, false).Features(exs, 3)
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := filepath.Join(dir, "cache")
	for _, run := range []string{"computed", "from the cache"} {
		c, err := OpenCache(cacheDir, "backbone-sha", DefaultAugment())
		if err != nil {
			t.Fatal(err)
		}
		r := &meanRunner{}
		f, err := newEx(r, c, true).Features(exs, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Half) != 9 || len(f.X) != 0 {
			t.Fatalf("%s: %d binary16 and %d float32 rows, want 9 and 0", run, len(f.Half), len(f.X))
		}
		if computed := r.images > 0; computed != (run == "computed") {
			t.Errorf("%s: the backbone ran on %d images", run, r.images)
		}
		for i, h := range f.Half {
			if !inMapping(c, h) {
				t.Errorf("%s: row %d (%s view %d) is not read from the cache file", run, i, f.Examples[i].Path, f.Views[i])
			}
			if want := nn.HalfBytesFromFloat32s(wide.X[i]); string(h) != string(want) {
				t.Errorf("%s: row %d = % x, want the float32 row %v rounded: % x", run, i, h, wide.X[i], want)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFeatureSetRepeat(t *testing.T) {
	f := FeatureSet{
		X:        [][]float32{{1}, {2}, {3}},
		Y:        []int{0, 1, 2},
		Examples: []Example{{Path: "a", Source: "cgi"}, {Path: "b", Source: "sxsw"}, {Path: "c", Source: "drg"}},
		Views:    []int{0, 3, 1},
	}
	r := f.Repeat(map[string]int{"sxsw": 3, "drg": 0})
	var paths []string
	for _, ex := range r.Examples {
		paths = append(paths, ex.Path)
	}
	if got := strings.Join(paths, ""); got != "abbbc" {
		t.Fatalf("rows %q, want abbbc (sxsw three times, a count of 0 taken as 1)", got)
	}
	if len(r.X) != 5 || len(r.Y) != 5 || len(r.Views) != 5 || r.Y[3] != 1 || r.Views[2] != 3 || r.X[1][0] != 2 {
		t.Fatalf("X %v Y %v Views %v do not follow the rows", r.X, r.Y, r.Views)
	}
	if &r.X[1][0] != &f.X[1][0] {
		t.Error("the vectors were copied; Repeat shares them")
	}
}

// TestClassBalance: within each source every class gets the same total
// weight and the source keeps its total; a balanced source stays at 1.
func TestClassBalance(t *testing.T) {
	var rows []Example
	add := func(source string, class, n int) {
		for range n {
			rows = append(rows, Example{Source: source, Class: class})
		}
	}
	add("real", 0, 6) // rock-heavy, like sxsw
	add("real", 1, 2)
	add("real", 2, 4)
	add("cgi", 0, 3)
	add("cgi", 1, 3)
	weight := ClassBalance(rows)
	for _, c := range []struct {
		source string
		class  int
		want   float32
	}{{"real", 0, 12.0 / 18}, {"real", 1, 2}, {"real", 2, 1}, {"cgi", 0, 1}, {"cgi", 1, 1}, {"elsewhere", 0, 1}} {
		if got := weight(Example{Source: c.source, Class: c.class}); math.Abs(float64(got-c.want)) > 1e-6 {
			t.Errorf("weight of %s class %d = %v, want %v", c.source, c.class, got, c.want)
		}
	}
	total := map[string]float64{}
	for _, ex := range rows {
		total[ex.Source] += float64(weight(ex))
	}
	if math.Abs(total["real"]-12) > 1e-5 || math.Abs(total["cgi"]-6) > 1e-5 {
		t.Errorf("source totals %v, want real 12 and cgi 6 (their row counts)", total)
	}
}
