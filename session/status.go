package session

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/term"
	"github.com/rpscam/rpscam/pipeline"
)

// Progress is a sink that prints a status line about once a second,
// rewriting it in place on a terminal; into a log or pipe it writes a whole
// line every 5 seconds, so the log stays readable.
type Progress struct {
	w    io.Writer
	last time.Time
	verb string
}

// NewProgress prints to w, each line starting with verb.
func NewProgress(w io.Writer, verb string) *Progress { return &Progress{w: w, verb: verb} }

func (p *Progress) Consume(a *pipeline.Annotated) error {
	terminal := term.IsTerminal(p.w)
	interval := 5 * time.Second
	if terminal {
		interval = time.Second
	}
	if now := time.Now(); now.Sub(p.last) >= interval {
		p.last = now
		line := fmt.Sprintf("%s %d frames, %.1f fps, %s %.0f%%", p.verb, a.Index+1, a.FPS, infer.DisplayLabel(a.Decision.Label), 100*a.Decision.Confidence)
		if terminal {
			fmt.Fprintf(p.w, "\r%s   ", line)
		} else {
			fmt.Fprintln(p.w, line)
		}
	}
	return nil
}

// LabelCounts is a sink that tallies the decisions, for a summary.
type LabelCounts struct {
	n         map[int]int
	uncertain int
	total     int
}

func (c *LabelCounts) Consume(a *pipeline.Annotated) error {
	if c.n == nil {
		c.n = map[int]int{}
	}
	c.total++
	if a.Decision.Uncertain {
		c.uncertain++
		return nil
	}
	c.n[a.Decision.Top]++
	return nil
}

// String is the tally, e.g. "rock 4, paper 0, scissors 0, no hand 8,
// uncertain 0", or "none" when no frame was decided.
func (c *LabelCounts) String(labels []string) string {
	if c.total == 0 {
		return "none"
	}
	var parts []string
	for i, l := range labels {
		parts = append(parts, fmt.Sprintf("%s %d", infer.DisplayLabel(l), c.n[i]))
	}
	parts = append(parts, fmt.Sprintf("uncertain %d", c.uncertain))
	return strings.Join(parts, ", ")
}
