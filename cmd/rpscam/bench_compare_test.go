package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/tinymodel"
)

// cliChildEnv, set, makes this test binary act as rpscam itself: bench
// --compare runs each row in a child process of os.Executable(), which under
// go test is this binary.
const cliChildEnv = "RPSCAM_TEST_RUN_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliChildEnv) == "1" {
		os.Exit(run(&cliEnv{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// writeColourImages writes n solid 64x48 images per class folder: rock red,
// paper green, scissors blue (what tinymodel.RPSShaped says of them).
func writeColourImages(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for class, bgr := range map[string]gocv.Scalar{"rock": clipColours[0], "paper": clipColours[1], "scissors": clipColours[2]} {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			t.Fatal(err)
		}
		m := gocv.NewMatWithSize(48, 64, gocv.MatTypeCV8UC3)
		m.SetTo(bgr)
		for i := 0; i < n; i++ {
			if !gocv.IMWrite(filepath.Join(dir, class, string(rune('a'+i))+".png"), m) {
				t.Fatal("writing a test image failed")
			}
		}
		m.Close()
	}
	return dir
}

func TestBenchCompareJSON(t *testing.T) {
	if _, err := ort.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not installed: %v", err)
	}
	t.Setenv(cliChildEnv, "1")
	model := filepath.Join(t.TempDir(), "tiny_rps.onnx")
	if err := tinymodel.Write(model, tinymodel.RPSShaped(8)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(model)
	if err != nil {
		t.Fatal(err)
	}
	clip := writeColourClip(t, 40, 320, 240)
	data := writeColourImages(t, 2)
	code, stdout, stderr := runCmd(t, "bench", "--compare", "--model", model, "--input", clip, "--data", data,
		"--warmup", "4", "--frames", "20", "--infer-iters", "20", "--realtime-frames", "10", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var c struct {
		Images int              `json:"images"`
		Rows   []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(stdout), &c); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	want := [][3]string{{"onnxruntime", "fp32", "cpu"}, {"onnxruntime", "int8", "cpu"}, {"opencv", "fp32", "cpu"}, {"onnxruntime", "fp32", "cuda"}}
	if len(c.Rows) != len(want) || c.Images != 6 {
		t.Fatalf("%d rows, %d images; want %d rows, 6 images:\n%s", len(c.Rows), c.Images, len(want), stdout)
	}
	keys := []string{"backend", "precision", "device", "infer_fps", "infer_p50_ms", "infer_p99_ms", "fps", "cpu_percent_at_30fps",
		"latency_p99_ms_at_30fps", "peak_rss_mb", "model_bytes", "accuracy", "error", "threads", "workers"}
	for i, r := range c.Rows {
		for _, k := range keys {
			if _, ok := r[k]; !ok {
				t.Errorf("row %d lacks %q", i, k)
			}
		}
		if got := [3]string{r["backend"].(string), r["precision"].(string), r["device"].(string)}; got != want[i] {
			t.Errorf("row %d is %v, want %v", i, got, want[i])
		}
	}
	for _, i := range []int{0, 2} { // ONNX Runtime fp32 and OpenCV run; both label every image right
		r := c.Rows[i]
		if r["error"] != "" || r["accuracy"].(float64) != 1 || r["accuracy_images"].(float64) != 6 || r["same_label_as_onnxruntime_fp32"].(float64) != 1 {
			t.Errorf("row %d: error %q accuracy %v of %v, same label %v", i, r["error"], r["accuracy"], r["accuracy_images"], r["same_label_as_onnxruntime_fp32"])
		}
		for _, k := range []string{"infer_fps", "infer_p50_ms", "infer_p99_ms", "fps", "cpu_percent_at_30fps", "latency_p99_ms_at_30fps", "peak_rss_mb"} {
			if !(r[k].(float64) > 0) {
				t.Errorf("row %d: %s = %v, want > 0", i, k, r[k])
			}
		}
		if r["infer_p50_ms"].(float64) > r["infer_p99_ms"].(float64) {
			t.Errorf("row %d: p50 %v > p99 %v", i, r["infer_p50_ms"], r["infer_p99_ms"])
		}
	}
	if got := c.Rows[0]["model_bytes"].(float64); got != float64(st.Size()) {
		t.Errorf("fp32 model_bytes %v, the file has %d", got, st.Size())
	}
	if e := c.Rows[1]["error"].(string); !strings.Contains(e, "no int8 model") || !strings.Contains(e, "rpscam quantize") {
		t.Errorf("int8 row without an int8 model: error %q", e)
	}
	if e := c.Rows[3]["error"].(string); e != "" && !strings.HasPrefix(e, "no CUDA provider here: ") {
		t.Errorf("CUDA row: error %q, want it to start \"no CUDA provider here: \"", e)
	}

	// The table names the rows, and a row that cannot run says why.
	code, stdout, stderr = runCmd(t, "bench", "--compare", "--model", model, "--input", clip, "--data", data,
		"--warmup", "2", "--frames", "10", "--infer-iters", "10", "--realtime-frames", "4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{"onnxruntime fp32 cpu", "opencv      fp32 cpu", "onnxruntime int8 cpu: no int8 model", "infer/s", "accuracy"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("table lacks %q:\n%s", w, stdout)
		}
	}
}

func TestBenchCompareBadInput(t *testing.T) {
	model := tinyModelFile(t)
	clip := writeColourClip(t, 10, 160, 120)
	if code, _, stderr := runCmd(t, "bench", "--compare", "--model", model, "--input", clip, "--data", filepath.Join(t.TempDir(), "nothing")); code != 2 || !strings.Contains(stderr, "--data") {
		t.Fatalf("--data of a missing folder: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "bench", "--compare-job", filepath.Join(t.TempDir(), "none.json")); code == 0 || !strings.Contains(stderr, "none.json") {
		t.Fatalf("--compare-job of a missing file: exit %d, %s", code, stderr)
	}
}

// A clip that is not a video fails every --compare row: the table still
// says why for each, and the exit code is plain bench's for the same clip.
func TestBenchCompareUnreadableClip(t *testing.T) {
	model := tinyModelFile(t)
	t.Setenv(cliChildEnv, "1")
	clip := filepath.Join(t.TempDir(), "garbage.mp4")
	if err := os.WriteFile(clip, []byte(strings.Repeat("not a video ", 400)), 0o644); err != nil {
		t.Fatal(err)
	}
	data := writeColourImages(t, 1)
	plain, _, stderr := runCmd(t, "bench", "--model", model, "--input", clip, "--frames", "5")
	if plain != 2 {
		t.Fatalf("plain bench on a file that is not a video: exit %d, want 2: %s", plain, stderr)
	}
	code, stdout, stderr := runCmd(t, "bench", "--compare", "--model", model, "--input", clip, "--data", data,
		"--warmup", "1", "--frames", "5", "--infer-iters", "5", "--realtime-frames", "5")
	if code != plain {
		t.Errorf("--compare: exit %d, want %d as plain bench; stderr %s", code, plain, stderr)
	}
	if !strings.Contains(stdout, "onnxruntime fp32 cpu   not run: see below") || !strings.Contains(stdout, "cannot open video source") {
		t.Errorf("the table is missing or lacks the reason:\n%s", stdout)
	}
	if !strings.Contains(stderr, "every --compare row failed") || !strings.Contains(stderr, "cannot open video source") {
		t.Errorf("stderr does not say every row failed and why: %s", stderr)
	}
}
