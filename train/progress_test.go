package train

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLineShowsRateAndETA(t *testing.T) {
	p := NewProgress(nil, "features", 100, false)
	got := p.Line(25, 10*time.Second)
	want := "features 25/100 [=======>......................] 2.5/s ETA 30s"
	if got != want {
		t.Errorf("Line = %q\n want %q", got, want)
	}
	if got := p.Line(100, 90*time.Second); !strings.HasSuffix(got, "took 1m30s") || !strings.Contains(got, "[==============================]") {
		t.Errorf("finished line %q", got)
	}
}

func TestProgressPrintsEveryTenthOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	p := newProgressClock(&buf, "x", 50, false, func() time.Time { clock = clock.Add(time.Second); return clock })
	for i := 1; i <= 50; i++ {
		p.Update(i)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 11 || !strings.Contains(lines[0], " 1/50") || !strings.Contains(lines[10], "50/50") {
		t.Fatalf("got %d lines, want 11 (first item, each tenth) ending at 50/50:\n%s", len(lines), buf.String())
	}
}
