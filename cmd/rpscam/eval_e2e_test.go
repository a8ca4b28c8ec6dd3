package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/sharedtest"
)

// TestAssembledModelOnCGITest is the end-to-end check: the model
// scripts/setup.sh assembles scores at least 99% on the official TFDS test
// split through rpscam eval (the live preprocessing).
func TestAssembledModelOnCGITest(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 372-image end-to-end evaluation")
	}
	lib, err := ort.FindLibrary("")
	if err != nil {
		t.Skip(err)
	}
	modelPath := filepath.Join("..", "..", "models", "rps_mobilenetv2.onnx")
	if _, err := os.Stat(modelPath); err != nil {
		t.Skipf("%s not assembled (run scripts/setup.sh): %v", modelPath, err)
	}
	data := filepath.Join(sharedtest.Dir(t, "data", "rps-cgi", "test"), "data", "rps-cgi", "test")
	jsonPath := filepath.Join(t.TempDir(), "cgi.json")
	var stdout, stderr bytes.Buffer
	if code := run(&cliEnv{stdout: &stdout, stderr: &stderr}, []string{"eval", "--data", data, "--model", modelPath, "--ort-lib", lib, "--json", jsonPath}); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep struct {
		Accuracy float64 `json:"accuracy"`
		N        int     `json:"n"`
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.N != 372 || rep.Accuracy < 0.99 {
		t.Fatalf("accuracy %.4f on %d images, want >= 0.99 on 372\n%s", rep.Accuracy, rep.N, stdout.String())
	}
	t.Logf("CGI test accuracy %.4f", rep.Accuracy)
}
