package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpscam/rpscam/internal/shareddata"
)

func TestDemoClip(t *testing.T) {
	shared, err := shareddata.Dir("")
	if err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	out := filepath.Join(t.TempDir(), "clip", "demo.mp4")
	code, stdout, stderr := runCmd(t, "democlip", "--out", out, "--shared", shared, "--images", "10", "--per-image", "3", "--size", "320x240")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "30 frames (10 photos x 3), 320x240") || !strings.Contains(stdout, "avc1") {
		t.Fatalf("summary: %s", stdout)
	}
	n := readVideo(t, out, nil)
	if n != 30 {
		t.Fatalf("%s holds %d frames, want 30", out, n)
	}
	f, err := os.Open(filepath.Join(filepath.Dir(out), "demo.truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 31 {
		t.Fatalf("truth: %d rows, %v", len(rows), err)
	}
	// rock, paper, scissors and an empty scene in turn, 3 frames each; the
	// first round's hands from sxsw, the second's from subhih, the third's
	// from the CGI renders; every empty scene from subhih's test split.
	for i, row := range rows[1:] {
		want := []string{"rock", "paper", "scissors", "none"}[(i/3)%4]
		if row[1] != want {
			t.Fatalf("frame %d labelled %s, want %s", i, row[1], want)
		}
		set := []string{"data/rps-real/sxsw/test", "data/rps-real/subhih/test", "data/rps-cgi/test"}[i/12]
		if want == "none" {
			set = "data/rps-real/subhih/test"
		}
		if !strings.HasPrefix(row[2], set) || !strings.Contains(row[2], "/"+row[1]+"/") {
			t.Fatalf("frame %d image %s, want one from %s/%s", i, row[2], set, row[1])
		}
	}
	// Deterministic: a second run picks the same photos.
	out2 := filepath.Join(t.TempDir(), "again.mp4")
	runCmd(t, "democlip", "--out", out2, "--shared", shared, "--images", "10", "--per-image", "3", "--size", "320x240")
	a, _ := os.ReadFile(filepath.Join(filepath.Dir(out), "demo.truth.csv"))
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(out2), "again.truth.csv"))
	if string(a) != string(b) {
		t.Fatal("two runs picked different photos")
	}
	if code, _, stderr := runCmd(t, "democlip", "--out", out, "--size", "big"); code != 2 || !strings.Contains(stderr, "WIDTHxHEIGHT") {
		t.Fatalf("bad size: exit %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, "democlip", "--out", out, "--shared", t.TempDir()); code != 2 {
		t.Fatalf("empty shared folder: exit %d, want 2", code)
	}
}
