//go:build matprofile

package capture_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/capture/capturetest"
)

// checkNoMatLeak runs fn and fails if it leaves Mats open. Only meaningful
// under the matprofile build tag, where gocv counts live Mats.
func checkNoMatLeak(t *testing.T, name string, fn func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		before := gocv.MatProfile.Count()
		fn(t)
		if after := gocv.MatProfile.Count(); after != before {
			t.Errorf("open Mats: %d before, %d after: %d leaked", before, after, after-before)
		}
	})
}

func TestMatProfileNoLeaks(t *testing.T) {
	dir := t.TempDir()
	clip := writeClip(t, dir, "clip.avi", "MJPG", 30, 320, 240)

	checkNoMatLeak(t, "file read to EOF", func(t *testing.T) {
		src, err := capture.Open(clip)
		if err != nil {
			t.Fatal(err)
		}
		seqs, _, err := readAll(t, src, 0)
		if len(seqs) != 30 || !errors.Is(err, io.EOF) {
			t.Errorf("read %d, %v", len(seqs), err)
		}
		src.Close()
	})
	checkNoMatLeak(t, "file closed early, frame held across Close", func(t *testing.T) {
		src, err := capture.Open(clip)
		if err != nil {
			t.Fatal(err)
		}
		_, release, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		src.Close()
		release()
	})
	checkNoMatLeak(t, "realtime file", func(t *testing.T) {
		src, err := capture.Open(clip, capture.WithRealtime(true))
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, src, 50*time.Millisecond)
		src.Close()
	})
	checkNoMatLeak(t, "gstreamer live, closed mid-stream", func(t *testing.T) {
		src, err := capture.Open("videotestsrc ! video/x-raw,width=160,height=120 ! videoconvert ! appsink")
		if err != nil {
			t.Skipf("no GStreamer backend: %v", err)
		}
		for i := 0; i < 10; i++ {
			_, release, err := src.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			release()
		}
		src.Close()
	})
	checkNoMatLeak(t, "grey pipeline converted to BGR", func(t *testing.T) {
		src, err := capture.Open("videotestsrc num-buffers=5 ! video/x-raw,format=GRAY8,width=64,height=48 ! appsink")
		if err != nil {
			t.Skipf("no GStreamer backend: %v", err)
		}
		seqs, _, _ := readAll(t, src, 0) // readAll checks every frame is 8UC3
		if len(seqs) == 0 {
			t.Error("no frames")
		}
		src.Close()
	})
	checkNoMatLeak(t, "fake live", func(t *testing.T) {
		src := capturetest.NewFakeLive(64, 48, 500, nil)
		held := make([]func(), 0, 5)
		for i := 0; i < 5; i++ { // hold several frames at once: the pool grows
			_, release, err := src.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, release)
		}
		for _, r := range held {
			r()
		}
		src.Close()
	})
	checkNoMatLeak(t, "fake, unopenable and corrupt sources", func(t *testing.T) {
		src := capturetest.NewFake(16, 16, 3, nil)
		readAll(t, src, 0)
		src.Close()
		capture.Open("filesrc location=/nonexistent ! decodebin ! videoconvert ! appsink")
		bad := filepath.Join(dir, "bad.avi")
		os.WriteFile(bad, []byte("RIFF not really"), 0o644)
		capture.Open(bad)
	})
	checkNoMatLeak(t, "images", func(t *testing.T) {
		frame := gocv.NewMatWithSize(8, 8, gocv.MatTypeCV8UC3)
		png := filepath.Join(dir, "x.png")
		gocv.IMWrite(png, frame)
		frame.Close()
		m, err := capture.ReadImage(png)
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		os.WriteFile(filepath.Join(dir, "bad.png"), []byte("nope"), 0o644)
		if _, err := capture.ReadImage(filepath.Join(dir, "bad.png")); err == nil {
			t.Error("bad png decoded")
		}
	})
}
