package model

import (
	"slices"
	"testing"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// BenchmarkORTBackboneHead measures ONNX Runtime CPU latency of the
// backbone + 3-class head, batch 1, 2 intra-op threads, and reports the
// median and 95th percentile of the individual runs.
// Run: go test -run X -bench ORTBackboneHead -benchtime 200x ./model/
func BenchmarkORTBackboneHead(b *testing.B) {
	initORT(b)
	bb := loadBackbone(b, WeightsTF2)
	head := &Params{Labels: []string{"rock", "paper", "scissors"}, HeadW: make([]float32, 3*FeatureSize), HeadB: make([]float32, 3)}
	m, err := BuildONNX(bb, head, nil)
	if err != nil {
		b.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	s := newSession(b, data, []string{probabilitiesName, FeaturesName}, 2)
	in, err := onnxruntime.NewTensor(onnxruntime.NewShape(1, InputSize, InputSize, InputColours), randomImages(1, 1))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	probs, _ := onnxruntime.NewEmptyTensor[float32](onnxruntime.NewShape(1, 3))
	defer probs.Destroy()
	feats, _ := onnxruntime.NewEmptyTensor[float32](onnxruntime.NewShape(1, FeatureSize))
	defer feats.Destroy()
	run := func() {
		if err := s.s.Run([]onnxruntime.Value{in}, []onnxruntime.Value{probs, feats}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		run() // warm-up: first runs allocate ORT's arena
	}
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		run()
		times = append(times, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(times)
	pct := func(p float64) float64 { return float64(times[int(p*float64(len(times)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(1000/pct(0.5), "fps@p50")
}

// BenchmarkReferenceForward is the plain-Go forward pass, batch 1.
func BenchmarkReferenceForward(b *testing.B) {
	bb := loadBackbone(b, WeightsTF2)
	x, _ := normalize(randomImages(2, 1), 1, InputSize, InputSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := bb.Forward(x); err != nil {
			b.Fatal(err)
		}
	}
}
