package train

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress draws a one-line progress bar with rate and ETA, like Keras'
// Progbar: redrawn in place on a terminal, or a line every 10% otherwise
// (logs, CI), so long steps are never silent.
type Progress struct {
	w        io.Writer
	label    string
	total    int
	terminal bool
	start    time.Time
	last     time.Time
	lastTick int // last 10% step printed, for non-terminals
	now      func() time.Time
}

// NewProgress starts a bar for total items. terminal selects in-place redraws.
func NewProgress(w io.Writer, label string, total int, terminal bool) *Progress {
	return newProgressClock(w, label, total, terminal, time.Now)
}

func newProgressClock(w io.Writer, label string, total int, terminal bool, now func() time.Time) *Progress {
	t := now()
	return &Progress{w: w, label: label, total: total, terminal: terminal, start: t, now: now, lastTick: -1}
}

// Update reports done items (0..total).
func (p *Progress) Update(done int) {
	if p.w == nil || p.total <= 0 {
		return
	}
	t := p.now()
	finished := done >= p.total
	if p.terminal {
		if !finished && t.Sub(p.last) < 150*time.Millisecond {
			return
		}
	} else {
		tick := done * 10 / p.total
		if tick == p.lastTick && !finished {
			return
		}
		p.lastTick = tick
	}
	p.last = t
	line := p.Line(done, t.Sub(p.start))
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		if finished {
			fmt.Fprintln(p.w)
		}
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// Line formats the bar for done items after elapsed time.
func (p *Progress) Line(done int, elapsed time.Duration) string {
	const width = 30
	done = min(max(done, 0), p.total)
	filled := done * width / p.total
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(".", width-filled-1)
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	tail := "ETA --"
	switch {
	case done == p.total:
		tail = "took " + fmtDuration(elapsed)
	case rate > 0:
		tail = "ETA " + fmtDuration(time.Duration(float64(p.total-done)/rate*float64(time.Second)))
	}
	return fmt.Sprintf("%s %d/%d [%s] %.1f/s %s", p.label, done, p.total, bar, rate, tail)
}

func fmtDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s < 60 {
		return fmt.Sprintf("%ds", s)
	}
	if s < 3600 {
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, s/60%60)
}
