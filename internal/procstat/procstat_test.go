package procstat

import (
	"runtime"
	"testing"
	"time"
)

// burn keeps one core busy for about d.
func burn(d time.Duration) uint64 {
	var x uint64 = 1
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

func TestCPUPercentSeesBusyLoop(t *testing.T) {
	from, err := Now()
	if err != nil {
		t.Fatal(err)
	}
	sink := burn(200 * time.Millisecond)
	to, err := Now()
	if err != nil {
		t.Fatal(err)
	}
	_ = sink
	cpu := to.CPU() - from.CPU()
	// A busy loop on a shared 2-core machine may be descheduled, but it must
	// have been charged a good part of its 200 ms, and never more than all
	// cores for the whole interval.
	if cpu < 20*time.Millisecond {
		t.Fatalf("CPU time over a 200 ms busy loop = %v, want at least 20ms", cpu)
	}
	p := CPUPercent(from, to)
	if p <= 10 || p > 100*float64(runtime.NumCPU())+5 {
		t.Fatalf("CPUPercent = %.1f, want in (10, %d]", p, 100*runtime.NumCPU())
	}
}

func TestCPUPercentZeroInterval(t *testing.T) {
	s := Sample{Wall: time.Unix(10, 0), User: time.Second}
	if got := CPUPercent(s, s); got != 0 {
		t.Fatalf("CPUPercent over no wall time = %v, want 0", got)
	}
	later := Sample{Wall: time.Unix(12, 0), User: 2 * time.Second, Sys: time.Second}
	if got := CPUPercent(s, later); got != 100 {
		t.Fatalf("CPUPercent = %v, want 100 (2 s CPU over 2 s wall)", got)
	}
}

func TestPeakRSSGrowsWithTouchedMemory(t *testing.T) {
	// Current first: the peak read after it can only be at least as high.
	cur, err := RSS()
	if err != nil {
		t.Fatal(err)
	}
	before, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	if before <= 0 || cur <= 0 || cur > before {
		t.Fatalf("RSS %d, peak %d: want 0 < RSS <= peak", cur, before)
	}
	// Touch 64 MiB beyond the current peak: the high-water mark must rise by
	// most of it.
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	after, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(buf)
	if after-before < 32<<20 && after < cur+32<<20 {
		t.Fatalf("peak RSS %d -> %d after touching 64 MiB, want a rise", before, after)
	}
}

func TestDescribeMachine(t *testing.T) {
	m := DescribeMachine()
	if m.OS != runtime.GOOS || m.Arch != runtime.GOARCH || m.LogicalCPUs != runtime.NumCPU() {
		t.Fatalf("machine %+v", m)
	}
	if runtime.GOOS == "linux" && (m.CPUModel == "" || m.MemTotalMB <= 0) {
		t.Fatalf("machine on Linux lacks CPU model or memory: %+v", m)
	}
}
