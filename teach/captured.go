package teach

import (
	"fmt"
	"strings"

	"github.com/rpscam/rpscam/pipeline"
)

// Tally is how many samples each planned class holds, e.g. "rock 60,
// paper 60".
func (c *Capture) Tally() string {
	counts := c.rec.samples.Counts()
	have := make([]string, 0, len(c.plan.Classes))
	for _, class := range c.plan.Classes {
		have = append(have, fmt.Sprintf("%s %d", class, counts[class]))
	}
	return strings.Join(have, ", ")
}

// Unfinished is nil once every class was recorded; else, given the run's
// st, an error saying where it stopped and that the samples saved are kept.
func (c *Capture) Unfinished(st pipeline.Stats) error {
	if c.Done() {
		return nil
	}
	why := "the source ended"
	if st.Interrupted || st.Stopped {
		why = "stopped"
	}
	dir := c.rec.samples.Dir()
	return fmt.Errorf("%s after %d frames, before every class was recorded; the samples saved are kept (%s: %s): run again to add more, or train on them with rpscam teach --from %s",
		why, st.Frames, dir, c.Tally(), dir)
}
