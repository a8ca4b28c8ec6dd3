//go:build matprofile

package serve

import (
	"image"
	"testing"

	"gocv.io/x/gocv"
)

// Run with: go test -tags matprofile -run MatProfile ./serve
// Publishing, streaming and recording (including the rescale path) must
// close every Mat they create.
func TestMatProfileCountReturnsToStart(t *testing.T) {
	start := gocv.MatProfile.Count()
	func() {
		hub, _, ts := newTestServer(t)
		rec, err := NewVideoRecorder(t.TempDir(), 30, withContainer(".avi", "MJPG"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rec.Start(); err != nil {
			t.Fatal(err)
		}
		stream, closeReal := openStream(t, ts.URL+"/stream.mjpg?max_fps=1000")
		defer closeReal()
		for i, size := range []int{120, 240, 120} { // the middle frame is rescaled by the recorder
			m := drawFrame(testLabels[i], uint64(i), size*4/3, size)
			if err := rec.WriteFrame(m); err != nil {
				t.Fatal(err)
			}
			if err := hub.Publish(m, testPrediction(testLabels[i], uint64(i))); err != nil {
				t.Fatal(err)
			}
			m.Close()
			readPart(t, stream)
		}
		if _, n, err := rec.Stop(); err != nil || n != 3 {
			t.Fatalf("Stop = %d, %v", n, err)
		}
	}()
	if end := gocv.MatProfile.Count(); end != start {
		t.Fatalf("open Mats: %d at start, %d at end", start, end)
	}
}

// Samples recorded through the Teach panel leave no Mat open: TeachFrame
// only lends the frame to the teacher.
func TestMatProfileTeachFrame(t *testing.T) {
	start := gocv.MatProfile.Count()
	ft := newFakeTeacher(t, 1, nil)
	_, s, ts := newTestServer(t, WithTeacher(ft))
	teachPost(t, ts.URL, "/api/teach/record", `{"class":"rock","action":"start"}`)
	teachFrames(t, s, "rock", 3, image.Rect(10, 10, 90, 90))
	teachPost(t, ts.URL, "/api/teach/record", `{"class":"rock","action":"stop"}`)
	teachFrames(t, s, "rock", 2, image.Rectangle{})
	if n := ft.Counts()["rock"]; n != 3 {
		t.Fatalf("%d samples, want 3", n)
	}
	if end := gocv.MatProfile.Count(); end != start {
		t.Fatalf("open Mats: %d at start, %d at end", start, end)
	}
}
