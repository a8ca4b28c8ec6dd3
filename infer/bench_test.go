package infer

import (
	"image"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkClassify is the whole per-frame path on a 640x480 frame with the
// tiny 4x4 model: it measures the overhead infer adds around inference
// (crop, resize, conversion, tensor fill, ONNX Runtime call, argmax).
func BenchmarkClassify(b *testing.B) {
	requireORT(b)
	c, err := Load(writeModel(b, b.TempDir(), "rps.onnx", rpsModel().build()), WithDevice(DeviceCPU), WithThreads(1))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	frame := solidFrame(b, 640, 480, 10, 20, 200)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Classify(frame, image.Rectangle{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPreprocess640x480 is a 640x480 frame's centre square to a 224x224
// input, for rpscam's model (uint8 NHWC RGB) and an OpenCV-DNN-style one
// (float32 NCHW with scale and offset).
func BenchmarkPreprocess640x480(b *testing.B) {
	frame := solidFrame(b, 640, 480, 10, 20, 200)
	b.Run("uint8-NHWC-RGB", func(b *testing.B) {
		p, err := NewPreprocessor(Contract{Width: 224, Height: 224, Channels: 3, Layout: NHWC, Color: RGB})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		dst := make([]uint8, p.Size())
		b.ReportAllocs()
		for b.Loop() {
			if err := p.IntoUint8(frame, image.Rectangle{}, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("float32-NCHW", func(b *testing.B) {
		p, err := NewPreprocessor(Contract{Width: 224, Height: 224, Channels: 3, Layout: NCHW, Color: RGB,
			Scale: [3]float32{0.017, 0.017, 0.017}, Offset: [3]float32{-2.1, -2.0, -1.8}})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		dst := make([]float32, p.Size())
		b.ReportAllocs()
		for b.Loop() {
			if err := p.IntoFloat32(frame, image.Rectangle{}, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBackboneFeatures runs the real MobileNet-v2 backbone (written by
// `rpscam convert` to models/; skipped when it has not been built) on one
// 224x224 image per op: the CPU inference cost the live path pays per frame.
func BenchmarkBackboneFeatures(b *testing.B) {
	requireORT(b)
	path := filepath.Join("..", "models", "mobilenet_v2_backbone.onnx")
	if _, err := os.Stat(path); err != nil {
		b.Skipf("%s not built (run rpscam convert): %v", path, err)
	}
	r, err := LoadBatchRunner(path, FeaturesName, 1, WithDevice(DeviceCPU))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	img := make([]uint8, 224*224*3)
	for i := range img {
		img[i] = uint8(i * 7)
	}
	for b.Loop() {
		if _, err := r.Run(img, 1); err != nil {
			b.Fatal(err)
		}
	}
}
