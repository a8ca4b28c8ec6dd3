//go:build matprofile

package parts_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/infer"
	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/procstat"
	"github.com/rpscam/rpscam/internal/tinymodel"
	"github.com/rpscam/rpscam/overlay"
	"github.com/rpscam/rpscam/pipeline"
	"github.com/rpscam/rpscam/pipeline/parts"
	"github.com/rpscam/rpscam/serve"
)

// soakPipeline is a live 640x480 30 fps GStreamer test source that ends
// every 30 s like a camera being unplugged, so the soak also goes through
// the reconnection path (close, reopen) about twice a minute.
const soakPipeline = "videotestsrc is-live=true pattern=ball num-buffers=900 ! video/x-raw,width=640,height=480,framerate=30/1 ! videoconvert ! appsink"

// soakRSSTrendLimit bounds the RSS growth the fitted line may show over the
// whole measured span after warm-up: a leak of one 640x480 frame per second
// would be 55 MiB a minute, one Mat per reconnection a few MiB an hour.
const soakRSSTrendLimit = 16 << 20

// TestSoak runs live-mode processing (live source with reconnection,
// staged model, overlay, MJPEG hub) for RPSCAM_SOAK_DURATION (e.g. 2m,
// 30m; scripts/soak.sh sets it), prints RSS, goroutines and open Mats per
// sample, and fails on an RSS trend after warm-up, goroutines not back to
// their baseline, or open Mats left at the end. The model is
// models/rps_mobilenetv2.onnx when it exists (RPSCAM_SOAK_MODEL overrides;
// "tiny" forces the generated mean-colour model).
func TestSoak(t *testing.T) {
	durText := os.Getenv("RPSCAM_SOAK_DURATION")
	if durText == "" {
		t.Skip("RPSCAM_SOAK_DURATION not set: run scripts/soak.sh --duration 2m")
	}
	dur, err := time.ParseDuration(durText)
	if err != nil || dur < 20*time.Second {
		t.Fatalf("RPSCAM_SOAK_DURATION=%q: want a duration of at least 20s, e.g. 2m", durText)
	}
	if _, err := ort.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not installed (%v)", err)
	}
	model := soakModel(t)
	every := time.Minute
	if dur <= 5*time.Minute {
		every = 10 * time.Second
	}

	runtime.GC()
	goroutines0 := runtime.NumGoroutine()
	mats0 := gocv.MatProfile.Count()

	var frames, reconnects atomic.Int64
	runErr := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	go func() { runErr <- runSoak(ctx, model, &frames, &reconnects) }()

	fmt.Printf("soak: %v with %s, sampling every %v\n", dur, filepath.Base(model), every)
	fmt.Printf("%8s %9s %8s %8s %10s %6s %10s\n", "elapsed", "RSS MiB", "gorout.", "Mats", "frames", "fps", "reconnects")
	type sample struct {
		at  time.Duration
		rss int64
	}
	var samples []sample
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastFrames := int64(0)
	lastAt := start
	done := false
	for !done {
		select {
		case err := <-runErr:
			if err != nil {
				t.Fatalf("pipeline: %v", err)
			}
			done = true
			continue
		case now := <-tick.C:
			rss, err := procstat.RSS()
			if err != nil {
				t.Fatal(err)
			}
			f := frames.Load()
			fps := float64(f-lastFrames) / now.Sub(lastAt).Seconds()
			lastFrames, lastAt = f, now
			at := now.Sub(start)
			samples = append(samples, sample{at, rss})
			fmt.Printf("%8s %9.1f %8d %8d %10d %6.1f %10d\n", at.Round(time.Second), float64(rss)/(1<<20), runtime.NumGoroutine(), gocv.MatProfile.Count(), f, fps, reconnects.Load())
		}
	}

	// Everything is closed: goroutines and Mats must be back.
	var goroutines int
	for i := 0; i < 50; i++ { // the grabber and timers finish just after Close
		runtime.GC()
		if goroutines = runtime.NumGoroutine(); goroutines <= goroutines0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mats := gocv.MatProfile.Count()
	fmt.Printf("end: %d frames, %d reconnections, goroutines %d (start %d), open Mats %d (start %d)\n",
		frames.Load(), reconnects.Load(), goroutines, goroutines0, mats, mats0)

	ok := true
	if frames.Load() == 0 {
		t.Errorf("no frames processed")
		ok = false
	}
	if goroutines > goroutines0 {
		t.Errorf("%d goroutines after the run, %d before", goroutines, goroutines0)
		ok = false
	}
	if mats != mats0 {
		t.Errorf("%d Mats open after the run, %d before", mats, mats0)
		ok = false
	}
	// Warm-up: the first fifth of the run (at least one sample), while
	// ONNX Runtime, the pools and the JPEG buffers reach their size.
	skip := max(1, len(samples)/5)
	if len(samples)-skip >= 3 {
		xs := make([]float64, 0, len(samples)-skip)
		ys := make([]float64, 0, len(samples)-skip)
		for _, s := range samples[skip:] {
			xs = append(xs, s.at.Seconds())
			ys = append(ys, float64(s.rss))
		}
		slope := fitSlope(xs, ys) // bytes per second
		span := xs[len(xs)-1] - xs[0]
		trend := slope * span
		fmt.Printf("RSS trend after warm-up: %+.2f MiB/min, %+.1f MiB over %.0fs (limit %d MiB)\n",
			slope*60/(1<<20), trend/(1<<20), span, soakRSSTrendLimit>>20)
		if trend > soakRSSTrendLimit {
			t.Errorf("RSS grows %.1f MiB over %.0fs after warm-up (limit %d MiB): a leak", trend/(1<<20), span, soakRSSTrendLimit>>20)
			ok = false
		}
	} else {
		t.Errorf("only %d samples after warm-up: run longer", len(samples)-skip)
		ok = false
	}
	if ok {
		fmt.Println("verdict: PASS (flat RSS after warm-up, goroutines back to baseline, no open Mats)")
	} else {
		fmt.Println("verdict: FAIL")
	}
}

// soakModel picks the model the soak runs.
func soakModel(t *testing.T) string {
	want := os.Getenv("RPSCAM_SOAK_MODEL")
	if want == "" {
		real := filepath.Join("..", "..", "models", "rps_mobilenetv2.onnx")
		if _, err := os.Stat(real); err == nil {
			return real
		}
	} else if want != "tiny" {
		return want
	}
	p := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := tinymodel.WriteMeanColour(p, 32); err != nil {
		t.Fatal(err)
	}
	return p
}

// runSoak wires what `rpscam serve` wires, minus the HTTP listener: a
// reconnecting live source, the staged model, the overlay and the hub that
// JPEG-encodes every frame.
func runSoak(ctx context.Context, model string, frames, reconnects *atomic.Int64) error {
	cls, err := infer.Load(model, infer.WithDevice(infer.DeviceCPU), infer.WithThreads(1))
	if err != nil {
		return err
	}
	defer cls.Close()
	src, err := capture.Reconnecting(func() (capture.Source, error) {
		return capture.Open(soakPipeline, capture.WithStallTimeout(5*time.Second))
	}, capture.WithReconnectListener(func(e capture.ReconnectEvent) {
		if e.Restored {
			reconnects.Add(1)
		}
	}))
	if err != nil {
		return err
	}
	defer src.Close()
	hub, err := serve.NewHub()
	if err != nil {
		return err
	}
	defer hub.Close()
	drawer := overlay.NewDrawer()
	defer drawer.Close()
	w, h := cls.InputSize()
	ann := parts.NewAnnotator(drawer, w, h)
	smooth, err := pipeline.ParseSmoothing("ema:0.5")
	if err != nil {
		return err
	}
	var p *pipeline.Pipeline
	p, err = pipeline.New(parts.Source(src), parts.Classifier(cls),
		pipeline.WithAnnotator(ann), pipeline.WithSmoother(smooth),
		pipeline.WithSinks(pipeline.SinkFunc(func(a *pipeline.Annotated) error {
			frames.Add(1)
			return hub.Publish(a.Mat, serve.Prediction{Labels: a.Labels, Probs: a.Probs, Label: a.Decision.Label,
				Confidence: a.Decision.Confidence, Uncertain: a.Decision.Uncertain, Seq: a.Seq, CaptureTime: a.Captured, FPS: a.FPS})
		})))
	if err != nil {
		return err
	}
	_, err = p.Run(ctx)
	return err
}

// fitSlope is the least-squares slope of ys over xs.
func fitSlope(xs, ys []float64) float64 {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 || math.IsNaN(d) {
		return 0
	}
	return (n*sxy - sx*sy) / d
}
