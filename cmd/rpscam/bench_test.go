package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/bench"
)

func TestBenchJSON(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 60, 320, 240)
	code, stdout, stderr := runCmd(t, "bench", "--model", model, "--device", "cpu", "--threads", "1", "--input", clip,
		"--warmup", "5", "--frames", "40", "--infer-iters", "50", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	for _, k := range []string{"fps", "infer_fps", "frames", "dropped", "stages", "peak_rss_mb", "provider", "model", "input", "threads", "go", "opencv", "cpu_percent", "machine", "latency_ms"} {
		if _, ok := r[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if r["frames"].(float64) != 40 || r["dropped"].(float64) != 0 || r["provider"] != "CPU" || r["threads"].(float64) != 1 || r["warmup"].(float64) != 5 {
		t.Errorf("frames %v dropped %v provider %v threads %v warmup %v", r["frames"], r["dropped"], r["provider"], r["threads"], r["warmup"])
	}
	fps, inferFPS := r["fps"].(float64), r["infer_fps"].(float64)
	if !(fps > 0 && fps <= inferFPS) {
		t.Errorf("fps %v, infer_fps %v: want 0 < fps <= infer_fps (the pipeline cannot beat the model alone)", fps, inferFPS)
	}
	if got := r["fps_over_infer_fps"].(float64); got <= 0 || got > 1 {
		t.Errorf("ratio %v", got)
	}
	if r["peak_rss_mb"].(float64) <= 0 || r["cpu_percent"].(float64) <= 0 {
		t.Errorf("peak_rss_mb %v cpu_percent %v", r["peak_rss_mb"], r["cpu_percent"])
	}
	stages := r["stages"].(map[string]any)
	for _, name := range []string{"capture", "preprocess", "inference", "postprocess", "overlay", "output"} {
		s, ok := stages[name].(map[string]any)
		if !ok {
			t.Errorf("stage %q missing", name)
			continue
		}
		p50, p90, p99, max := s["p50_ms"].(float64), s["p90_ms"].(float64), s["p99_ms"].(float64), s["max_ms"].(float64)
		if !(p50 <= p90 && p90 <= p99 && p99 <= max) {
			t.Errorf("stage %s: p50 %v p90 %v p99 %v max %v not ordered", name, p50, p90, p99, max)
		}
	}
	if stages["inference"].(map[string]any)["p50_ms"].(float64) <= 0 || stages["overlay"].(map[string]any)["p50_ms"].(float64) <= 0 {
		t.Errorf("inference and overlay must take measurable time: %v", stages)
	}
}

func TestBenchWithOutputEncodes(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 30, 320, 240)
	out := filepath.Join(t.TempDir(), "bench.mp4")
	code, stdout, stderr := runCmd(t, "bench", "--model", model, "--device", "cpu", "--input", clip,
		"--warmup", "3", "--frames", "20", "--infer-iters", "10", "--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"inference-only FPS", "end-to-end FPS", "output    " + out, "capture ", "p99", "peak RSS"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if n := readVideo(t, out, nil); n != 23 {
		t.Fatalf("%s holds %d frames, want 23 (3 warm-up + 20)", out, n)
	}
}

func TestBenchShortClip(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 12, 160, 120)
	code, stdout, stderr := runCmd(t, "bench", "--model", model, "--device", "cpu", "--input", clip, "--warmup", "2", "--frames", "100", "--infer-iters", "5", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r bench.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Frames != 10 || len(r.Notes) == 0 || !strings.Contains(strings.Join(r.Notes, ";"), "ended after 10 measured frames") {
		t.Fatalf("frames %d notes %q: want 10 and a note about the short source", r.Frames, r.Notes)
	}
	if code, _, stderr := runCmd(t, "bench", "--model", model); code != 2 || !strings.Contains(stderr, "--input is required") {
		t.Fatalf("bench without --input: exit %d, %s", code, stderr)
	}
}

func TestBenchParallelWorkers(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 40, 320, 240)
	code, stdout, stderr := runCmd(t, "bench", "--model", model, "--device", "cpu", "--threads", "1", "--workers", "2", "--input", clip,
		"--warmup", "4", "--frames", "36", "--infer-iters", "20", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r bench.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Workers != 2 || r.Threads != 1 || r.Frames != 36 || r.Stages["inference"].P50 <= 0 {
		t.Fatalf("workers %d threads %d frames %d inference %+v", r.Workers, r.Threads, r.Frames, r.Stages["inference"])
	}
	if code, _, stderr := runCmd(t, "bench", "--model", model, "--input", clip, "--workers", "40"); code != 2 || !strings.Contains(stderr, "--workers 40") {
		t.Fatalf("--workers 40: exit %d %s", code, stderr)
	}
	// Two instances, frames still in order: the recorded predictions match
	// the clip's colour cycle exactly.
	out := filepath.Join(t.TempDir(), "two.mp4")
	code, stdout, stderr = runCmd(t, "record", "--model", model, "--device", "cpu", "--threads", "1", "--workers", "2", "--input", clip, "--output", out, "-q")
	if code != 0 || !strings.Contains(stdout, "predictions: rock 14, paper 13, scissors 13, uncertain 0\n") || !strings.Contains(stdout, "frames processed: 40\n") {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	// The bottom-left corner keeps the source colour: frame i must be
	// clipColours[i%3], so the file is in capture order.
	var wrong []int
	n := readVideo(t, out, func(i int, m gocv.Mat) {
		c := clipColours[i%3]
		if !near(m.GetVecbAt(m.Rows()-3, 2), [3]uint8{uint8(c.Val1), uint8(c.Val2), uint8(c.Val3)}, 40) {
			wrong = append(wrong, i)
		}
	})
	if n != 40 || len(wrong) > 0 {
		t.Fatalf("%s holds %d frames (want 40); frames out of order: %v", out, n, wrong)
	}
}
