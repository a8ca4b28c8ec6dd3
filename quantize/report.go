package quantize

import (
	"fmt"
	"io"
)

// WriteText is the report as rpscam quantize prints it: what was
// quantized, the file size, the fusion check, the figures per set and the
// accuracy bar's verdict.
func (rep *Report) WriteText(w io.Writer) {
	s := rep.Summary
	fmt.Fprintf(w, "quantize: %s: %d convolutions int8 (per-channel symmetric weights, %d pair-safe), %d adds; uint8 activations, %s ranges from %d training images; input: the uint8 image at scale %.6g, zero point %d\n",
		rep.Out, s.Convs, s.PairSafeConvs, s.Adds, rep.Method, rep.Calib, s.InputParams.Scale, s.InputParams.ZeroPoint)
	fmt.Fprintf(w, "file: %.2f MB (float model %.2f MB)\n", float64(rep.Bytes)/1e6, float64(rep.FloatBytes)/1e6)
	verdict := "every convolution runs on integer kernels"
	if !rep.Fusion.Fused() {
		verdict = fmt.Sprintf("NOT fused: %d float convolutions left", rep.Fusion.FloatConvs)
	}
	fmt.Fprintf(w, "ONNX Runtime's optimized graph: %s (%s)\n", verdict, rep.Fusion)
	if len(rep.Sets) > 0 {
		fmt.Fprintf(w, "%-22s %6s %8s %8s %8s\n", "set", "images", "fp32", "int8", "same")
		for _, f := range rep.Sets {
			fmt.Fprintf(w, "%-22s %6d %7.2f%% %7.2f%% %7.2f%%\n", f.Name, f.Images, 100*f.FP32, 100*f.INT8, 100*f.Agreement)
		}
	}
	fmt.Fprintf(w, "accuracy bar (within %.1f points of fp32 everywhere, same prediction on >= %.0f%%): %s\n",
		100*maxAccuracyDrop, 100*minAgreement, rep.Bar)
	fmt.Fprintf(w, "took %s\n", rep.Took.Round(100_000_000))
}
