package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/internal/tmpfstest"
	"github.com/rpscam/rpscam/overlay"
)

// TestLiveWithoutDisplay runs live in-process with no display: it must say
// so, suggest record and serve, and exit 2 (without Qt aborting the test).
func TestLiveWithoutDisplay(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	code, _, stderr := runCmd(t, "live", "--input", "0")
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr %s", code, stderr)
	}
	for _, want := range []string{"no display", "rpscam record", "rpscam serve"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("message lacks %q: %s", want, stderr)
		}
	}
}

// A --save-dir that snapshots and recordings could not go to is refused at
// startup, before the display is even looked for.
func TestLiveSaveDirChecked(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	refused := func(t *testing.T, dir, want string) {
		t.Helper()
		code, _, stderr := runCmd(t, "live", "--input", "0", "--save-dir", dir)
		if code != 2 || !strings.Contains(stderr, "--save-dir "+dir) || !strings.Contains(stderr, want) {
			t.Errorf("--save-dir %s: exit %d, want 2 and a message naming --save-dir and %q: %s", dir, code, want, stderr)
		}
	}
	refused(t, filepath.Join(t.TempDir(), "missing"), "does not exist")
	refused(t, file, "is not a folder")
	t.Run("read-only", func(t *testing.T) {
		refused(t, tmpfstest.Mount(t, "1m", "ro"), "is not writable")
	})
	// The default, the current folder, is only warned about when read-only:
	// it was not asked for, and watching needs no folder.
	t.Run("read-only default", func(t *testing.T) {
		ro := tmpfstest.Mount(t, "1m", "ro")
		t.Chdir(ro)
		code, _, stderr := runCmd(t, "live", "--input", "0")
		if code != 2 || !strings.Contains(stderr, "warning: --save-dir . is not writable") || !strings.Contains(stderr, "no display") {
			t.Errorf("read-only current folder: exit %d, want a warning, then the no-display refusal: %s", code, stderr)
		}
	})
	// A writable folder passes, on to the display check.
	if code, _, stderr := runCmd(t, "live", "--input", "0", "--save-dir", t.TempDir()); code != 2 || !strings.Contains(stderr, "no display") {
		t.Errorf("a writable --save-dir: exit %d, want the no-display refusal: %s", code, stderr)
	}
}

// freeDisplay picks an X display number with no server.
func freeDisplay() int {
	for n := 90; n < 200; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err != nil {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err != nil {
				return n
			}
		}
	}
	return 0
}

// TestLiveUnderXvfb runs the built binary on a virtual display with a clip,
// takes a screenshot while it plays and finds the overlay's ROI box in it.
func TestLiveUnderXvfb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts Xvfb")
	}
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Skip("Xvfb not installed")
	}
	importBin, err := exec.LookPath("import")
	if err != nil {
		t.Skip("ImageMagick import not installed")
	}
	model := tinyModelFile(t)
	clip := writeColourClip(t, 150, 320, 240) // 5 s at 30 fps with --realtime
	bin := buildRpscam(t)
	n := freeDisplay()
	display := fmt.Sprintf(":%d", n)
	x := exec.Command(xvfb, display, "-screen", "0", "800x600x24", "-nolisten", "tcp")
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { x.Process.Kill(); x.Wait() }()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	saveDir := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "live", "--model", model, "--device", "cpu", "--input", clip, "--realtime", "--save-dir", saveDir)
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "XDG_RUNTIME_DIR="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Poll screenshots until the box shows (the window takes a moment to map).
	shot := filepath.Join(t.TempDir(), "screen.png")
	c := overlay.ROIRGB
	cyan := [3]uint8{uint8(c), uint8(c >> 8), uint8(c >> 16)}
	found := 0
	for i := 0; i < 40 && found < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		if out, err := exec.Command(importBin, "-display", display, "-window", "root", shot).CombinedOutput(); err != nil {
			t.Logf("import: %v %s", err, out)
			continue
		}
		found = countNear(t, shot, cyan)
	}
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("live: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if found < 50 {
		t.Fatalf("the screenshot shows %d pixels of the ROI box colour, want the box (at least 50)\n%s", found, stderr.String())
	}
	if !strings.Contains(stdout.String(), "frames processed: ") {
		t.Fatalf("no summary: %s", stdout.String())
	}
}

func countNear(t *testing.T, path string, bgr [3]uint8) int {
	m := gocv.IMRead(path, gocv.IMReadColor)
	defer m.Close()
	if m.Empty() {
		return 0
	}
	n := 0
	for y := 0; y < m.Rows(); y++ {
		for x := 0; x < m.Cols(); x++ {
			if near(m.GetVecbAt(y, x), bgr, 12) {
				n++
			}
		}
	}
	return n
}
