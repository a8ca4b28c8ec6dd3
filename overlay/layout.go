package overlay

import (
	"image"
	"math"
	"strconv"
	"strings"

	"gocv.io/x/gocv"
)

// Fonts: Duplex for the one line that must be read from across the room,
// Simplex (thinner) for everything else.
const (
	bigFont   = gocv.FontHersheyDuplex
	smallFont = gocv.FontHersheySimplex
)

// referenceHeight is the frame height the base sizes below are tuned for;
// every length scales with frameHeight/referenceHeight.
const referenceHeight = 480.0

// metrics are the frame-height-dependent sizes. Minimums keep 320x240 (and
// smaller) readable instead of shrinking text to an unreadable smear.
type metrics struct {
	scale                float64
	margin, pad, gap     int
	bigScale             float64
	bigThick             int
	smallScale           float64
	smallThick           int
	bannerScale          float64
	bannerThick          int
	barLen, barH, rowGap int
}

func newMetrics(frameHeight int) metrics {
	s := float64(frameHeight) / referenceHeight
	return metrics{
		scale:       s,
		margin:      atLeast(4, s*12),
		pad:         atLeast(4, s*10),
		gap:         atLeast(3, s*8),
		bigScale:    math.Max(0.55, 1.15*s),
		bigThick:    atLeast(1, 2*s),
		smallScale:  math.Max(0.38, 0.5*s),
		smallThick:  atLeast(1, 1.1*s),
		bannerScale: math.Max(0.45, 0.7*s),
		bannerThick: atLeast(1, 1.5*s),
		barLen:      atLeast(40, 150*s),
		barH:        atLeast(5, 12*s),
		rowGap:      atLeast(2, 6*s),
	}
}

func atLeast(min int, v float64) int {
	if r := int(math.Round(v)); r > min {
		return r
	}
	return min
}

// barRow is where one class's name, bar and percentage go.
type barRow struct {
	nameOrigin image.Point     // baseline-left of the class name
	bar        image.Rectangle // the whole track; the fill starts at bar.Min.X
	pctRight   int             // the percentage is right-aligned to this x
	baseline   int             // baseline y of the percentage text
}

// layout is everything that depends only on the frame size and the label
// set, so the Drawer measures text once per label set, not per frame.
type layout struct {
	w, h int
	m    metrics

	panel       image.Rectangle
	labelOrigin image.Point     // baseline-left of the big label
	labelBox    image.Rectangle // the area the big label can cover
	rows        []barRow        // at most len(labels); fewer if they don't fit
	nameW       int
	statsOrigin image.Point

	recDot      image.Point
	recRadius   int
	recOrigin   image.Point
	recThick    int
	recPanel    image.Rectangle
	banner      image.Rectangle
	bannerBase  int // baseline y of the banner text
	bannerCapH  int
	labelsShown int
}

// textSize measures text as drawn; the returned height is the cap height
// above the baseline and base is the descent below it.
func textSize(text string, font gocv.HersheyFont, scale float64, thick int) (w, h, base int) {
	sz, b := gocv.GetTextSizeWithBaseline(text, font, scale, thick)
	return sz.X, sz.Y, b
}

// bigLabelText is the big label line for one class, given its shown name.
func bigLabelText(label string, pct int, uncertain bool) string {
	t := strings.ToUpper(asciiText(label)) + " " + strconv.Itoa(pct) + "%"
	if uncertain {
		return "? " + t
	}
	return t
}

// noPredictionText is shown in place of the label before any prediction.
const noPredictionText = "no prediction"

// computeLayout lays out a w x h frame for classes shown as names (the
// labels after infer.DisplayLabel: text is measured as it will be drawn).
func computeLayout(w, h int, names []string) layout {
	m := newMetrics(h)
	l := layout{w: w, h: h, m: m}
	x0, y0 := m.margin, m.margin
	innerX := x0 + m.pad

	// Big label: as wide as the widest possible label line, so the panel
	// does not jump in size as the prediction changes.
	bigW, bigH, bigBase := textSize(noPredictionText, bigFont, m.bigScale, m.bigThick)
	for _, lab := range names {
		tw, th, tb := textSize(bigLabelText(lab, 100, true), bigFont, m.bigScale, m.bigThick)
		bigW, bigH, bigBase = max(bigW, tw), max(bigH, th), max(bigBase, tb)
	}
	labelTop := y0 + m.pad
	l.labelOrigin = image.Pt(innerX, labelTop+bigH)
	l.labelBox = image.Rect(innerX, labelTop, innerX+bigW, labelTop+bigH+bigBase)

	_, capH, smallBase := textSize("Ag", smallFont, m.smallScale, m.smallThick)
	nameW := 0
	for _, lab := range names {
		tw, _, _ := textSize(asciiText(lab), smallFont, m.smallScale, m.smallThick)
		nameW = max(nameW, tw)
	}
	l.nameW = nameW
	pctW, _, _ := textSize("100%", smallFont, m.smallScale, m.smallThick)
	statsW, _, _ := textSize("999.9 FPS | infer 999.9 ms", smallFont, m.smallScale, m.smallThick)

	rowH := max(capH+smallBase, m.barH)
	barLen := m.barLen
	contentW := func() int { return nameW + m.gap + barLen + m.gap + pctW }
	if maxContent := w - 2*m.margin - 2*m.pad; contentW() > maxContent {
		barLen -= contentW() - maxContent
	}

	y := l.labelBox.Max.Y + m.gap
	statsH := capH + smallBase
	// Rows that fit above the stats line and the bottom margin; with too
	// many classes the Drawer shows the most probable ones.
	avail := h - m.margin - m.pad - statsH - m.gap - y
	fit := 0
	if avail > 0 {
		fit = (avail + m.rowGap) / (rowH + m.rowGap)
	}
	nRows := min(len(names), fit)
	if barLen < 2*m.barH {
		nRows = 0 // too narrow for bars to mean anything
	}
	barX := innerX + nameW + m.gap
	for i := 0; i < nRows; i++ {
		top := y + i*(rowH+m.rowGap)
		cy := top + rowH/2
		baseline := cy + capH/2
		barTop := cy - m.barH/2
		l.rows = append(l.rows, barRow{
			nameOrigin: image.Pt(innerX, baseline),
			bar:        image.Rect(barX, barTop, barX+barLen, barTop+m.barH),
			pctRight:   barX + barLen + m.gap + pctW,
			baseline:   baseline,
		})
	}
	if nRows > 0 {
		y += nRows*(rowH+m.rowGap) - m.rowGap + m.gap
	}
	l.statsOrigin = image.Pt(innerX, y+capH)
	bottom := y + statsH + m.pad

	width := max(bigW, statsW)
	if nRows > 0 {
		width = max(width, contentW())
	}
	l.panel = image.Rect(x0, y0, innerX+width+m.pad, bottom).Intersect(image.Rect(0, 0, w, h))
	l.labelsShown = nRows

	// Recording indicator, top right: red dot then "REC" on a small panel
	// of its own, level with the top of the main panel.
	l.recThick = m.smallThick + 1
	recW, recCapH, _ := textSize("REC", smallFont, m.smallScale, l.recThick)
	l.recRadius = atLeast(3, 6*m.scale)
	padY := max(2, m.pad/2)
	pillH := max(2*l.recRadius, recCapH) + 2*padY
	cy := m.margin + pillH/2
	right := w - m.margin
	l.recOrigin = image.Pt(right-m.pad-recW, cy+recCapH/2)
	l.recDot = image.Pt(l.recOrigin.X-m.gap-l.recRadius, cy)
	l.recPanel = image.Rect(l.recDot.X-l.recRadius-m.pad, m.margin, right, m.margin+pillH).Intersect(image.Rect(0, 0, w, h))

	// Status banner: a full-width strip along the bottom edge.
	_, bCapH, bBase := textSize("Ag", smallFont, m.bannerScale, m.bannerThick)
	bannerH := bCapH + bBase + 2*m.pad
	l.banner = image.Rect(0, h-bannerH, w, h)
	l.bannerCapH = bCapH
	l.bannerBase = h - m.pad - bBase
	return l
}

// asciiText maps text to what the Hershey fonts can draw: they have ASCII
// only and draw anything else as '?', so the common typographic characters
// get their ASCII spelling first ("reconnecting…" -> "reconnecting...").
func asciiText(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] < 0x20 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '…':
			b.WriteString("...")
		case r == '–' || r == '—':
			b.WriteByte('-')
		case r == '‘' || r == '’':
			b.WriteByte('\'')
		case r == '“' || r == '”':
			b.WriteByte('"')
		case r == '·' || r == '•':
			b.WriteByte('|')
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r < 0x20 || r >= 0x7f:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
