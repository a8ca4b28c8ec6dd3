package teach

import (
	"strings"
	"testing"

	"github.com/rpscam/rpscam/pipeline"
)

// TestUnfinishedCaptureSaysWhereItStopped: a run that ends before every
// class is recorded names the frames, the samples kept and how to go on.
func TestUnfinishedCaptureSaysWhereItStopped(t *testing.T) {
	dir := t.TempDir()
	c, err := NewCapture(newTestRecorder(t, dir), Plan{Classes: []string{"rock", "none"}, Frames: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	err = c.Unfinished(pipeline.Stats{Frames: 7, Interrupted: true})
	for _, want := range []string{"stopped after 7 frames", "(" + dir + ": rock 0, none 0)", "rpscam teach --from " + dir} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Unfinished = %v, want it to say %q", err, want)
		}
	}
}
