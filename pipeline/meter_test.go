package pipeline

import (
	"math"
	"testing"
	"time"
)

// TestMeterFPSIsTheRealRateForBurstyOutput: two workers release frames in
// pairs (1 ms apart, then 19 ms): 100 frames a second. The running FPS the
// overlay shows must say about 100, not the ~500 that averaging the
// instantaneous rates 1000 and 53 gives.
func TestMeterFPSIsTheRealRateForBurstyOutput(t *testing.T) {
	start := time.Unix(1000, 0)
	m := meter{measureAt: start}
	at := start
	for i := range 200 {
		if i == 3 && (m.fps() < 50 || m.fps() > 200) {
			t.Errorf("running FPS %.1f after the first bursts, want about 100", m.fps())
		}
		gap := 19 * time.Millisecond
		if i%2 == 1 {
			gap = time.Millisecond
		}
		at = at.Add(gap)
		m.frame(&job{index: i, readDone: at.Add(-5 * time.Millisecond)}, at)
	}
	if math.Abs(m.fps()-100) > 10 {
		t.Errorf("running FPS %.1f for 100 frames a second in pairs, want about 100", m.fps())
	}
	if st := m.summary(); math.Abs(st.FPS-100) > 1 {
		t.Errorf("summary FPS %.2f, want 100", st.FPS)
	}
}
