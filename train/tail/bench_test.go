package tail

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkTrainStep is one training step of batch 64 at MobileNet-v2's
// tail sizes (block_12, block_13 or block_14 to Conv_1 + head trainable, block_16 +
// Conv_1 + head, or Conv_1 + head), and one inference batch of the block_14
// tail; b.N steps, report ms/step and views/s.
func BenchmarkTrainStep(b *testing.B) {
	block14 := mobileNetV2
	block14.Residual = 2
	block13 := block14
	block13.DownIn, block13.DownExpand = 96, 576
	block12 := block13
	block12.PreResidual = 1
	for _, c := range []struct {
		name      string
		dims      Dims
		trainable []string
	}{
		{"block12", block12, block12.ParamNames()},
		{"block13", block13, block13.ParamNames()}, // the shipped recipe (train.DefaultFineTune)
		{"block14", block14, block14.ParamNames()},
		{"block16", mobileNetV2, allParams},
		{"conv1", mobileNetV2, append(append([]string{}, conv1Params...), headParams...)},
		{"inference", block14, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			initORT(b)
			d := c.dims
			r := rand.New(rand.NewPCG(1, 2))
			p := Params{}
			for name, v := range randomParams(r, d) {
				w := make([]float32, len(v))
				for i := range v {
					w[i] = float32(v[i] * 0.05)
				}
				p[name] = w
			}
			const n = 64
			batch := Batch{N: n, X: make([]float32, n*d.InputLen())}
			for i := range batch.X {
				batch.X[i] = float32(r.Float64() * 3)
			}
			if c.trainable != nil {
				batch.OneHot, batch.Weight, batch.Mask = make([]float32, n*d.Classes), make([]float32, n), make([]float32, n*d.Features)
				for i := 0; i < n; i++ {
					batch.OneHot[i*d.Classes+i%d.Classes], batch.Weight[i] = 1, 1.0/n
				}
				for i := range batch.Mask {
					batch.Mask[i] = 1
				}
			}
			s, err := NewSession(d, c.trainable)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Run(batch, p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "views/s")
		})
	}
}
