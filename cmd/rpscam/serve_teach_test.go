package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyShared copies the first n images of each class of a licensed shared
// source into dir/<class>/, as samples a user recorded earlier.
func copyShared(t *testing.T, shared, dir string, n int) {
	t.Helper()
	for _, c := range []string{"rock", "paper", "scissors", "none"} {
		src := filepath.Join(shared, "data", "rps-real", "parikshitkumar1", c)
		names, err := os.ReadDir(src)
		if err != nil || len(names) < n {
			t.Skipf("%s: %d images (%v)", src, len(names), err)
		}
		if err := os.MkdirAll(filepath.Join(dir, c), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range names[:n] {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, c, "old-"+e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The binary with --samples: the Teach panel records live frames as
// samples, trains, swaps the taught model in (written inside the samples
// folder only) and resets to the shipped model, while the stream runs.
func TestServeTeachEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and trains")
	}
	model, shared := shippedForTeach(t)
	bin := buildRpscam(t)
	samples := filepath.Join(t.TempDir(), "samples")
	copyShared(t, shared, samples, 12)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, base, w, stdout := startServe(t, ctx, bin, "--model", model, "--precision", "fp32", "--device", "cpu",
		"--samples", samples, "--shared", shared,
		"--input", "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert ! appsink")
	defer cmd.Process.Kill()
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	state := func() map[string]any {
		t.Helper()
		resp, err := http.Get(base + "/api/teach")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	count := func(class string) int {
		for _, c := range state()["classes"].([]any) {
			if c := c.(map[string]any); c["name"] == class {
				return int(c["count"].(float64))
			}
		}
		t.Fatalf("no class %s", class)
		return 0
	}
	if st := state(); st["available"] != true || count("paper") != 12 {
		t.Fatalf("teach state %v: want available with the 12 copied paper samples", st)
	}
	if code, m := post("/api/teach/record", `{"class":"paper","action":"start"}`); code != 200 {
		t.Fatalf("record start: %d %v", code, m)
	}
	time.Sleep(time.Second)
	if code, m := post("/api/teach/record", `{"class":"paper","action":"stop"}`); code != 200 {
		t.Fatalf("record stop: %d %v", code, m)
	}
	recorded := count("paper") - 12
	files, _ := os.ReadDir(filepath.Join(samples, "paper"))
	if recorded < 5 || len(files) != 12+recorded {
		t.Errorf("1 s of a 30 fps source recorded %d samples (%d files): want at least 5, one file each", recorded, len(files))
	}
	code, m := post("/api/teach/train", `{}`)
	if code != 200 || m["model"] != "taught.onnx" {
		t.Fatalf("train: %d %v\n%s", code, m, w.String())
	}
	if _, err := os.Stat(filepath.Join(samples, "taught.onnx")); err != nil {
		t.Errorf("the taught model is not in the samples folder: %v", err)
	}
	if st := state(); st["taught"] != true || st["model"] != "taught.onnx" {
		t.Errorf("after train: taught %v model %v", st["taught"], st["model"])
	}
	if code, m := post("/api/teach/reset", `{}`); code != 200 {
		t.Fatalf("reset: %d %v", code, m)
	}
	if st := state(); st["taught"] != false || st["model"] != filepath.Base(model) {
		t.Errorf("after reset: taught %v model %v", st["taught"], st["model"])
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if !strings.Contains(stdout.String(), "frames processed") {
		t.Errorf("stdout %q", stdout.String())
	}
}
