package capture_test

import (
	"context"
	"testing"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/capture/capturetest"
)

// TestMJPEGStreamRateIsMeasured: an HTTP MJPEG stream states no rate and
// FFmpeg reports a guessed 25 fps; the source times its first second
// instead, so a 30 fps stream is described (and recorded) at 30.
func TestMJPEGStreamRateIsMeasured(t *testing.T) {
	srv := capturetest.NewMJPEGServer(160, 120, 30)
	defer srv.Close()
	src, err := capture.Open(srv.URL + "/video.mjpg")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer src.Close()
	info := src.Info()
	if info.FPS != 30 || !info.FPSMeasured || info.ReportedFPS == 30 {
		t.Fatalf("info FPS %v (measured %v, reported %v), want 30 measured over a reported guess", info.FPS, info.FPSMeasured, info.ReportedFPS)
	}
	if info.Width != 160 || info.Height != 120 || !info.Live {
		t.Fatalf("info %+v, want a live 160x120 source", info)
	}
	// The newest probe frame is delivered first, and frames keep coming.
	for i := 0; i < 5; i++ {
		f, release, err := src.Read(context.Background())
		if err != nil {
			t.Fatalf("Read %d: %v", i, err)
		}
		if f.Mat.Cols() != 160 {
			t.Fatalf("frame %d is %dx%d", i, f.Mat.Cols(), f.Mat.Rows())
		}
		release()
	}
}
