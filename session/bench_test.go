package session

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/capture/capturetest"
	"github.com/rpscam/rpscam/internal/latency"
	"github.com/rpscam/rpscam/internal/ort/orttest"
	"github.com/rpscam/rpscam/pipeline"
)

// outputClock is a sink that records when each frame came out and its
// sequence number.
type outputClock struct {
	mu    sync.Mutex
	times []time.Time
	seqs  []uint64
}

func (o *outputClock) Consume(a *pipeline.Annotated) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.times = append(o.times, time.Now())
	o.seqs = append(o.seqs, a.Seq)
	return nil
}

// swapTargets are the shipped model's copies to swap to: a copy of the
// float model and, when built, the int8 one. It skips b without the model.
func swapTargets(b *testing.B) (shipped string, targets []string) {
	shipped = filepath.Join("..", "models", "rps_mobilenetv2.onnx")
	data, err := os.ReadFile(shipped)
	if err != nil {
		b.Skipf("shipped model not built (scripts/setup.sh): %v", err)
	}
	cp := filepath.Join(b.TempDir(), "rps_copy.onnx")
	if err := os.WriteFile(cp, data, 0o644); err != nil {
		b.Fatal(err)
	}
	targets = []string{cp}
	if int8 := filepath.Join("..", "models", "rps_mobilenetv2_int8.onnx"); fileExists(int8) {
		targets = append(targets, int8)
	}
	return shipped, append(targets, shipped)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// swapRun is one measured run: the output intervals over the swaps, the
// frames the source dropped and the ones missing between those shown.
type swapRun struct {
	intervals    []time.Duration
	dropped      uint64
	gaps         int
	swaps        int
	swapDuration []time.Duration // of the SwapModel calls, loading included
}

// BenchmarkSwapFrameInterval runs the shipped model on a 30 fps live fake
// camera (640x480) and swaps it, every 700 ms, for a copy of itself, the
// int8 build when there is one, and back, six times per iteration; it
// reports the frame interval at the output over the swaps (median, p99,
// max), the frames dropped and how long each SwapModel took. The swap
// stalls nothing when p99 stays under twice the median with 0 dropped.
// "baseline" is the same run without the swaps, for the jitter of its own.
//
//	go test -run '^$' -bench SwapFrameInterval -benchtime 1x ./session/
func BenchmarkSwapFrameInterval(b *testing.B) {
	b.Run("swap", func(b *testing.B) { benchSwaps(b, true) })
	b.Run("baseline", func(b *testing.B) { benchSwaps(b, false) })
}

func benchSwaps(b *testing.B, swapping bool) {
	shipped, targets := swapTargets(b)
	if !swapping {
		targets = nil
	}
	lib := orttest.Init(b)
	var all swapRun
	for i := 0; i < b.N; i++ {
		r := runSwaps(b, lib, shipped, targets, 6)
		all.intervals = append(all.intervals, r.intervals...)
		all.dropped += r.dropped
		all.gaps += r.gaps
		all.swaps += r.swaps
		all.swapDuration = append(all.swapDuration, r.swapDuration...)
	}
	sum := latency.Summarize(all.intervals)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(sum.P50), "median-ms")
	b.ReportMetric(ms(sum.P99), "p99-ms")
	b.ReportMetric(ms(sum.Max), "max-ms")
	b.ReportMetric(float64(all.dropped), "dropped")
	b.ReportMetric(float64(all.gaps), "seq-gaps")
	if swapping {
		b.ReportMetric(float64(all.swaps), "swaps")
		b.ReportMetric(ms(latency.Summarize(all.swapDuration).Max), "swap-call-max-ms")
	}
	b.Logf("%d intervals over %d swaps (%v): median %.1f ms, p99 %.1f ms (%.2fx the median), max %.1f ms; %d frames dropped by the source, %d gaps in the sequence; slowest SwapModel call %.0f ms",
		sum.Count, all.swaps, targets, ms(sum.P50), ms(sum.P99), float64(sum.P99)/float64(sum.P50), ms(sum.Max), all.dropped, all.gaps, ms(latency.Summarize(all.swapDuration).Max))
}

// runSwaps runs the shipped model for a second, swaps to each target in
// turn swaps times, 700 ms apart (no targets: only waits as long), and
// measures the output from the first swap to 700 ms after the last.
func runSwaps(b *testing.B, lib, shipped string, targets []string, swaps int) swapRun {
	src := capturetest.NewFakeLive(640, 480, 30, nil)
	cfg := Config{Model: shipped, Library: lib, Workers: 1}
	s, err := open(cfg, func(*Session) (capture.Source, error) { return src, nil })
	if err != nil {
		src.Close()
		b.Fatal(err)
	}
	defer s.Close()
	clock := &outputClock{}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error)
	go func() {
		_, err := s.Run(ctx, clock)
		ran <- err
	}()
	time.Sleep(time.Second) // ONNX Runtime's first runs are slow
	var r swapRun
	from := time.Now()
	droppedBefore := src.Stats().Dropped
	for i := 0; i < swaps; i++ {
		time.Sleep(700 * time.Millisecond)
		if len(targets) == 0 {
			continue
		}
		t0 := time.Now()
		if err := s.SwapModel(targets[i%len(targets)]); err != nil {
			b.Fatal(err)
		}
		r.swapDuration = append(r.swapDuration, time.Since(t0))
		r.swaps++
	}
	time.Sleep(700 * time.Millisecond)
	to := time.Now()
	r.dropped = src.Stats().Dropped - droppedBefore
	cancel()
	if err := <-ran; err != nil {
		b.Fatal(err)
	}
	clock.mu.Lock()
	defer clock.mu.Unlock()
	for i := 1; i < len(clock.times); i++ {
		if clock.times[i].Before(from) || clock.times[i].After(to) {
			continue
		}
		r.intervals = append(r.intervals, clock.times[i].Sub(clock.times[i-1]))
		if clock.seqs[i] != clock.seqs[i-1]+1 {
			r.gaps++
		}
	}
	return r
}
