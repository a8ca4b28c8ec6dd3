package infer

import (
	"errors"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/onnx"
	"github.com/rpscam/rpscam/internal/ort"
)

func loadCPU(t *testing.T, path string, opts ...Option) *Classifier {
	t.Helper()
	c, err := Load(path, append([]Option{WithDevice(DeviceCPU)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A uint8 NHWC RGB model on a solid B=10,G=20,R=200 frame: the model sees the
// mean colour (200,20,10) in RGB order.
func TestClassifyUint8NHWCRGB(t *testing.T) {
	requireORT(t)
	path := writeModel(t, t.TempDir(), "rps.onnx", rpsModel().build())
	c := loadCPU(t, path)
	if got := c.Labels(); !slices.Equal(got, []string{"rock", "paper", "scissors"}) {
		t.Fatalf("labels %v", got)
	}
	if w, h := c.InputSize(); w != 4 || h != 4 {
		t.Fatalf("input size %dx%d, want 4x4", w, h)
	}
	if c.Provider() != "CPU" {
		t.Fatalf("provider %q, want CPU", c.Provider())
	}
	ct := c.Contract()
	if ct.Element != Uint8 || ct.Layout != NHWC || ct.Color != RGB || ct.Channels != 3 || ct.LabelSource != "metadata" || ct.InputName != "image" || ct.OutputName != "probabilities" {
		t.Fatalf("contract %+v", ct)
	}
	for _, size := range []image.Point{{640, 480}, {4, 4}, {3, 2}} { // shrink, identity, enlarge
		frame := solidFrame(t, size.X, size.Y, 10, 20, 200)
		res, err := c.Classify(frame, image.Rectangle{})
		if err != nil {
			t.Fatal(err)
		}
		want := wantProbs([]float64{200, 20, 10}, testWeights, true)
		assertClose(t, "probabilities", res.Probs, want, 1e-5)
		// logits: 200*0.02-10*0.01=3.9, 20*0.05=1, -200*0.01+10*0.03=-1.7 -> rock
		if res.Top != 0 || res.Label != "rock" || res.Confidence != res.Probs[0] {
			t.Fatalf("frame %v: top %d %q %v, want 0 rock", size, res.Top, res.Label, res.Confidence)
		}
		if res.Preprocess <= 0 || res.Inference <= 0 {
			t.Fatalf("timings not measured: %+v", res)
		}
	}
}

// The same weights with a BGR colour contract see (10,20,200): scissors.
func TestClassifyBGRContract(t *testing.T) {
	requireORT(t)
	m := rpsModel()
	m.Metadata[KeyInputColor] = "BGR"
	c := loadCPU(t, writeModel(t, t.TempDir(), "bgr.onnx", m.build()))
	res, err := c.Classify(solidFrame(t, 64, 48, 10, 20, 200), image.Rectangle{})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "probabilities", res.Probs, wantProbs([]float64{10, 20, 200}, testWeights, true), 1e-5)
	if res.Label != "scissors" {
		t.Fatalf("label %q, want scissors", res.Label)
	}
}

// A float32 NCHW model with per-channel scale/offset, fixed batch 1, BGR
// order, and logits output (softmax applied by Classify).
func TestClassifyFloat32NCHWScaleOffset(t *testing.T) {
	requireORT(t)
	m := meanColourModel{
		Elem: onnx.Float32, NCHW: true, Size: 8, Batch: onnx.Dim{Value: 1},
		Metadata: map[string]string{
			KeyLabels:      "a,b,c",
			KeyInputColor:  "BGR",
			KeyInputScale:  "0.5,0.25,0.125",
			KeyInputOffset: "-1,0,1",
			KeyOutputKind:  "logits",
		},
	}
	c := loadCPU(t, writeModel(t, t.TempDir(), "float.onnx", m.build()))
	ct := c.Contract()
	if ct.Element != Float32 || ct.Layout != NCHW || ct.Color != BGR || ct.Scale != [3]float32{0.5, 0.25, 0.125} || ct.Offset != [3]float32{-1, 0, 1} || ct.OutputKind != Logits {
		t.Fatalf("contract %+v", ct)
	}
	res, err := c.Classify(solidFrame(t, 32, 32, 10, 20, 200), image.Rectangle{})
	if err != nil {
		t.Fatal(err)
	}
	// Model channels in BGR order: 10*0.5-1=4, 20*0.25+0=5, 200*0.125+1=26.
	assertClose(t, "probabilities", res.Probs, wantProbs([]float64{4, 5, 26}, testWeights, true), 1e-5)
	if res.Label != "c" {
		t.Fatalf("label %q, want c", res.Label)
	}
}

// Float32 without scale metadata gets pixels/255, layout inferred from shape.
func TestClassifyFloat32Defaults(t *testing.T) {
	requireORT(t)
	m := meanColourModel{Elem: onnx.Float32, Softmax: true, Weights: []float32{10, 0, 0, 0, 10, 0, 0, 0, 10}}
	dir := t.TempDir()
	path := writeModel(t, dir, "plain.onnx", m.build())
	if err := os.WriteFile(filepath.Join(dir, "labels.txt"), []byte("red\ngreen\nblue\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := loadCPU(t, path)
	ct := c.Contract()
	if ct.Layout != NHWC || ct.Scale != [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255} || ct.Offset != [3]float32{} || ct.LabelSource != filepath.Join(dir, "labels.txt") {
		t.Fatalf("contract %+v", ct)
	}
	res, err := c.Classify(solidFrame(t, 10, 10, 0, 51, 255), image.Rectangle{})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "probabilities", res.Probs, wantProbs([]float64{1, 0.2, 0}, m.Weights, true), 1e-5)
	if res.Label != "red" {
		t.Fatalf("label %q, want red", res.Label)
	}
}

// Without labels metadata, "<model>.labels" wins over labels.txt.
func TestLabelsFileBesideModel(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	path := writeModel(t, dir, "hands.onnx", meanColourModel{Elem: onnx.Uint8, Softmax: true}.build())
	os.WriteFile(filepath.Join(dir, "labels.txt"), []byte("x\ny\nz\n"), 0o644)
	if err := os.WriteFile(filepath.Join(dir, "hands.labels"), []byte("rock\n paper \nscissors"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := loadCPU(t, path)
	if got := c.Labels(); !slices.Equal(got, []string{"rock", "paper", "scissors"}) {
		t.Fatalf("labels %v", got)
	}
	if c.Contract().LabelSource != filepath.Join(dir, "hands.labels") {
		t.Fatalf("label source %q", c.Contract().LabelSource)
	}
}

// The roi picks its region: left half blue-ish, right half red-ish.
func TestClassifyROI(t *testing.T) {
	requireORT(t)
	c := loadCPU(t, writeModel(t, t.TempDir(), "rps.onnx", rpsModel().build()))
	frame := solidFrame(t, 200, 100, 200, 20, 10)           // B=200: scissors in RGB terms
	paint(frame, image.Rect(100, 0, 200, 100), 10, 20, 200) // right half R=200: rock
	cases := []struct {
		roi   image.Rectangle
		rgb   []float64
		label string
	}{
		{image.Rect(0, 0, 100, 100), []float64{10, 20, 200}, "scissors"},
		{image.Rect(100, 0, 200, 100), []float64{200, 20, 10}, "rock"},
		{image.Rect(120, 10, 130, 20), []float64{200, 20, 10}, "rock"}, // 10x10 shrunk to 4x4
		{image.Rect(101, 50, 103, 52), []float64{200, 20, 10}, "rock"}, // 2x2 enlarged to 4x4
	}
	for _, tc := range cases {
		res, err := c.Classify(frame, tc.roi)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "roi "+formatROI(tc.roi), res.Probs, wantProbs(tc.rgb, testWeights, true), 1e-5)
		if res.Label != tc.label {
			t.Fatalf("roi %v: label %q, want %q", tc.roi, res.Label, tc.label)
		}
	}
	// The centre square of a 300x100 frame is x 100..200: paint it and only it.
	wide := solidFrame(t, 300, 100, 200, 20, 10)
	paint(wide, image.Rect(100, 0, 200, 100), 10, 20, 200)
	res, err := c.Classify(wide, image.Rectangle{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Label != "rock" {
		t.Fatalf("centre square: label %q, want rock (probs %v)", res.Label, res.Probs)
	}
	if _, err := c.Classify(frame, image.Rect(150, 0, 250, 100)); err == nil || !strings.Contains(err.Error(), "200x100 frame") {
		t.Fatalf("roi outside the frame: got %v, want an error naming the 200x100 frame", err)
	}
}

func TestClassifyAfterCloseAndBadFrames(t *testing.T) {
	requireORT(t)
	c, err := Load(writeModel(t, t.TempDir(), "rps.onnx", rpsModel().build()), WithDevice(DeviceCPU))
	if err != nil {
		t.Fatal(err)
	}
	empty := solidFrame(t, 0, 0, 0, 0, 0)
	if _, err := c.Classify(empty, image.Rectangle{}); err == nil || !strings.Contains(err.Error(), "empty frame") {
		t.Fatalf("empty frame: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Classify(solidFrame(t, 8, 8, 1, 2, 3), image.Rectangle{}); !errors.Is(err, errClassifierClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestLoadRejectsBadModels(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("this is not a protobuf\x00\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	twoLabels := rpsModel()
	twoLabels.Metadata = map[string]string{KeyLabels: "rock,paper"}
	noLabels := meanColourModel{Elem: onnx.Uint8, Softmax: true}
	symbolicH := rpsModel()
	symbolicH.Dims = []onnx.Dim{{Param: "N"}, {Param: "H"}, {Value: 4}, {Value: 3}}
	rank3 := rpsModel()
	rank3.Dims = []onnx.Dim{{Param: "N"}, {Value: 4}, {Value: 3}}
	int32In := rpsModel()
	int32In.Elem = onnx.Int32
	badLayout := rpsModel()
	badLayout.Metadata = map[string]string{KeyLabels: "a,b,c", KeyInputLayout: "HWC"}
	badScale := meanColourModel{Elem: onnx.Float32, Softmax: true, Metadata: map[string]string{KeyLabels: "a,b,c", KeyInputScale: "1,2"}}
	batch2 := rpsModel()
	batch2.Batch = onnx.Dim{Value: 2}

	nolabDir := t.TempDir()
	cases := []struct {
		name, path, problem, expected string
	}{
		{"missing", filepath.Join(dir, "nope.onnx"), "does not exist", ".onnx model file"},
		{"directory", dir, "is a directory", ".onnx"},
		{"not onnx", garbage, "ONNX Runtime cannot load it: Protobuf parsing failed", "ONNX model file"},
		{"rank 3", writeModel(t, dir, "rank3.onnx", rank3.build()), "rank 3", "rank 4"},
		{"int32", writeModel(t, dir, "int32.onnx", int32In.build()), "element type int32", "uint8 or float32"},
		{"symbolic H", writeModel(t, dir, "symh.onnx", symbolicH.build()), "symbolic height or width", "fixed H and W"},
		{"labels count", writeModel(t, dir, "two.onnx", twoLabels.build()), "3 classes", "as many labels as classes"},
		{"no labels", writeModel(t, nolabDir, "nolabels.onnx", noLabels.build()), "no class labels", "nolabels.labels"},
		{"bad layout", writeModel(t, dir, "layout.onnx", badLayout.build()), `input_layout="HWC"`, "NHWC or NCHW"},
		{"bad scale", writeModel(t, dir, "scale.onnx", badScale.build()), `input_scale="1,2"`, "input_scale="},
		{"fixed batch 2", writeModel(t, dir, "batch2.onnx", batch2.build()), "fixed batch size 2", "batch dimension 1 or symbolic"},
		{"unknown output", writeModel(t, dir, "out.onnx", rpsModel().build()), `no output "scores"`, "output names"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{WithDevice(DeviceCPU)}
			if tc.name == "unknown output" {
				opts = append(opts, withOutput("scores"))
			}
			c, err := Load(tc.path, opts...)
			if err == nil {
				c.Close()
				t.Fatal("Load succeeded")
			}
			var me *ModelError
			if !errors.As(err, &me) {
				t.Fatalf("error %T %v, want *ModelError", err, err)
			}
			if me.Path != tc.path || !strings.Contains(me.Problem, tc.problem) || !strings.Contains(me.Expected, tc.expected) {
				t.Fatalf("got %q\nwant problem containing %q, expected containing %q", err, tc.problem, tc.expected)
			}
			t.Log(err)
			if !strings.HasPrefix(err.Error(), "model "+tc.path+": ") {
				t.Fatalf("message %q does not start with the model path", err)
			}
		})
	}
}

func TestLoadOptionErrors(t *testing.T) {
	requireORT(t)
	path := writeModel(t, t.TempDir(), "rps.onnx", rpsModel().build())
	if _, err := Load(path, WithThreads(-1)); err == nil || !strings.Contains(err.Error(), "threads -1") {
		t.Fatalf("negative threads: %v", err)
	}
	if _, err := Load(path, WithLibrary("/nonexistent/libonnxruntime.so")); !errors.Is(err, ort.ErrLibrary) {
		t.Fatalf("missing library: %v, want ort.ErrLibrary", err)
	}
	c := loadCPU(t, path, WithThreads(1), withOutput("probabilities"))
	if c.Contract().OutputName != "probabilities" {
		t.Fatalf("output %q", c.Contract().OutputName)
	}
}

// withOutput can point the classifier at another output with as many values
// as labels: "features" of meanColourModel is the mean colour itself.
func TestWithOutputFeatures(t *testing.T) {
	requireORT(t)
	m := rpsModel()
	m.Metadata[KeyOutputKind] = "logits"
	c := loadCPU(t, writeModel(t, t.TempDir(), "f.onnx", m.build()), withOutput("features"))
	res, err := c.Classify(solidFrame(t, 8, 8, 0, 1, 2), image.Rectangle{})
	if err != nil {
		t.Fatal(err)
	}
	// features (2,1,0) through softmax.
	assertClose(t, "softmax(features)", res.Probs, wantProbs([]float64{2, 1, 0}, []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}, true), 1e-6)
}

func TestDeviceCUDAUnavailable(t *testing.T) {
	requireORT(t)
	path := writeModel(t, t.TempDir(), "rps.onnx", rpsModel().build())
	var lines []string
	c, err := Load(path, WithDevice(DeviceAuto), WithLogger(func(s string) { lines = append(lines, s) }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Provider() == "CUDA" {
		t.Skip("CUDA works on this machine; the fallback path cannot be exercised")
	}
	if c.Provider() != "CPU" {
		t.Fatalf("provider %q", c.Provider())
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "infer: CUDA unavailable (") || !strings.HasSuffix(lines[0], "); using CPU") || strings.Contains(lines[0], "\n") {
		t.Fatalf("fallback notice %q, want exactly one line \"infer: CUDA unavailable (<reason>); using CPU\"", lines)
	}
	t.Logf("notice: %s", lines[0])
	_, err = Load(path, WithDevice(DeviceCUDA))
	if !errors.Is(err, ErrCUDAUnavailable) || !strings.Contains(err.Error(), "--device cpu") {
		t.Fatalf("DeviceCUDA: %v, want ErrCUDAUnavailable naming --device cpu", err)
	}
	t.Logf("DeviceCUDA error: %v", err)
}

func TestAvailableProviders(t *testing.T) {
	requireORT(t)
	provs, err := AvailableProviders("")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(provs, "CPUExecutionProvider") {
		t.Fatalf("providers %v lack CPUExecutionProvider", provs)
	}
	t.Logf("providers: %v", provs)
	notLib := filepath.Join(t.TempDir(), "libonnxruntime.so")
	os.WriteFile(notLib, []byte("not an ELF file"), 0o644)
	if _, err := AvailableProviders(notLib); !errors.Is(err, ort.ErrLibrary) {
		t.Fatalf("non-library: %v, want ort.ErrLibrary", err)
	}
}

func TestParseDevice(t *testing.T) {
	for in, want := range map[string]Device{"auto": DeviceAuto, "CPU": DeviceCPU, " cuda ": DeviceCUDA, "gpu": DeviceCUDA} {
		got, err := ParseDevice(in)
		if err != nil || got != want {
			t.Fatalf("ParseDevice(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseDevice("tpu"); err == nil || !strings.Contains(err.Error(), "auto, cpu or cuda") {
		t.Fatalf("ParseDevice(tpu): %v", err)
	}
}

// Classify allocates nothing once warm: the Mats, tensors and probability
// buffer are all made by Load.
func TestClassifyAllocs(t *testing.T) {
	if matProfile {
		t.Skip("allocation counts include matprofile's per-Mat stack records; run without -tags matprofile")
	}
	requireORT(t)
	c := loadCPU(t, writeModel(t, t.TempDir(), "rps.onnx", rpsModel().build()), WithThreads(1))
	frame := solidFrame(t, 640, 480, 10, 20, 200)
	roi := image.Rect(100, 100, 300, 300)
	var failed error
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := c.Classify(frame, roi); err != nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Fatalf("Classify allocates %v times per frame, want 0", allocs)
	}
}

// Spinning is a scheduling choice only: with it off the same model gives the
// same probabilities, and the session option is accepted by ONNX Runtime.
func TestWithSpinningKeepsPredictions(t *testing.T) {
	requireORT(t)
	path := writeModel(t, t.TempDir(), "rps.onnx", rpsModel().build())
	want := wantProbs([]float64{200, 20, 10}, testWeights, true)
	for _, spin := range []bool{false, true} {
		c := loadCPU(t, path, WithThreads(2), WithSpinning(spin))
		frame := solidFrame(t, 64, 48, 10, 20, 200)
		res, err := c.Classify(frame, image.Rectangle{})
		if err != nil {
			t.Fatalf("spinning %v: %v", spin, err)
		}
		assertClose(t, "probabilities", res.Probs, want, 1e-5)
	}
}
