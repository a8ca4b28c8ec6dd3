package overlay

import (
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// grey is the uniform test background: mid-grey, so darkening shows and no
// overlay colour equals it.
var grey = color.RGBA{R: 128, G: 128, B: 128, A: 255}

// frame is a BGR copy of a Mat's pixels for cheap per-pixel assertions.
type frame struct {
	w, h int
	pix  []byte
}

func snapshot(t testing.TB, m gocv.Mat) frame {
	t.Helper()
	if m.Type() != gocv.MatTypeCV8UC3 {
		t.Fatalf("snapshot: Mat type %v, want CV8UC3", m.Type())
	}
	return frame{w: m.Cols(), h: m.Rows(), pix: m.ToBytes()}
}

func (f frame) at(x, y int) color.RGBA {
	i := (y*f.w + x) * 3
	return color.RGBA{B: f.pix[i], G: f.pix[i+1], R: f.pix[i+2], A: 255}
}

func uniform(w, h int, c color.RGBA) gocv.Mat {
	return gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0), h, w, gocv.MatTypeCV8UC3)
}

func rpsState() State {
	return State{
		Labels:     []string{"rock", "paper", "scissors"},
		Probs:      []float32{0.7, 0.2, 0.1},
		Top:        0,
		Confidence: 0.7,
		FPS:        29.97,
		InferMs:    8.4,
	}
}

// draw draws s on a uniform grey w x h frame with a fresh Drawer and returns
// the pixels and the layout the Drawer used.
func draw(t testing.TB, w, h int, s State) (frame, layout) {
	t.Helper()
	img := uniform(w, h, grey)
	defer img.Close()
	d := NewDrawer()
	defer d.Close()
	if err := d.Draw(&img, s); err != nil {
		t.Fatalf("Draw: %v", err)
	}
	return snapshot(t, img), d.layout
}

func TestROIBorderHasBoxColour(t *testing.T) {
	s := rpsState()
	s.ROI = image.Rect(360, 220, 600, 440)
	f, l := draw(t, 640, 480, s)
	if s.ROI.Overlaps(l.panel) {
		t.Fatalf("test setup: ROI %v overlaps the panel %v", s.ROI, l.panel)
	}
	want := rgb(ROIRGB)
	r := s.ROI
	midX, midY := (r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2
	for _, p := range []image.Point{{midX, r.Min.Y}, {midX, r.Max.Y}, {r.Min.X, midY}, {r.Max.X, midY}, r.Min, r.Max} {
		if got := f.at(p.X, p.Y); got != want {
			t.Errorf("ROI border pixel %v = %v, want %v", p, got, want)
		}
	}
	// Inside the box the picture is untouched.
	if got := f.at(midX, midY); got != grey {
		t.Errorf("ROI centre %v = %v, want the untouched %v", image.Pt(midX, midY), got, grey)
	}
}

func TestEmptyROIIsNotDrawn(t *testing.T) {
	f, _ := draw(t, 640, 480, rpsState())
	want := rgb(ROIRGB)
	for i := 0; i < len(f.pix); i += 3 {
		if f.pix[i] == want.B && f.pix[i+1] == want.G && f.pix[i+2] == want.R {
			t.Fatalf("pixel %d has the ROI colour with no ROI set", i/3)
		}
	}
}

func TestRecordingDot(t *testing.T) {
	s := rpsState()
	s.Recording = true
	f, l := draw(t, 640, 480, s)
	if got, want := f.at(l.recDot.X, l.recDot.Y), rgb(recordingRGB); got != want {
		t.Errorf("recording dot centre %v = %v, want red %v", l.recDot, got, want)
	}
	if !l.recDot.In(image.Rect(640/2, 0, 640, 480/4)) {
		t.Errorf("recording dot at %v, want it in the top right quarter", l.recDot)
	}

	s.Recording = false
	f, l = draw(t, 640, 480, s)
	if got := f.at(l.recDot.X, l.recDot.Y); got != grey {
		t.Errorf("without Recording the dot position %v = %v, want untouched %v", l.recDot, got, grey)
	}
}

// countColour counts pixels of exactly colour c on row y between x0 and x1.
func countColour(f frame, y, x0, x1 int, c color.RGBA) int {
	n := 0
	for x := x0; x < x1; x++ {
		if f.at(x, y) == c {
			n++
		}
	}
	return n
}

func TestBarsProportionalToProbabilities(t *testing.T) {
	for _, size := range []image.Point{{640, 480}, {320, 240}, {1920, 1080}} {
		s := rpsState()
		f, l := draw(t, size.X, size.Y, s)
		if len(l.rows) != 3 {
			t.Fatalf("%v: %d bar rows, want 3", size, len(l.rows))
		}
		fills := make([]int, 3)
		for i, row := range l.rows {
			y := (row.bar.Min.Y + row.bar.Max.Y) / 2
			fills[i] = countColour(f, y, row.bar.Min.X, row.bar.Max.X, classColor(s.Labels[i], i))
			want := float64(s.Probs[i]) * float64(row.bar.Dx())
			if d := float64(fills[i]) - want; d < -2 || d > 2 {
				t.Errorf("%v: %s bar has %d coloured pixels of %d, want %.1f (p=%.2f)", size, s.Labels[i], fills[i], row.bar.Dx(), want, s.Probs[i])
			}
			// The rest of the track is the track colour, not the picture.
			track := countColour(f, y, row.bar.Min.X, row.bar.Max.X, rgb(trackRGB))
			if fills[i]+track != row.bar.Dx() {
				t.Errorf("%v: %s bar: %d fill + %d track pixels, want %d in all", size, s.Labels[i], fills[i], track, row.bar.Dx())
			}
		}
		if !(fills[0] > fills[1] && fills[1] > fills[2]) {
			t.Errorf("%v: bar fills %v, want strictly decreasing like the probabilities %v", size, fills, s.Probs)
		}
	}
}

func TestPanelDarkensFrame(t *testing.T) {
	f, l := draw(t, 640, 480, rpsState())
	// A panel corner holds no text: it is exactly the blend of the picture
	// and the tint.
	tint := rgb(panelRGB)
	blendOf := func(pic, tint uint8) float64 {
		return float64(pic)*(1-panelOpacity) + float64(tint)*panelOpacity
	}
	got := f.at(l.panel.Min.X+1, l.panel.Min.Y+1)
	for _, ch := range []struct {
		name      string
		got, tint uint8
		pic       uint8
	}{{"R", got.R, tint.R, grey.R}, {"G", got.G, tint.G, grey.G}, {"B", got.B, tint.B, grey.B}} {
		if want := blendOf(ch.pic, ch.tint); float64(ch.got) < want-1 || float64(ch.got) > want+1 {
			t.Errorf("panel corner %s = %d, want %.1f (picture %d blended with tint %d at %.2f)", ch.name, ch.got, want, ch.pic, ch.tint, panelOpacity)
		}
	}
	// On average the whole panel is darker than the picture, text included.
	var sum, n float64
	for y := l.panel.Min.Y; y < l.panel.Max.Y; y++ {
		for x := l.panel.Min.X; x < l.panel.Max.X; x++ {
			c := f.at(x, y)
			sum += (float64(c.R) + float64(c.G) + float64(c.B)) / 3
			n++
		}
	}
	if mean := sum / n; mean >= float64(grey.R)*0.75 {
		t.Errorf("panel mean brightness %.1f, want well below the picture's %d", mean, grey.R)
	}
	// Just outside the panel the picture is untouched.
	if got := f.at(l.panel.Max.X+1, l.panel.Min.Y+1); got != grey {
		t.Errorf("pixel right of the panel = %v, want untouched %v", got, grey)
	}
}

// changedBounds is the bounding box of pixels inside r that differ from bg.
func changedBounds(f frame, r image.Rectangle, bg color.RGBA) image.Rectangle {
	var b image.Rectangle
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if f.at(x, y) != bg {
				b = b.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return b
}

func TestEverythingStaysInsideFrame(t *testing.T) {
	for _, size := range []image.Point{{320, 240}, {1920, 1080}} {
		frameRect := image.Rect(0, 0, size.X, size.Y)
		s := rpsState()
		f, l := draw(t, size.X, size.Y, s)
		inner := frameRect.Inset(1)
		if !l.panel.In(inner) {
			t.Errorf("%v: panel %v not inside the frame", size, l.panel)
		}
		for i, row := range l.rows {
			if !row.bar.In(l.panel) || row.pctRight > l.panel.Max.X {
				t.Errorf("%v: row %d bar %v (percentage to x=%d) not inside panel %v", size, i, row.bar, row.pctRight, l.panel)
			}
		}
		// With no ROI, recording or status, every changed pixel is on
		// the panel.
		if outside := changedBounds(f, frameRect, grey); !outside.In(l.panel) {
			t.Errorf("%v: pixels changed within %v, outside the panel %v", size, outside, l.panel)
		}

		// Recording and status: REC stays clear of the right edge and the
		// banner spans the bottom.
		s.Recording, s.Status = true, "reconnecting…"
		f, l = draw(t, size.X, size.Y, s)
		edge := image.Rect(size.X-l.m.margin/2, 0, size.X, l.banner.Min.Y)
		if ch := changedBounds(f, edge, grey); !ch.Empty() {
			t.Errorf("%v: REC drawn up to the right edge: changed %v", size, ch)
		}
		if !l.banner.In(frameRect) || l.banner.Max.Y != size.Y || l.banner.Dx() != size.X {
			t.Errorf("%v: banner %v, want the full width at the bottom of %v", size, l.banner, frameRect)
		}
		text := changedBounds(f, l.banner, f.at(0, size.Y-1))
		if text.Empty() || text.Min.X < 1 || text.Max.X > size.X-1 {
			t.Errorf("%v: status text spans %v, want it inside the banner %v", size, text, l.banner)
		}
	}
}

func TestLabelScalesWithFrameHeight(t *testing.T) {
	heights := map[int]int{}
	for _, size := range []image.Point{{320, 240}, {1920, 1080}} {
		f, l := draw(t, size.X, size.Y, rpsState())
		bg := f.at(l.panel.Min.X+1, l.panel.Min.Y+1)
		box := changedBounds(f, l.labelBox, bg)
		if box.Empty() {
			t.Fatalf("%v: no label pixels in %v", size, l.labelBox)
		}
		heights[size.Y] = box.Dy()
	}
	if heights[240] < 9 {
		t.Errorf("label at 240p is %d px tall, want at least 9 to be readable", heights[240])
	}
	if heights[1080] < 3*heights[240] {
		t.Errorf("label is %d px tall at 1080p and %d px at 240p, want it to scale with the height (x4.5)", heights[1080], heights[240])
	}
}

func countInRect(f frame, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		n += countColour(f, y, r.Min.X, r.Max.X, c)
	}
	return n
}

func TestUncertainMutesLabel(t *testing.T) {
	s := rpsState()
	f, l := draw(t, 640, 480, s)
	rock, muted := rgb(RockRGB), rgb(UncertainRGB)
	if n := countInRect(f, l.labelBox, rock); n < 50 {
		t.Errorf("certain label: %d pixels in the rock colour, want the label drawn in it", n)
	}
	if n := countInRect(f, l.labelBox, muted); n != 0 {
		t.Errorf("certain label: %d pixels in the muted colour, want none", n)
	}

	s.Uncertain, s.Confidence = true, 0.48
	f, l = draw(t, 640, 480, s)
	if n := countInRect(f, l.labelBox, rock); n != 0 {
		t.Errorf("uncertain label: %d pixels in the rock colour, want none", n)
	}
	if n := countInRect(f, l.labelBox, muted); n < 50 {
		t.Errorf("uncertain label: %d pixels in the muted colour, want the label drawn in it", n)
	}
}

func TestLabelText(t *testing.T) {
	if got, want := bigLabelText("rock", 97, false), "ROCK 97%"; got != want {
		t.Errorf("certain label %q, want %q", got, want)
	}
	if got, want := bigLabelText("rock", 48, true), "? ROCK 48%"; got != want {
		t.Errorf("uncertain label %q, want %q", got, want)
	}
	if got, want := asciiText("reconnecting…"), "reconnecting..."; got != want {
		t.Errorf("asciiText = %q, want %q", got, want)
	}
	if got, want := asciiText("caméra—1"), "cam?ra-1"; got != want {
		t.Errorf("asciiText = %q, want %q", got, want)
	}
	if got, want := percent(0.974), 97; got != want {
		t.Errorf("percent(0.974) = %d, want %d", got, want)
	}
	for _, p := range []float32{-0.5, float32(math.NaN())} {
		if got := percent(p); got != 0 {
			t.Errorf("percent(%v) = %d, want 0", p, got)
		}
	}
}

func TestClassColours(t *testing.T) {
	if classColor("Rock", 5) != rgb(RockRGB) || classColor("paper", 0) != rgb(paperRGB) || classColor(" SCISSORS ", 0) != rgb(scissorsRGB) {
		t.Error("rock, paper and scissors must get their fixed colours whatever their index or case")
	}
	for _, l := range []string{"none", "None", " NONE "} {
		if classColor(l, 3) != rgb(NoHandRGB) {
			t.Errorf("%q: colour %v, want the neutral no-hand colour", l, classColor(l, 3))
		}
	}
	for _, c := range append([]uint32{RockRGB, paperRGB, scissorsRGB, UncertainRGB, textRGB, dimTextRGB, trackRGB}, palette[:]...) {
		if c == NoHandRGB {
			t.Errorf("the no-hand colour %06x is also another colour of the overlay", c)
		}
	}
	seen := map[color.RGBA]string{}
	for i, l := range []string{"rock", "paper", "scissors", "lizard", "spock", "ok", "thumb"} {
		c := classColor(l, i)
		if prev, dup := seen[c]; dup {
			t.Errorf("%s and %s share the colour %v", prev, l, c)
		}
		seen[c] = l
		for _, reserved := range []uint32{ROIRGB, recordingRGB, UncertainRGB, NoHandRGB} {
			if c == rgb(reserved) {
				t.Errorf("%s has the reserved colour %06x", l, reserved)
			}
		}
	}
}

func TestManyClassesShowMostProbable(t *testing.T) {
	labels := make([]string, 20)
	probs := make([]float32, 20)
	for i := range labels {
		labels[i] = "class" + string(rune('a'+i))
		probs[i] = 0.001
	}
	probs[17], probs[3] = 0.6, 0.3
	s := State{Labels: labels, Probs: probs, Top: 17, Confidence: 0.6}
	f, l := draw(t, 320, 240, s)
	if len(l.rows) == 0 || len(l.rows) >= 20 {
		t.Fatalf("%d rows at 240p for 20 classes, want some but not all", len(l.rows))
	}
	shown := rowClasses(probs, len(l.rows))
	if len(shown) != len(l.rows) || !contains(shown, 3) || !contains(shown, 17) || !sort.IntsAreSorted(shown) {
		t.Errorf("rows show classes %v, want 3 and 17 among them in label order", shown)
	}
	if outside := changedBounds(f, image.Rect(0, 0, 320, 240), grey); !outside.In(l.panel) || !l.panel.In(image.Rect(0, 0, 320, 240)) {
		t.Errorf("drawn %v, panel %v: want all inside the frame", outside, l.panel)
	}
}

func contains(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func TestDrawRejectsBadInput(t *testing.T) {
	d := NewDrawer()
	defer d.Close()
	img := uniform(64, 48, grey)
	defer img.Close()
	gray := gocv.NewMatWithSize(48, 64, gocv.MatTypeCV8U)
	defer gray.Close()
	empty := gocv.NewMat()
	defer empty.Close()

	bad := rpsState()
	bad.Probs = bad.Probs[:2]
	top := rpsState()
	top.Top = 3
	for _, c := range []struct {
		name string
		img  *gocv.Mat
		s    State
		want string
	}{
		{"nil image", nil, rpsState(), "empty image"},
		{"empty image", &empty, rpsState(), "empty image"},
		{"grey image", &gray, rpsState(), "3-channel"},
		{"labels and probs differ", &img, bad, "3 labels but 2 probabilities"},
		{"top out of range", &img, top, "Top is 3"},
	} {
		err := d.Draw(c.img, c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	// No labels yet: still draws (the "no prediction" line, stats).
	if err := d.Draw(&img, State{FPS: 30}); err != nil {
		t.Errorf("Draw with no labels: %v", err)
	}
	d.Close()
	if err := d.Draw(&img, rpsState()); !errors.Is(err, ErrClosed) {
		t.Errorf("Draw after Close: %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestReusedDrawerFollowsFrameChanges(t *testing.T) {
	// One Drawer across frame sizes, label sets and buffers must draw
	// exactly what a fresh Drawer draws.
	d := NewDrawer()
	defer d.Close()
	sizes := []image.Point{{640, 480}, {640, 480}, {320, 240}, {1280, 720}, {640, 480}}
	for i, size := range sizes {
		s := rpsState()
		if i == 3 {
			s.Labels = []string{"rock", "paper", "scissors", "none"}
			s.Probs = []float32{0.1, 0.1, 0.1, 0.7}
			s.Top, s.Confidence = 3, 0.7
			s.Status = "paused"
		}
		img := uniform(size.X, size.Y, grey)
		if err := d.Draw(&img, s); err != nil {
			t.Fatal(err)
		}
		got := snapshot(t, img)
		img.Close()
		want, _ := draw(t, size.X, size.Y, s)
		if string(got.pix) != string(want.pix) {
			t.Errorf("frame %d (%v): reused Drawer drew differently from a fresh one", i, size)
		}
	}
}

// TestSample writes a 640x480 sample to $RPSCAM_OVERLAY_SAMPLE (a PNG path)
// for people to look at; without the variable it only checks it renders.
func TestSample(t *testing.T) {
	img := sampleBackground(t, 640, 480)
	defer img.Close()
	d := NewDrawer()
	defer d.Close()
	s := rpsState()
	s.Probs, s.Confidence = []float32{0.93, 0.05, 0.02}, 0.93
	s.ROI = image.Rect(180, 90, 560, 450)
	s.Recording = true
	s.Status = "reconnecting…"
	if err := d.Draw(&img, s); err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("RPSCAM_OVERLAY_SAMPLE")
	if out == "" {
		return
	}
	if !gocv.IMWrite(out, img) {
		t.Fatalf("could not write the sample to %s (RPSCAM_OVERLAY_SAMPLE): check the directory exists and the name ends in .png", out)
	}
	t.Logf("sample written to %s", out)
}

// sampleBackground is a real photo from the shared data when present (so the
// sample shows the overlay on a picture), else a gradient.
func sampleBackground(t *testing.T, w, h int) gocv.Mat {
	shared := os.Getenv("RPSCAM_SHARED")
	if shared == "" {
		shared = filepath.Join("..", "..", "shared")
	}
	matches, _ := filepath.Glob(filepath.Join(shared, "data", "rps-real", "sxsw", "test", "rock", "*.jpg"))
	if len(matches) > 0 {
		src := gocv.IMRead(matches[0], gocv.IMReadColor)
		defer src.Close()
		if !src.Empty() {
			dst := gocv.NewMat()
			gocv.Resize(src, &dst, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
			return dst
		}
	}
	img := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	for y := 0; y < h; y++ {
		v := uint8(40 + 180*y/h)
		gocv.Line(&img, image.Pt(0, y), image.Pt(w-1, y), color.RGBA{R: v, G: v / 2, B: 255 - v, A: 255}, 1)
	}
	return img
}

func benchmarkDraw(b *testing.B, w, h int) {
	img := uniform(w, h, grey)
	defer img.Close()
	d := NewDrawer()
	defer d.Close()
	s := rpsState()
	s.ROI = image.Rect(w/4, h/4, 3*w/4, 3*h/4)
	s.Recording = true
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.Draw(&img, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDraw640x480(b *testing.B) { benchmarkDraw(b, 640, 480) }
func BenchmarkDraw1080p(b *testing.B)   { benchmarkDraw(b, 1920, 1080) }

func TestPanelViewReusedAcrossFrames(t *testing.T) {
	// Steady state allocates no Mat: the view of the panel region made
	// for the first frame serves the next frames of the same buffer.
	d := NewDrawer()
	defer d.Close()
	img := uniform(640, 480, grey)
	defer img.Close()
	for i := 0; i < 3; i++ {
		if err := d.Draw(&img, rpsState()); err != nil {
			t.Fatal(err)
		}
	}
	if d.panel.viewsMade != 1 {
		t.Errorf("3 frames on one buffer made %d panel views, want 1", d.panel.viewsMade)
	}
	other := uniform(640, 480, grey)
	defer other.Close()
	if err := d.Draw(&other, rpsState()); err != nil {
		t.Fatal(err)
	}
	if d.panel.viewsMade != 2 {
		t.Errorf("a frame in another buffer: %d panel views made in all, want 2", d.panel.viewsMade)
	}
	// And the second buffer was drawn on, not the first one again.
	if got := snapshot(t, other).at(d.layout.panel.Min.X+1, d.layout.panel.Min.Y+1); got == grey {
		t.Error("panel of the second buffer was not darkened")
	}
}

// TestStrokeRectMatchesOpenCVWidths: the ROI box's bands are as wide as
// gocv.Rectangle's Line8 lines of the same thickness (1, 3, 3, 5, 5, 7
// pixels for 1..6), centred on the same rows and columns, so the box reads
// the same and survives video compression as before.
func TestStrokeRectMatchesOpenCVWidths(t *testing.T) {
	r := image.Rect(20, 20, 80, 80)
	for thick := 1; thick <= 6; thick++ {
		want := uniform(100, 100, grey)
		got := uniform(100, 100, grey)
		gocv.RectangleWithParams(&want, r, rgb(ROIRGB), thick, gocv.Line8, 0)
		strokeRect(&got, r, thick, rgb(ROIRGB))
		wf, gf := snapshot(t, want), snapshot(t, got)
		want.Close()
		got.Close()
		for i := 0; i < 100; i++ {
			// Along both middle lines, away from the corners OpenCV rounds.
			for _, p := range []image.Point{{i, 50}, {50, i}} {
				if wf.at(p.X, p.Y) != gf.at(p.X, p.Y) {
					t.Fatalf("thickness %d: pixel %v is %v, gocv.Rectangle draws %v", thick, p, gf.at(p.X, p.Y), wf.at(p.X, p.Y))
				}
			}
		}
	}
}

// noHandState is a confident prediction of a 4-class model's no-hand class.
func noHandState() State {
	return State{
		Labels:     []string{"rock", "paper", "scissors", "none"},
		Probs:      []float32{0.01, 0.01, 0.01, 0.97},
		Top:        3,
		Confidence: 0.97,
		FPS:        29.97,
		InferMs:    8.4,
	}
}

// inkMask marks the pixels of r that differ from bg: the shape of what was
// drawn there, whatever its colour.
func inkMask(f frame, r image.Rectangle, bg color.RGBA) []bool {
	var m []bool
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			m = append(m, f.at(x, y) != bg)
		}
	}
	return m
}

func maskDiff(a, b []bool) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func TestNoHandShownAsNoHand(t *testing.T) {
	s := noHandState()
	f, l := draw(t, 640, 480, s)
	bg := f.at(l.panel.Min.X+1, l.panel.Min.Y+1)
	neutral := rgb(NoHandRGB)

	// The big label is in the neutral colour, in no gesture's colour, and
	// not in the colour "none" got as an ordinary fourth class.
	if n := countInRect(f, l.labelBox, neutral); n < 50 {
		t.Errorf("no-hand label: %d pixels in the neutral colour, want the label drawn in it", n)
	}
	for name, c := range map[string]color.RGBA{"rock": rgb(RockRGB), "paper": rgb(paperRGB), "scissors": rgb(scissorsRGB), "palette[3]": rgb(palette[3]), "uncertain": rgb(UncertainRGB)} {
		if n := countInRect(f, l.labelBox, c); n != 0 {
			t.Errorf("no-hand label: %d pixels in the %s colour, want none", n, name)
		}
	}

	// It reads "NO HAND 97%": the same shape as a model whose fourth label
	// is literally "no hand" draws, and not the shape of "NONE 97%".
	literal := noHandState()
	literal.Labels = []string{"rock", "paper", "scissors", "no hand"}
	lf, ll := draw(t, 640, 480, literal)
	if ll.labelBox != l.labelBox || len(ll.rows) != 4 || len(l.rows) != 4 {
		t.Fatalf("layouts differ: label box %v vs %v, rows %d vs %d", l.labelBox, ll.labelBox, len(l.rows), len(ll.rows))
	}
	got, want := inkMask(f, l.labelBox, bg), inkMask(lf, ll.labelBox, lf.at(ll.panel.Min.X+1, ll.panel.Min.Y+1))
	if d := maskDiff(got, want); d > len(got)/200 {
		t.Errorf("big label differs from a drawn %q in %d of %d pixels", bigLabelText("no hand", 97, false), d, len(got))
	}
	nw, _, _ := textSize(bigLabelText("no hand", 97, false), bigFont, l.m.bigScale, l.m.bigThick)
	ow, _, _ := textSize(bigLabelText("none", 97, false), bigFont, l.m.bigScale, l.m.bigThick)
	if ink := changedBounds(f, l.labelBox, bg); ink.Dx() < nw-4 || ink.Dx() > nw+4 || nw-ow < 20 {
		t.Errorf("big label ink is %d px wide, want about %d (\"NO HAND 97%%\"; \"NONE 97%%\" would be %d)", ink.Dx(), nw, ow)
	}

	// The fourth bar row is named "no hand" and filled in the neutral colour.
	row := l.rows[3]
	names := image.Rect(row.nameOrigin.X, row.bar.Min.Y-l.m.smallThick-8, row.bar.Min.X, row.bar.Max.Y+4)
	if d := maskDiff(inkMask(f, names, bg), inkMask(lf, names, lf.at(ll.panel.Min.X+1, ll.panel.Min.Y+1))); d > 2 {
		t.Errorf("fourth row's name differs from a drawn \"no hand\" in %d pixels", d)
	}
	y := (row.bar.Min.Y + row.bar.Max.Y) / 2
	if fill, want := countColour(f, y, row.bar.Min.X, row.bar.Max.X, neutral), 0.97*float64(row.bar.Dx()); math.Abs(float64(fill)-want) > 2 {
		t.Errorf("no-hand bar: %d neutral pixels, want %.1f", fill, want)
	}

	// Below the threshold it is a guess like any other: muted, not neutral.
	s.Uncertain, s.Confidence = true, 0.48
	f, l = draw(t, 640, 480, s)
	if n := countInRect(f, l.labelBox, neutral); n != 0 {
		t.Errorf("uncertain no-hand label: %d neutral pixels, want none", n)
	}
	if n := countInRect(f, l.labelBox, rgb(UncertainRGB)); n < 50 {
		t.Errorf("uncertain no-hand label: %d muted pixels, want the label drawn in the muted colour", n)
	}
}

func TestThreeClassesNeverShowNoHand(t *testing.T) {
	for top := range 3 {
		s := rpsState()
		s.Top, s.Probs = top, []float32{0.1, 0.1, 0.1}
		s.Probs[top] = 0.8
		f, l := draw(t, 640, 480, s)
		if n := countInRect(f, l.panel, rgb(NoHandRGB)); n != 0 {
			t.Errorf("%s: %d pixels in the no-hand colour", s.Labels[top], n)
		}
		if n := countInRect(f, l.labelBox, classColor(s.Labels[top], top)); n < 50 {
			t.Errorf("%s: label has %d pixels in its class colour", s.Labels[top], n)
		}
	}
}
