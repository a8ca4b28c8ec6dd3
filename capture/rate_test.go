package capture

import (
	"testing"
	"time"
)

func arrivals(gaps ...time.Duration) []time.Time {
	t := time.Unix(1000, 0)
	times := []time.Time{t}
	for _, g := range gaps {
		t = t.Add(g)
		times = append(times, t)
	}
	return times
}

func repeat(d time.Duration, n int) []time.Duration {
	gaps := make([]time.Duration, n)
	for i := range gaps {
		gaps[i] = d
	}
	return gaps
}

func TestRateFromArrivals(t *testing.T) {
	ms := time.Millisecond
	jittery := []time.Duration{}
	for i := 0; i < 30; i++ { // 33 and 34 ms alternating: 29.9 fps, snapped to 30
		jittery = append(jittery, 33*ms+time.Duration(i%2)*ms)
	}
	burst := append(repeat(ms, 6), repeat(40*ms, 24)...) // buffered frames back to back, then 25 fps
	cases := []struct {
		name  string
		times []time.Time
		want  float64
	}{
		{"steady 30", arrivals(repeat(time.Second/30, 30)...), 30},
		{"jittery 30", arrivals(jittery...), 30},
		{"burst at connect left out", arrivals(burst...), 25},
		{"12.5 fps is not snapped", arrivals(repeat(80*ms, 12)...), 12.5},
		{"too few intervals", arrivals(repeat(33*ms, 4)...), 0},
		{"one frame", arrivals(), 0},
		{"all at once", arrivals(repeat(0, 10)...), 0},
	}
	for _, c := range cases {
		if got := rateFromArrivals(c.times); got != c.want {
			t.Errorf("%s: rate %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNeedsRateProbe(t *testing.T) {
	cases := []struct {
		spec     Spec
		finite   bool
		reported float64
		want     bool
	}{
		{Spec{Kind: URL, Raw: "http://cam/video.mjpg"}, false, 25, true},
		{Spec{Kind: URL, Raw: "https://host/clip.mp4"}, true, 30, false}, // a file states its rate
		{Spec{Kind: GStreamer, Raw: "souphttpsrc location=http://cam/v is-live=true ! jpegdec ! appsink"}, false, 0, true},
		{Spec{Kind: GStreamer, Raw: "videotestsrc is-live=true ! appsink"}, false, 30, false},
		{Spec{Kind: GStreamer, Raw: "filesrc location=a.mp4 ! decodebin ! appsink"}, false, 0, false},
		{Spec{Kind: Camera, Raw: "0"}, false, 30, false},
		{Spec{Kind: File, Raw: "a.mp4"}, false, 0, false},
	}
	for _, c := range cases {
		if got := needsRateProbe(c.spec, c.finite, c.reported); got != c.want {
			t.Errorf("needsRateProbe(%q, finite %v, %v) = %v, want %v", c.spec.Raw, c.finite, c.reported, got, c.want)
		}
	}
}
