package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/model"
)

// TestTrainParamsUnchanged trains both recipes on generated noisy images
// (two views, a validation split, one thread) and compares the parameter
// files' sha256 with testdata/train-params.sha256 when that file has a line
// for this machine's platform and ONNX Runtime library: the check that a
// change to the training code leaves the trained parameters bit for bit.
// Write the lines with RPSCAM_UPDATE_PARAMS_SHA=1.
func TestTrainParamsUnchanged(t *testing.T) {
	shared, lib, tmp, _ := tinyTrainingRun(t)
	data := filepath.Join(tmp, "noisy")
	rng := rand.New(rand.NewPCG(1, 2))
	colours := [][3]float64{{40, 40, 200}, {40, 200, 40}, {200, 40, 40}, {120, 120, 120}}
	for c, class := range []string{"rock", "paper", "scissors", "none"} {
		for i := range 5 {
			noisyImage(t, filepath.Join(data, class, fmt.Sprintf("%d.png", i)), colours[c], rng)
		}
	}
	libSum, err := model.FileSHA256(lib)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mode := range []string{"head", "finetune"} {
		params := filepath.Join(tmp, mode+".params")
		args := []string{"train", "--mode", mode, "--shared", shared, "--only-sources", "--source", "gen=" + data, "--views", "2", "--threads", "1",
			"--epochs", "3", "--seed", "5", "--val-fraction", "0.3", "--backbone", filepath.Join(tmp, "backbone.onnx"), "--cache", filepath.Join(tmp, "cache"),
			"--params-out", params, "--record", filepath.Join(tmp, mode+".json"), "--out", "", "--curve", "", "--ort-lib", lib}
		if mode == "finetune" {
			args = append(args, "--tune", "conv1", "--ft-epochs", "2", "--tests=false", "--trunk", filepath.Join(tmp, "trunk.onnx"))
		}
		var stdout, stderr bytes.Buffer
		if code := run(&cliEnv{stdout: &stdout, stderr: &stderr}, args); code != exitOK {
			t.Fatalf("%s: exit %d: %s\n%s", mode, code, stderr.String(), stdout.String())
		}
		sum := paramsSHA256(t, params)
		got = append(got, fmt.Sprintf("%s %s ort-%s %s", sum, mode, libSum[:16], runtimeKey()))
		checkRecordParams(t, params, filepath.Join(tmp, mode+".json"))
		if mode == "head" {
			// The same run again over its own outputs: the record it
			// replaces names the same weights, and the log says so.
			stdout.Reset()
			stderr.Reset()
			if code := run(&cliEnv{stdout: &stdout, stderr: &stderr}, args); code != exitOK {
				t.Fatalf("head rerun: exit %d: %s", code, stderr.String())
			}
			if log := stdout.String() + stderr.String(); !strings.Contains(log, "the same parameters as the record this run replaced") {
				t.Errorf("rerun log does not say the parameters are the same:\n%s", log)
			}
		}
	}
	golden := filepath.Join("testdata", "train-params.sha256")
	if os.Getenv("RPSCAM_UPDATE_PARAMS_SHA") != "" {
		if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range got {
		t.Log(line)
		_, key, _ := strings.Cut(line, " ")
		for _, w := range strings.Split(strings.TrimSpace(string(want)), "\n") {
			if _, wkey, _ := strings.Cut(w, " "); wkey == key && w != line {
				t.Errorf("trained parameters changed:\n got %s\nwant %s", line, w)
			}
		}
	}
}

// checkRecordParams checks a training record's params entry against the
// params file it describes: the file's sha256, and weights_sha256 against
// the weights read back.
func checkRecordParams(t *testing.T, paramsPath, recordPath string) {
	t.Helper()
	p, err := model.ReadParams(paramsPath)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := model.FileSHA256(paramsPath)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(recordPath)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Params struct {
			SHA256        string `json:"sha256"`
			WeightsSHA256 string `json:"weights_sha256"`
		} `json:"params"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Params.SHA256 != sum {
		t.Errorf("%s: params sha256 %q, %s has %s", recordPath, rec.Params.SHA256, paramsPath, sum)
	}
	if want := p.WeightsSHA256(); rec.Params.WeightsSHA256 != want {
		t.Errorf("%s: weights_sha256 %q, the weights of %s hash to %s", recordPath, rec.Params.WeightsSHA256, paramsPath, want)
	}
}

// paramsSHA256 is the sha256 of a params file written again without its
// training date: the parameters, labels and the rest of the metadata.
func paramsSHA256(t *testing.T, path string) string {
	t.Helper()
	p, err := model.ReadParams(path)
	if err != nil {
		t.Fatal(err)
	}
	delete(p.Meta, "training_date")
	if err := model.WriteParams(path+".nodate", p); err != nil {
		t.Fatal(err)
	}
	sum, err := model.FileSHA256(path + ".nodate")
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// runtimeKey names the CPU model: features from ONNX Runtime differ in the
// last bits between CPUs, so the expected sums hold per machine.
func runtimeKey() string {
	host, _ := os.ReadFile("/proc/cpuinfo")
	model := "cpu"
	for _, l := range strings.Split(string(host), "\n") {
		if name, ok := strings.CutPrefix(l, "model name"); ok {
			model = strings.Join(strings.Fields(strings.TrimLeft(name, "\t :")), "_")
			break
		}
	}
	sum := sha256.Sum256([]byte(model))
	return "cpu-" + hex.EncodeToString(sum[:6])
}

// noisyImage writes a 48x64 image of colour bgr with per-pixel noise.
func noisyImage(t *testing.T, path string, bgr [3]float64, rng *rand.Rand) {
	t.Helper()
	img := gocv.NewMatWithSize(48, 64, gocv.MatTypeCV8UC3)
	defer img.Close()
	for y := range 48 {
		for x := range 64 {
			for c := range 3 {
				img.SetUCharAt(y, x*3+c, uint8(min(max(bgr[c]+rng.NormFloat64()*30, 0), 255)))
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if !gocv.IMWrite(path, img) {
		t.Fatalf("writing %s", path)
	}
}

// TestCommittedRecordNamesCommittedParams: models/training-record.json is the
// record of the run that wrote models/rps_head.params, so both its checksums
// match that file; a retrained params file committed without its record (or
// the other way round) fails here.
func TestCommittedRecordNamesCommittedParams(t *testing.T) {
	root := filepath.Join("..", "..")
	paramsPath := filepath.Join(root, "models", "rps_head.params")
	recordPath := filepath.Join(root, "models", "training-record.json")
	checkRecordParams(t, paramsPath, recordPath)
}
