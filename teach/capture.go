package teach

import (
	"errors"
	"fmt"
	"image"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/overlay"
	"github.com/rpscam/rpscam/pipeline"
)

// Plan is a guided capture: each class in turn, a countdown for the user to
// get the gesture ready, then Frames consecutive frames saved.
type Plan struct {
	Classes   []string
	Frames    int
	Countdown time.Duration
}

// Capture is a pipeline sink that records a Plan: it saves the frames as
// captured (RawFrame, before the overlay), draws the prompt on the annotated
// frame for a window (Consume) and ends the run once every class is
// recorded. prompt, if set, gets each new prompt line for the terminal.
type Capture struct {
	rec    *Recorder
	plan   Plan
	prompt func(string)
	now    func() time.Time

	class     int       // index into plan.Classes of the class being recorded
	countEnds time.Time // when its countdown ends; zero until it starts
	saved     int       // frames saved of the class
	line      string    // the prompt shown now
	err       error

	banner *overlay.Drawer // draws the prompt; its scratch Mats live until Close
}

// NewCapture checks plan against rec's store.
func NewCapture(rec *Recorder, plan Plan, prompt func(string)) (*Capture, error) {
	if len(plan.Classes) == 0 {
		return nil, errors.New("teach: nothing to capture: name the classes")
	}
	for _, c := range plan.Classes {
		if err := rec.samples.known(c); err != nil {
			return nil, err
		}
	}
	if plan.Frames < 1 {
		return nil, fmt.Errorf("teach: %d frames per class: want 1 or more (e.g. 60)", plan.Frames)
	}
	if plan.Countdown < 0 {
		return nil, fmt.Errorf("teach: countdown %v: want 0 or more", plan.Countdown)
	}
	return &Capture{rec: rec, plan: plan, prompt: prompt, now: time.Now, banner: overlay.NewDrawer()}, nil
}

// Done reports whether every class is recorded.
func (c *Capture) Done() bool { return c.class >= len(c.plan.Classes) }

// Err is the save error that ended the capture, if any.
func (c *Capture) Err() error { return c.err }

// Prompt is the line shown now.
func (c *Capture) Prompt() string { return c.line }

// RawFrame saves the frame when the class's countdown is over.
func (c *Capture) RawFrame(frame gocv.Mat, roi image.Rectangle) {
	if c.Done() || c.err != nil {
		return
	}
	class := strings.ToUpper(c.plan.Classes[c.class])
	now := c.now()
	if c.countEnds.IsZero() {
		c.countEnds = now.Add(c.plan.Countdown)
	}
	if left := c.countEnds.Sub(now); left > 0 {
		c.say(fmt.Sprintf("show %s: %d, recording %d frames", showName(class), int((left+time.Second-1)/time.Second), c.plan.Frames))
		return
	}
	if c.saved == 0 {
		c.say(fmt.Sprintf("recording %s: %d frames", showName(class), c.plan.Frames))
	}
	if _, err := c.rec.Add(c.plan.Classes[c.class], frame, roi); err != nil {
		c.err = err
		return
	}
	c.saved++
	c.line = fmt.Sprintf("recording %s: %d/%d", showName(class), c.saved, c.plan.Frames)
	if c.saved == c.plan.Frames {
		c.say(fmt.Sprintf("%s: %d frames saved", showName(class), c.saved))
		c.class++
		c.saved = 0
		c.countEnds = time.Time{}
	}
}

// showName is how a class is named in prompts: none is the empty box.
func showName(upper string) string {
	if upper == "NONE" {
		return "NO HAND (the empty box)"
	}
	return upper
}

func (c *Capture) say(line string) {
	if line == c.line {
		return
	}
	c.line = line
	if c.prompt != nil {
		c.prompt(line)
	}
}

// Consume draws the prompt on the annotated frame and ends the run when the
// capture is complete (pipeline.ErrStop) or a sample could not be saved.
func (c *Capture) Consume(a *pipeline.Annotated) error {
	if c.line != "" {
		if err := c.banner.DrawStatus(&a.Mat, c.line); err != nil {
			return err
		}
	}
	if c.err != nil {
		return c.err
	}
	if c.Done() {
		return pipeline.ErrStop
	}
	return nil
}

// Close releases the prompt's drawing buffers; call it after the run.
func (c *Capture) Close() { c.banner.Close() }
