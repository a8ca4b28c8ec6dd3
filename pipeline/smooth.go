package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rpscam/rpscam/internal/nn"
)

// Smoother steadies per-frame class probabilities over time (EMA, majority
// vote), so the decision does not flicker between classes on a borderline
// hand.
type Smoother interface {
	// Update takes one frame's probabilities and returns the smoothed ones in
	// the Smoother's own buffer, valid until the next Update (the pipeline
	// copies them at once). A change in the number of classes starts over.
	Update(probs []float32) []float32
	// Reset forgets the history, e.g. when the hand leaves the frame.
	Reset()
}

// ParseSmoothing reads "off", "ema:ALPHA" (0 < ALPHA <= 1; the weight of the
// newest frame) or "majority:N" (vote over the last N frames, N >= 1).
func ParseSmoothing(s string) (Smoother, error) {
	bad := func(why string) (Smoother, error) {
		return nil, fmt.Errorf("smoothing %q: %s; want off, ema:ALPHA with 0<ALPHA<=1 (e.g. ema:0.5), or majority:N with N>=1 (e.g. majority:5)", s, why)
	}
	kind, arg, hasArg := strings.Cut(strings.TrimSpace(s), ":")
	switch strings.ToLower(kind) {
	case "off", "none":
		if hasArg {
			return bad("off takes no argument")
		}
		return passthrough{}, nil
	case "ema":
		a, err := strconv.ParseFloat(arg, 32)
		if err != nil || !(a > 0 && a <= 1) {
			return bad(fmt.Sprintf("alpha %q is not in (0, 1]", arg))
		}
		return NewEMA(float32(a)), nil
	case "majority":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > 1000 {
			return bad(fmt.Sprintf("window %q is not an integer in 1..1000", arg))
		}
		return newMajority(n), nil
	}
	return bad("unknown method")
}

type passthrough struct{}

func (passthrough) Update(p []float32) []float32 { return p }
func (passthrough) Reset()                       {}

// ema is an exponential moving average of the probabilities.
type ema struct {
	alpha float32
	avg   []float32
	warm  bool
}

// NewEMA averages probabilities exponentially: avg = alpha*probs +
// (1-alpha)*avg, starting from the first frame. alpha outside (0, 1] (or NaN)
// is taken as 1, no smoothing; ParseSmoothing rejects such values for users.
func NewEMA(alpha float32) Smoother {
	if !(alpha > 0 && alpha <= 1) || math.IsNaN(float64(alpha)) {
		alpha = 1
	}
	return &ema{alpha: alpha}
}

func (e *ema) Update(p []float32) []float32 {
	if len(e.avg) != len(p) {
		e.avg = make([]float32, len(p))
		e.warm = false
	}
	if !e.warm {
		copy(e.avg, p)
		e.warm = true
		return e.avg
	}
	for i, x := range p {
		e.avg[i] = e.alpha*x + (1-e.alpha)*e.avg[i]
	}
	return e.avg
}

func (e *ema) Reset() { e.warm = false }

// majority votes over the top class of the last window frames.
type majority struct {
	window int
	votes  []int // ring buffer of top classes
	next   int
	filled int
	out    []float32
}

// newMajority votes over the top class of the last window frames. Update
// returns vote shares (votes for class / frames seen, up to window), so the
// top entry is the majority class and its value how unanimous the window is;
// a tie goes to the class voted for most recently. window < 1 is taken as 1.
func newMajority(window int) Smoother {
	window = max(window, 1)
	return &majority{window: window, votes: make([]int, window)}
}

func (m *majority) Update(p []float32) []float32 {
	if len(m.out) != len(p) {
		m.out = make([]float32, len(p))
		m.filled, m.next = 0, 0
	}
	top := nn.ArgmaxSkipNaN(p)
	if top < 0 {
		// No usable class this frame (all NaN): report the current shares.
		return m.shares(-1)
	}
	m.votes[m.next] = top
	m.next = (m.next + 1) % m.window
	m.filled = min(m.filled+1, m.window)
	return m.shares(top)
}

// shares fills m.out with vote shares. Among classes tied for the most
// votes, all but latest are nudged down by one float32 step: too little to
// reorder untied classes, enough for Decide to pick the latest.
func (m *majority) shares(latest int) []float32 {
	clear(m.out)
	if m.filled == 0 {
		return m.out
	}
	for i := 0; i < m.filled; i++ {
		m.out[m.votes[i]]++ // exact: small whole numbers
	}
	best := float32(0)
	for _, v := range m.out {
		best = max(best, v)
	}
	tiedLatest := latest >= 0 && m.out[latest] == best
	n := float32(m.filled)
	for i, v := range m.out {
		m.out[i] = v / n
		if tiedLatest && i != latest && v == best {
			m.out[i] = math.Nextafter32(m.out[i], 0)
		}
	}
	return m.out
}

func (m *majority) Reset() { m.filled, m.next = 0, 0 }

// Decision is what the frame is judged to show.
type Decision struct {
	Top        int    // index of the most probable class
	Label      string // its label
	Confidence float32
	// Uncertain is true when Confidence is below the threshold: show the
	// label as uncertain rather than as a verdict.
	Uncertain bool
}

// Decide picks the most probable class and compares its probability with
// threshold. labels may be shorter than probs (the label is then "class N").
func Decide(probs []float32, labels []string, threshold float32) Decision {
	if len(probs) == 0 {
		return Decision{Top: -1, Uncertain: true}
	}
	top := nn.Argmax(probs)
	label := fmt.Sprintf("class %d", top)
	if top < len(labels) {
		label = labels[top]
	}
	return Decision{Top: top, Label: label, Confidence: probs[top], Uncertain: probs[top] < threshold}
}
