package serve

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

func TestPublishEncodesTheFrameOnceAsJPEG(t *testing.T) {
	h := newTestHub(t)
	if h.Latest() != nil {
		t.Fatal("Latest before any publication is not nil")
	}
	// Solid BGR (0, 0, 255) is pure red in RGB.
	red := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 255, 0), 48, 64, gocv.MatTypeCV8UC3)
	defer red.Close()
	p := testPrediction("rock", 7)
	p.Labels = slices.Clone(testLabels)
	if err := h.Publish(red, p); err != nil {
		t.Fatal(err)
	}
	p.Probs[0], p.Labels[0] = 0.5, "reused"
	f := h.Latest()
	if f.Prediction.Probs[0] != 0.9 || f.Prediction.Labels[0] != "rock" {
		t.Fatalf("published prediction follows the caller's slices: %v %v", f.Prediction.Labels, f.Prediction.Probs)
	}
	if f == nil || f.Seq != 1 || f.Width != 64 || f.Height != 48 || f.Prediction.Seq != 7 {
		t.Fatalf("Latest = %+v, want seq 1, 64x48, prediction seq 7", f)
	}
	img := decodeJPEG(t, f.JPEG)
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
		t.Fatalf("decoded size %v, want 64x48", b)
	}
	r, g, b, _ := img.At(32, 24).RGBA()
	if r>>8 < 240 || g>>8 > 15 || b>>8 > 15 {
		t.Fatalf("centre pixel RGB = %d,%d,%d, want about 255,0,0", r>>8, g>>8, b>>8)
	}
	// The caller may reuse its Mat and slices: the published frame must not change.
	before := string(f.JPEG)
	red.SetTo(gocv.NewScalar(255, 0, 0, 0))
	if string(h.Latest().JPEG) != before {
		t.Fatal("published JPEG changed after the caller modified its Mat")
	}
}

func TestPublishRejectsBadInput(t *testing.T) {
	h := newTestHub(t)
	empty := gocv.NewMat()
	defer empty.Close()
	float := gocv.NewMatWithSize(4, 4, gocv.MatTypeCV32FC3)
	defer float.Close()
	ok := gocv.NewMatWithSize(4, 4, gocv.MatTypeCV8UC3)
	defer ok.Close()
	nan := testPrediction("rock", 1)
	nan.Probs = []float32{float32(math.NaN()), 0, 0}
	short := testPrediction("rock", 1)
	short.Probs = short.Probs[:2]
	cases := []struct {
		name string
		m    gocv.Mat
		p    Prediction
		want string
	}{
		{"empty", empty, testPrediction("rock", 1), "empty frame"},
		{"float", float, testPrediction("rock", 1), "8-bit BGR"},
		{"nan", ok, nan, "non-finite"},
		{"mismatch", ok, short, "3 labels but 2 probabilities"},
	}
	for _, c := range cases {
		err := h.Publish(c.m, c.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Publish error = %v, want one containing %q", c.name, err, c.want)
		}
	}
	if h.Latest() != nil {
		t.Fatal("a rejected frame was published")
	}
}

func TestNewHubRejectsBadQuality(t *testing.T) {
	for _, q := range []int{0, 101} {
		if _, err := NewHub(WithJPEGQuality(q)); err == nil {
			t.Errorf("WithJPEGQuality(%d) accepted", q)
		}
	}
	// Quality must change the encoding: a busy frame shrinks at low quality.
	sizes := map[int]int{}
	for _, q := range []int{20, 95} {
		h := newTestHub(t, WithJPEGQuality(q))
		m := gocv.NewMatWithSize(120, 160, gocv.MatTypeCV8UC3)
		gocv.RandU(&m, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(255, 255, 255, 0))
		if err := h.Publish(m, Prediction{}); err != nil {
			t.Fatal(err)
		}
		m.Close()
		sizes[q] = len(h.Latest().JPEG)
	}
	if sizes[20] >= sizes[95] {
		t.Fatalf("JPEG sizes by quality %v: quality 20 should be smaller than 95", sizes)
	}
}

func TestNextWaitsAndSkipsToTheNewestFrame(t *testing.T) {
	h := newTestHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got := make(chan *Frame, 1)
	go func() {
		f, err := h.Next(ctx, 0)
		if err != nil {
			t.Error(err)
		}
		got <- f
	}()
	publish(t, h, "rock", 1)
	if f := <-got; f == nil || f.Seq != 1 {
		t.Fatalf("Next(0) = %+v, want seq 1", f)
	}
	// A viewer that fell behind gets the newest frame, not the ones it missed.
	publish(t, h, "paper", 2)
	publish(t, h, "scissors", 3)
	f, err := h.Next(ctx, 1)
	if err != nil || f.Seq != 3 || f.Prediction.Label != "scissors" {
		t.Fatalf("Next(1) = %+v, %v; want seq 3 scissors", f, err)
	}
	// Up to date: Next waits until ctx ends.
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	if _, err := h.Next(short, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next(3) with no newer frame = %v, want deadline exceeded", err)
	}
	h.Close()
	if _, err := h.Next(ctx, 3); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("Next after Close = %v, want ErrHubClosed", err)
	}
	m := drawFrame("rock", 4, 32, 32)
	defer m.Close()
	if err := h.Publish(m, testPrediction("rock", 4)); !errors.Is(err, ErrHubClosed) {
		t.Fatalf("Publish after Close = %v, want ErrHubClosed", err)
	}
	if h.Latest().Seq != 3 {
		t.Fatal("Latest after Close lost the last frame")
	}
}

func TestStatusIsClearedByAFrame(t *testing.T) {
	h := newTestHub(t)
	h.SetStatus("reconnecting")
	if h.Status() != "reconnecting" {
		t.Fatalf("Status = %q", h.Status())
	}
	publish(t, h, "rock", 1)
	if h.Status() != "" {
		t.Fatalf("Status after a frame = %q, want empty", h.Status())
	}
}

func TestHubMeasuresFPSWhenThePipelineDoesNot(t *testing.T) {
	clock := newFakeClock()
	h := newTestHub(t)
	h.now = clock.now
	m := drawFrame("rock", 0, 32, 32)
	defer m.Close()
	p := testPrediction("rock", 0)
	p.FPS = 0
	for i := 0; i < 11; i++ {
		if err := h.Publish(m, p); err != nil {
			t.Fatal(err)
		}
		clock.advance(100 * time.Millisecond)
	}
	if fps := h.Latest().FPS; math.Abs(fps-10) > 1e-9 {
		t.Fatalf("measured FPS = %v, want 10 (a frame every 100 ms)", fps)
	}
	p.FPS = 24.5
	if err := h.Publish(m, p); err != nil {
		t.Fatal(err)
	}
	if fps := h.Latest().FPS; fps != 24.5 {
		t.Fatalf("FPS = %v, want the pipeline's 24.5", fps)
	}
}

func TestRateMeterForgetsOldEvents(t *testing.T) {
	var m rateMeter
	t0 := time.Unix(0, 0)
	for i := 0; i < 5; i++ {
		m.add(t0.Add(time.Duration(i) * 10 * time.Millisecond))
	}
	// After a 10 s pause only the new events count: two events 500 ms apart.
	m.add(t0.Add(10 * time.Second))
	if got := m.add(t0.Add(10*time.Second + 500*time.Millisecond)); got != 2 {
		t.Fatalf("rate = %v, want 2", got)
	}
	var same rateMeter
	same.add(t0)
	if got := same.add(t0); got != 0 {
		t.Fatalf("rate of simultaneous events = %v, want 0", got)
	}
}
