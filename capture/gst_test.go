package capture_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/capture"
)

// TestGStreamerMissingElement: OpenCV waits forever on a pipeline naming an
// element GStreamer lacks; Open must name the element instead of hanging.
func TestGStreamerMissingElement(t *testing.T) {
	if _, err := exec.LookPath("gst-inspect-1.0"); err != nil {
		t.Skip("gst-inspect-1.0 not installed: the element check is off (the open timeout still applies)")
	}
	_, err := capture.Open("videotestsrc ! nosuchelement ! videoconvert ! appsink")
	if !errors.Is(err, capture.ErrSourceUnavailable) {
		t.Fatalf("Open = %v, want an OpenError", err)
	}
	for _, want := range []string{`no element "nosuchelement"`, "gst-inspect-1.0 nosuchelement", "plugins"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// Caps, properties and named references are not mistaken for elements.
	src, err := capture.Open("videotestsrc num-buffers=2 ! video/x-raw,width=32,height=24 ! tee name=t ! queue ! videoconvert ! appsink")
	if err != nil {
		t.Fatalf("valid pipeline: %v", err)
	}
	src.Close()
}
