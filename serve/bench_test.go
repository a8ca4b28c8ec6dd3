package serve

import (
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkPublish640x480 is the per-frame cost the pipeline pays for
// serving: one JPEG encode of a camera-sized annotated frame.
func BenchmarkPublish640x480(b *testing.B) {
	h := newTestHub(b)
	m := drawFrame("paper", 1, 640, 480)
	defer m.Close()
	p := testPrediction("paper", 1)
	b.ResetTimer()
	for b.Loop() {
		if err := h.Publish(m, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(h.Latest().JPEG)), "jpeg-bytes")
}

// FuzzRateInterval: any max_fps/max_rate value is either refused or gives a
// positive interval no longer than 1000 s, never a panic or a busy loop.
func FuzzRateInterval(f *testing.F) {
	for _, s := range []string{"", "10", "0.5", "-1", "0", "NaN", "Inf", "1e-300", "1000", "1001", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/api/events", nil)
		q := r.URL.Query()
		q.Set("max_rate", v)
		r.URL.RawQuery = q.Encode()
		d, err := rateInterval(r, "max_rate")
		if err != nil {
			return
		}
		if v == "" {
			if d != 0 {
				t.Fatalf("empty value gave interval %v", d)
			}
			return
		}
		if d < time.Millisecond || d > 1000*time.Second {
			t.Fatalf("max_rate=%q gave interval %v", v, d)
		}
	})
}
