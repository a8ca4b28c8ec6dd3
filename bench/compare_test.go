package bench

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/capture"
)

func TestCompareAgreementAndRatio(t *testing.T) {
	specs := compareRows("/nonexistent/fp32.onnx", "/nonexistent/fp32_int8.onnx", "/nonexistent/opencv.onnx", 2)
	for i := range specs { // pretend the files exist
		specs[i].Unavailable = ""
	}
	specs[3].Unavailable = "no CUDA provider here: test"
	job := rowJob{Images: make([]capture.LabeledImage, 4)}
	labels := map[string][]string{
		"onnxruntime fp32": {"rock", "paper", "scissors", "none"},
		"onnxruntime int8": {"rock", "paper", "scissors", "rock"},
		"opencv fp32":      {"rock", "paper", "scissors", "none"},
	}
	fps := map[string]float64{"onnxruntime fp32": 200, "onnxruntime int8": 230, "opencv fp32": 50}
	var measured []string
	measure := func(_ context.Context, j rowJob) (rowResult, error) {
		key := j.Row.Backend + " " + j.Row.Precision
		measured = append(measured, key+" "+j.Row.Device)
		if j.Row.Backend == backendOpenCV && j.Row.Workers != 2 {
			return rowResult{}, errors.New("wrong settings")
		}
		return rowResult{Row: Row{RowSpec: j.Row, InferFPS: fps[key]}, Labels: labels[key]}, nil
	}
	c, err := compare(context.Background(), specs, job, "test", measure)
	if err != nil {
		t.Fatalf("some rows ran, yet compare says %v", err)
	}
	if strings.Join(measured, ",") != "onnxruntime fp32 cpu,onnxruntime int8 cpu,opencv fp32 cpu" {
		t.Fatalf("measured %v: the unavailable CUDA row must not run", measured)
	}
	if len(c.Rows) != 4 || c.Rows[3].Error != "no CUDA provider here: test" || c.Rows[3].SameLabel != nil {
		t.Fatalf("rows %+v", c.Rows)
	}
	for i, want := range []float64{1, 0.75, 1} {
		if c.Rows[i].Error != "" || c.Rows[i].SameLabel == nil || *c.Rows[i].SameLabel != want {
			t.Errorf("row %d: error %q same label %v, want %v", i, c.Rows[i].Error, c.Rows[i].SameLabel, want)
		}
	}
	if c.Int8OverFP32 != 230.0/200 {
		t.Errorf("int8/fp32 %v, want 1.15", c.Int8OverFP32)
	}
	if specs[0].Workers != 2 || specs[0].Threads != 1 || specs[0].RealtimeWorkers != 1 || specs[0].RealtimeThreads != 0 {
		t.Errorf("2-core file settings %+v, want 2 instances x 1 thread, 1 x default at 30 FPS", specs[0])
	}
}

func TestCompareRowsMissingModels(t *testing.T) {
	specs := compareRows("/nonexistent/fp32.onnx", "/nonexistent/fp32_int8.onnx", "/nonexistent/opencv.onnx", 1)
	if !strings.Contains(specs[1].Unavailable, "rpscam quantize") || !strings.Contains(specs[0].Unavailable, "/nonexistent/fp32.onnx") {
		t.Fatalf("unavailable: %q, %q", specs[0].Unavailable, specs[1].Unavailable)
	}
	if specs[0].Workers != 1 || specs[0].Threads != 1 {
		t.Fatalf("1 core: %d instances x %d threads", specs[0].Workers, specs[0].Threads)
	}
}

func TestAccuracySkipsNoneWithoutNoneClass(t *testing.T) {
	imgs := []capture.LabeledImage{{Class: "rock"}, {Class: "paper"}, {Class: "none"}, {Class: "scissors"}}
	acc, n := accuracy(imgs, []string{"rock", "rock", "rock", "scissors"}, []string{"rock", "paper", "scissors"})
	if n != 3 || acc != 2.0/3 {
		t.Fatalf("accuracy %v of %d, want 2/3 of 3", acc, n)
	}
	acc, n = accuracy(imgs, []string{"rock", "rock", "none", "scissors"}, []string{"rock", "paper", "scissors", "none"})
	if n != 4 || acc != 0.75 {
		t.Fatalf("with a none class: %v of %d, want 0.75 of 4", acc, n)
	}
}

// When no row runs, compare says so with a NoRowRanError, which counts as
// the caller's to fix only if every row's failure was.
func TestCompareNoRowRan(t *testing.T) {
	specs := compareRows("/nonexistent/fp32.onnx", "/nonexistent/fp32_int8.onnx", "/nonexistent/opencv.onnx", 2)
	for i := range specs {
		specs[i].Unavailable = ""
	}
	specs[1].Unavailable = "no int8 model: test"
	unreadable := func(_ context.Context, j rowJob) (rowResult, error) {
		return rowResult{Row: Row{RowSpec: j.Row, Error: "run on the file: cannot open video source"}, Setup: true}, nil
	}
	c, err := compare(context.Background(), specs, rowJob{}, "test", unreadable)
	var none *NoRowRanError
	if !errors.As(err, &none) || !none.Setup || len(c.Rows) != 4 {
		t.Fatalf("every row unreadable: err %v (%+v), %d rows; want a setup NoRowRanError and all 4 rows", err, none, len(c.Rows))
	}
	if want := "onnxruntime fp32 cpu: run on the file: cannot open video source"; none.First != want {
		t.Errorf("first failure %q, want %q", none.First, want)
	}

	crashed := func(ctx context.Context, j rowJob) (rowResult, error) {
		if j.Row.Backend == backendOpenCV {
			return rowResult{}, errors.New("the row's process failed")
		}
		return unreadable(ctx, j)
	}
	if _, err := compare(context.Background(), specs, rowJob{}, "test", crashed); !errors.As(err, &none) || none.Setup {
		t.Errorf("one row failed in the work: err %v, want a NoRowRanError that is not the caller's to fix", err)
	}

	oneRan := func(ctx context.Context, j rowJob) (rowResult, error) {
		if j.Row.Device == "cpu" && j.Row.Precision == "fp32" && j.Row.Backend == backendONNXRuntime {
			return rowResult{Row: Row{RowSpec: j.Row, InferFPS: 100}}, nil
		}
		return unreadable(ctx, j)
	}
	if _, err := compare(context.Background(), specs, rowJob{}, "test", oneRan); err != nil {
		t.Errorf("one row ran: err %v, want nil", err)
	}
}
