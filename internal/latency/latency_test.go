package latency

import (
	"testing"
	"time"
)

func TestSummaryNearestRank(t *testing.T) {
	var s Samples
	// 1..100 ms in a scrambled order: the summary must not depend on order.
	for i := 0; i < 100; i++ {
		s.Add(time.Duration((i*37)%100+1) * time.Millisecond)
	}
	got := s.Summary()
	want := Summary{
		Count: 100,
		Min:   1 * time.Millisecond,
		Mean:  50500 * time.Microsecond,
		P50:   50 * time.Millisecond,
		P90:   90 * time.Millisecond,
		P99:   99 * time.Millisecond,
		Max:   100 * time.Millisecond,
	}
	if got != want {
		t.Fatalf("summary = %+v, want %+v", got, want)
	}
}

func TestPercentileSmallSets(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	cases := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond},
		{ms(1, 2), 51, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 90, 4 * time.Millisecond},
		{ms(1, 2, 3, 4), 0, 1 * time.Millisecond},
	}
	for _, c := range cases {
		if got := percentile(c.sorted, c.p); got != c.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", c.sorted, c.p, got, c.want)
		}
	}
}

func TestSummaryLeavesSamplesInOrder(t *testing.T) {
	var s Samples
	s.Add(3 * time.Millisecond)
	s.Add(1 * time.Millisecond)
	_ = s.Summary()
	if s.d[0] != 3*time.Millisecond {
		t.Fatalf("Summary reordered the samples: %v", s.d)
	}
	s.Reset()
	if s.Len() != 0 || s.Summary() != (Summary{}) {
		t.Fatalf("after Reset: len %d summary %+v", s.Len(), s.Summary())
	}
}

func TestMillis(t *testing.T) {
	if got := Millis(1500 * time.Microsecond); got != 1.5 {
		t.Fatalf("Millis = %v, want 1.5", got)
	}
}
