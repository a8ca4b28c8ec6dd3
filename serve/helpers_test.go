package serve

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

var testLabels = []string{"rock", "paper", "scissors"}

// labelBGR is a distinct solid colour per label, so a decoded JPEG shows which
// label's frame it is.
var labelBGR = map[string]gocv.Scalar{
	"rock":     gocv.NewScalar(60, 90, 200, 0),  // reddish
	"paper":    gocv.NewScalar(200, 150, 60, 0), // bluish
	"scissors": gocv.NewScalar(180, 80, 150, 0), // purple
}

// drawFrame paints a synthetic annotated frame the way the pipeline would: a
// backdrop, a stand-in hand making the gesture, and the label banner in the
// label's colour (so a decoded frame shows which label it carries).
func drawFrame(label string, seq uint64, w, h int) gocv.Mat {
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(52, 44, 38, 0), h, w, gocv.MatTypeCV8UC3)
	c := labelBGR[label]
	col := color.RGBA{uint8(c.Val3), uint8(c.Val2), uint8(c.Val1), 255}
	skin := color.RGBA{226, 180, 150, 255}
	u := h / 24 // layout unit
	cx, cy := w/2, h*5/8
	// Palm.
	gocv.Circle(&m, image.Pt(cx, cy), 4*u, skin, -1)
	finger := func(angleDeg float64, length int) {
		a := angleDeg * math.Pi / 180
		end := image.Pt(cx+int(float64(length)*math.Sin(a)), cy-int(float64(length)*math.Cos(a)))
		gocv.Line(&m, image.Pt(cx, cy), end, skin, 2*u)
	}
	switch label {
	case "rock": // knuckles of a closed fist
		for i := -3; i <= 3; i += 2 {
			gocv.Circle(&m, image.Pt(cx+i*u*6/5, cy-4*u), u*3/2, skin, -1)
		}
		finger(-80, 5*u)
	case "paper": // five spread fingers
		for _, a := range []float64{-34, -14, 3, 20} {
			finger(a, 10*u)
		}
		finger(-75, 7*u)
	case "scissors": // index and middle finger in a V
		finger(-16, 10*u)
		finger(16, 10*u)
		gocv.Circle(&m, image.Pt(cx+3*u, cy-3*u), u*3/2, skin, -1)
	}
	// Detection-style box around the hand, and the banner.
	gocv.Rectangle(&m, image.Rect(cx-8*u, cy-12*u, cx+8*u, cy+5*u), col, max(2, u/4))
	gocv.Rectangle(&m, image.Rect(0, 0, w, h/8), col, -1)
	scale := float64(h) / 480
	white := color.RGBA{255, 255, 255, 255}
	gocv.PutText(&m, label+" 90%", image.Pt(w/40, h/11), gocv.FontHersheyDuplex, 1.3*scale, white, max(1, int(2*scale)))
	gocv.PutText(&m, "#"+itoa(seq), image.Pt(w-w/6, h/11), gocv.FontHersheySimplex, 0.8*scale, white, max(1, int(1.5*scale)))
	return m
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// testPrediction is a confident prediction of label.
func testPrediction(label string, seq uint64) Prediction {
	probs := make([]float32, len(testLabels))
	for i, l := range testLabels {
		if l == label {
			probs[i] = 0.9
		} else {
			probs[i] = 0.05
		}
	}
	return Prediction{
		Labels: testLabels, Probs: probs, Label: label, Confidence: 0.9, Seq: seq,
		CaptureTime: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		Latency:     25 * time.Millisecond, InferMs: 7.5, FPS: 30,
	}
}

// publish publishes one synthetic frame of label.
func publish(t testing.TB, h *Hub, label string, seq uint64) {
	t.Helper()
	m := drawFrame(label, seq, 320, 240)
	defer m.Close()
	if err := h.Publish(m, testPrediction(label, seq)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// fakeClock is a settable clock for health and rate tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// decodeJPEG decodes b or fails the test.
func decodeJPEG(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a valid JPEG (%d bytes): %v", len(b), err)
	}
	return img
}

// newTestHub returns a hub or fails the test.
func newTestHub(t testing.TB, opts ...HubOption) *Hub {
	t.Helper()
	h, err := NewHub(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
