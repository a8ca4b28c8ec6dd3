package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/ort"
	"github.com/rpscam/rpscam/internal/versions"
)

func TestVersion(t *testing.T) {
	if _, err := ort.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not installed: %v", err)
	}
	code, stdout, stderr := runCmd(t, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r versions.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Go != runtime.Version() || r.OpenCV != "4.6.0" || r.ONNXRuntime != ort.Version || r.Rpscam != versions.Rpscam {
		t.Fatalf("versions %+v", r)
	}
	cpu := false
	for _, p := range r.Providers {
		cpu = cpu || p == "CPUExecutionProvider"
	}
	if !cpu {
		t.Fatalf("providers %v lack the CPU provider", r.Providers)
	}
	code, stdout, _ = runCmd(t, "version")
	if code != 0 || !strings.Contains(stdout, "ONNX Runtime  "+ort.Version) || !strings.Contains(stdout, "OpenCV        4.6.0") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	code, stdout, stderr = runCmd(t, "version", "--ort-lib", "/nonexistent/libonnxruntime.so")
	if code != 2 || !strings.Contains(stdout, "ONNX Runtime  unavailable") || !strings.Contains(stderr, "--ort-lib") {
		t.Fatalf("missing library: exit %d\n%s%s", code, stdout, stderr)
	}
}
