// Package overlay draws a prediction over a video frame: the big label with
// its confidence, one bar per class, FPS and inference time, the region of
// interest, a recording indicator and a status banner.
//
// Sizes scale with the frame height so that the same overlay reads well from
// 320x240 to 1920x1080. Text sits on a semi-transparent dark panel; only the
// panel's pixels are blended, through views and tint Mats the Drawer keeps
// between frames, so a steady stream of same-sized frames allocates no Mat.
package overlay

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strconv"
	"unsafe"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/infer"
)

// State is what one frame's overlay shows.
type State struct {
	Labels     []string  // class names, in the model's output order ("none": no hand)
	Probs      []float32 // one probability per label
	Top        int       // index of the predicted class
	Confidence float32   // shown next to the big label, in [0, 1]
	Uncertain  bool      // the prediction is below the confidence threshold

	FPS     float64 // frames per second of the whole pipeline; 0: not shown
	InferMs float64 // model inference time in milliseconds; 0: not shown

	ROI       image.Rectangle // region the classifier sees; empty: not drawn
	Recording bool            // red dot + "REC" in the top right corner
	Status    string          // e.g. "reconnecting…", "paused"; empty: none
}

// ErrClosed is returned by Draw after Close.
var ErrClosed = errors.New("overlay: drawer is closed")

// Drawer draws States onto frames. It caches the layout for the last frame
// size and label set and keeps scratch Mats between frames, so reuse one
// Drawer per stream. A Drawer is not safe for concurrent use.
type Drawer struct {
	layout     layout
	haveLayout bool
	labels     []string // the label set layout was computed for
	names      []string // labels as shown (infer.DisplayLabel), same order

	panel  blendTarget
	rec    blendTarget
	banner blendTarget
	text   textCache // the label, class names, percentages and REC
	closed bool
}

// NewDrawer returns a Drawer; its scratch Mats are created on the first Draw.
func NewDrawer() *Drawer {
	return &Drawer{}
}

// Close releases the Drawer's scratch Mats. It is idempotent.
func (d *Drawer) Close() error {
	d.panel.close()
	d.rec.close()
	d.banner.close()
	d.closed = true
	return nil
}

// Draw draws s onto img in place. img must be a non-empty 8-bit BGR image.
func (d *Drawer) Draw(img *gocv.Mat, s State) error {
	if d.closed {
		return ErrClosed
	}
	if img == nil || img.Empty() {
		return errors.New("overlay: Draw got an empty image; pass a decoded frame")
	}
	if t := img.Type(); t != gocv.MatTypeCV8UC3 {
		return fmt.Errorf("overlay: Draw needs an 8-bit 3-channel BGR image, got Mat type %v; convert it with gocv.CvtColor first", t)
	}
	if len(s.Probs) != len(s.Labels) {
		return fmt.Errorf("overlay: State has %d labels but %d probabilities; they must pair up", len(s.Labels), len(s.Probs))
	}
	if len(s.Labels) > 0 && (s.Top < 0 || s.Top >= len(s.Labels)) {
		return fmt.Errorf("overlay: State.Top is %d, outside the %d labels", s.Top, len(s.Labels))
	}

	w, h := img.Cols(), img.Rows()
	if !d.haveLayout || d.layout.w != w || d.layout.h != h || !slices.Equal(d.labels, s.Labels) {
		d.labels = append(d.labels[:0], s.Labels...)
		d.names = d.names[:0]
		for _, l := range s.Labels {
			d.names = append(d.names, infer.DisplayLabel(l))
		}
		d.layout = computeLayout(w, h, d.names)
		d.haveLayout = true
	}
	l := &d.layout
	m := l.m

	// The ROI goes first so the panel darkens it where they overlap and the
	// text stays readable.
	if roi := s.ROI.Canon().Intersect(image.Rect(0, 0, w, h)); !roi.Empty() {
		t := atLeast(1, 2*m.scale)
		// Axis-aligned lines gain nothing from anti-aliasing; without it
		// the box is crisp and its pixels are exactly ROIRGB.
		strokeRect(img, roi, t+2, rgb(outlineRGB))
		strokeRect(img, roi, t, rgb(ROIRGB))
	}

	d.panel.blend(img, l.panel, panelRGB, panelOpacity)
	d.drawLabel(img, s)
	d.drawBars(img, s)
	d.drawStats(img, s)

	if s.Recording {
		d.rec.blend(img, l.recPanel, panelRGB, panelOpacity)
		gocv.CircleWithParams(img, l.recDot, l.recRadius, rgb(recordingRGB), -1, gocv.LineAA, 0)
		d.text.draw(img, "REC", l.recOrigin, smallFont, m.smallScale, rgb(textRGB), l.recThick)
	}
	if s.Status != "" {
		d.banner.blend(img, l.banner, panelRGB, panelOpacity)
		d.drawStatus(img, asciiText(s.Status))
	}
	return nil
}

// DrawStatus draws only the status banner onto img, in the same place and
// style Draw uses, over whatever img shows: a window redraws its last
// annotated frame with "reconnecting…" while no new frame comes.
func (d *Drawer) DrawStatus(img *gocv.Mat, status string) error {
	if d.closed {
		return ErrClosed
	}
	if img == nil || img.Empty() || img.Type() != gocv.MatTypeCV8UC3 {
		return errors.New("overlay: DrawStatus needs a non-empty 8-bit BGR image")
	}
	if status == "" {
		return nil
	}
	w, h := img.Cols(), img.Rows()
	if !d.haveLayout || d.layout.w != w || d.layout.h != h {
		d.layout = computeLayout(w, h, d.names)
		d.haveLayout = true
	}
	d.banner.blend(img, d.layout.banner, panelRGB, panelOpacity)
	d.drawStatus(img, asciiText(status))
	return nil
}

func (d *Drawer) drawLabel(img *gocv.Mat, s State) {
	m := d.layout.m
	text, colour := noPredictionText, rgb(UncertainRGB)
	if len(s.Labels) > 0 {
		// The shown name, so the no-hand class reads "NO HAND", in its
		// neutral classColor.
		text = bigLabelText(d.names[s.Top], percent(s.Confidence), s.Uncertain)
		if !s.Uncertain {
			colour = classColor(s.Labels[s.Top], s.Top)
		}
	}
	d.text.draw(img, text, d.layout.labelOrigin, bigFont, m.bigScale, colour, m.bigThick)
}

func (d *Drawer) drawBars(img *gocv.Mat, s State) {
	l := &d.layout
	m := l.m
	shown := rowClasses(s.Probs, len(l.rows))
	for i, row := range l.rows {
		c := shown[i]
		p := clampProb(s.Probs[c])
		nameColour, textThick := rgb(dimTextRGB), m.smallThick
		if c == s.Top {
			nameColour = rgb(textRGB)
		}
		d.text.draw(img, asciiText(d.names[c]), row.nameOrigin, smallFont, m.smallScale, nameColour, textThick)

		// Bars are filled without anti-aliasing: their edges are axis
		// aligned, and exact colours let tests count bar pixels.
		fillRect(img, row.bar, rgb(trackRGB))
		if fill := fillLength(p, row.bar.Dx()); fill > 0 {
			fillRect(img, image.Rect(row.bar.Min.X, row.bar.Min.Y, row.bar.Min.X+fill, row.bar.Max.Y), classColor(s.Labels[c], c))
		}
		pct := strconv.Itoa(percent(p)) + "%"
		pw, _, _ := textSize(pct, smallFont, m.smallScale, textThick)
		d.text.draw(img, pct, image.Pt(row.pctRight-pw, row.baseline), smallFont, m.smallScale, nameColour, textThick)
	}
}

func (d *Drawer) drawStats(img *gocv.Mat, s State) {
	var text string
	if s.FPS > 0 && !math.IsInf(s.FPS, 0) {
		text = strconv.FormatFloat(s.FPS, 'f', 1, 64) + " FPS"
	}
	if s.InferMs > 0 && !math.IsInf(s.InferMs, 0) {
		if text != "" {
			text += " | "
		}
		text += "infer " + strconv.FormatFloat(s.InferMs, 'f', 1, 64) + " ms"
	}
	if text == "" {
		return
	}
	m := d.layout.m
	// Cached like the other texts: callers that refresh the figures a few
	// times a second (pipeline/parts.Annotator) draw the same string for
	// dozens of frames; a string that changes every frame costs one render.
	d.text.draw(img, text, d.layout.statsOrigin, smallFont, m.smallScale, rgb(dimTextRGB), m.smallThick)
}

func (d *Drawer) drawStatus(img *gocv.Mat, text string) {
	l := &d.layout
	m := l.m
	scale := m.bannerScale
	tw, _, _ := textSize(text, smallFont, scale, m.bannerThick)
	// Long messages shrink to fit the frame rather than run off its edges.
	if avail := l.w - 2*m.pad; tw > avail && tw > 0 {
		scale *= float64(avail) / float64(tw)
		tw, _, _ = textSize(text, smallFont, scale, m.bannerThick)
	}
	org := image.Pt((l.w-tw)/2, l.bannerBase)
	gocv.PutTextWithParams(img, text, org, smallFont, scale, rgb(statusRGB), m.bannerThick, gocv.LineAA, false)
}

// fillRect fills exactly the pixels of r (Max exclusive, like image.Rectangle).
// gocv.Rectangle is not usable for this: it anti-aliases and treats the
// rectangle's corners as inclusive, spilling one pixel past Max.
func fillRect(img *gocv.Mat, r image.Rectangle, c color.RGBA) {
	if r.Empty() {
		return
	}
	gocv.RectangleWithParams(img, image.Rect(r.Min.X, r.Min.Y, r.Max.X-1, r.Max.Y-1), c, -1, gocv.Line8, 0)
}

// strokeRect draws the outline of r as gocv.Rectangle does with thickness
// thick and Line8 (it takes Max as an inclusive corner: the lines run along
// the pixel columns Min.X and Max.X and rows Min.Y and Max.Y, and a
// thickness t > 1 covers (t+1)/2 pixels on each side of them), but with
// square corners, by filling four bands: OpenCV's thick lines with round
// joins took 36 µs for the ROI box's two outlines at 640x480, the bands a few.
func strokeRect(img *gocv.Mat, r image.Rectangle, thick int, c color.RGBA) {
	half := 0
	if thick > 1 {
		half = (thick + 1) / 2
	}
	w := 2*half + 1
	outer := image.Rect(r.Min.X-half, r.Min.Y-half, r.Max.X+half+1, r.Max.Y+half+1)
	bounds := image.Rect(0, 0, img.Cols(), img.Rows())
	for _, band := range []image.Rectangle{
		image.Rect(outer.Min.X, outer.Min.Y, outer.Max.X, outer.Min.Y+w),     // top
		image.Rect(outer.Min.X, outer.Max.Y-w, outer.Max.X, outer.Max.Y),     // bottom
		image.Rect(outer.Min.X, outer.Min.Y+w, outer.Min.X+w, outer.Max.Y-w), // left
		image.Rect(outer.Max.X-w, outer.Min.Y+w, outer.Max.X, outer.Max.Y-w), // right
	} {
		fillRect(img, band.Intersect(bounds), c)
	}
}

// rowClasses picks which classes fill the n bar rows: all of them in label
// order when they fit, otherwise the n most probable, still in label order
// so that a class keeps its place while it stays among them.
func rowClasses(probs []float32, n int) []int {
	idx := make([]int, 0, len(probs))
	if n >= len(probs) {
		for i := range probs {
			idx = append(idx, i)
		}
		return idx
	}
	chosen := make([]bool, len(probs))
	for k := 0; k < n; k++ {
		best := -1
		for i, p := range probs {
			if !chosen[i] && (best < 0 || clampProb(p) > clampProb(probs[best])) {
				best = i
			}
		}
		chosen[best] = true
	}
	for i, c := range chosen {
		if c {
			idx = append(idx, i)
		}
	}
	return idx
}

func clampProb(p float32) float32 {
	switch {
	case p != p || p < 0: // NaN or negative
		return 0
	case p > 1:
		return 1
	}
	return p
}

func percent(p float32) int { return int(math.Round(float64(clampProb(p)) * 100)) }

// fillLength is how many pixels of a bar of length n probability p fills.
func fillLength(p float32, n int) int { return int(math.Round(float64(clampProb(p)) * float64(n))) }

// blendTarget darkens one rectangle of the frame towards a tint. It keeps the
// solid tint Mat and a view of the frame's rectangle between frames; the view
// is rebuilt only when the frame's pixel buffer, size or the rectangle
// changes. Reusing a view is safe: it holds a reference to the buffer, so a
// matching buffer address with matching geometry is the same pixels.
type blendTarget struct {
	tint     gocv.Mat
	tintSize image.Point
	tintHex  uint32
	hasTint  bool

	view      gocv.Mat
	hasView   bool
	viewBase  uintptr
	viewRect  image.Rectangle
	viewDims  [3]int // rows, cols, step of the frame
	viewsMade int    // how many views were created; tests check reuse
}

func (b *blendTarget) blend(img *gocv.Mat, r image.Rectangle, hex uint32, opacity float64) {
	// A layout for a frame smaller than its panels (a thumbnail, a 16x16
	// test frame) reaches past the edges; OpenCV aborts the process on a
	// region outside the Mat, so blend only what lies inside.
	r = r.Intersect(image.Rect(0, 0, img.Cols(), img.Rows()))
	if r.Empty() {
		return
	}
	if !b.hasTint || b.tintSize != r.Size() || b.tintHex != hex {
		b.closeTint()
		c := rgb(hex)
		b.tint = gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(c.B), float64(c.G), float64(c.R), 0), r.Dy(), r.Dx(), gocv.MatTypeCV8UC3)
		b.tintSize, b.tintHex, b.hasTint = r.Size(), hex, true
	}
	base, reusable := bufferAddress(img)
	dims := [3]int{img.Rows(), img.Cols(), img.Step()}
	if !reusable || !b.hasView || b.viewBase != base || b.viewRect != r || b.viewDims != dims {
		b.closeView()
		b.view = img.Region(r)
		b.viewsMade++
		b.hasView, b.viewBase, b.viewRect, b.viewDims = true, base, r, dims
	}
	gocv.AddWeighted(b.view, 1-opacity, b.tint, opacity, 0, &b.view)
	if !reusable {
		// Without a stable address there is no way to know the next
		// frame is the same buffer: do not keep the view.
		b.closeView()
	}
}

// bufferAddress is the address of img's first pixel, or false when img's
// pixels are not one continuous block (a view of a bigger Mat).
func bufferAddress(img *gocv.Mat) (uintptr, bool) {
	data, err := img.DataPtrUint8()
	if err != nil || len(data) == 0 {
		return 0, false
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(data))), true
}

func (b *blendTarget) closeView() {
	if b.hasView {
		b.view.Close()
		b.hasView = false
	}
}

func (b *blendTarget) closeTint() {
	if b.hasTint {
		b.tint.Close()
		b.hasTint = false
	}
}

func (b *blendTarget) close() {
	b.closeView()
	b.closeTint()
}
