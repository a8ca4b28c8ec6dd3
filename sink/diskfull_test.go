package sink

import (
	"github.com/rpscam/rpscam/internal/tmpfstest"

	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// TestRecorderStopsBeforeTheDiskIsFull fills a 6 MiB file system with
// incompressible MJPG frames: Write must fail with ErrDiskFull while the
// reserve is still free, and the file must play back every frame written.
func TestRecorderStopsBeforeTheDiskIsFull(t *testing.T) {
	dir := tmpfstest.Mount(t, "6m")
	path := filepath.Join(dir, "full.avi")
	rec, err := NewRecorder(path, 30, 320, 240, withDiskReserve(2<<20))
	if err != nil {
		t.Fatal(err)
	}
	frame := gocv.NewMatWithSize(240, 320, gocv.MatTypeCV8UC3)
	defer frame.Close()
	var writeErr error
	for i := 0; i < 10000 && writeErr == nil; i++ {
		gocv.RandU(&frame, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(255, 255, 255, 0))
		writeErr = rec.Write(frame)
	}
	if !errors.Is(writeErr, ErrDiskFull) {
		t.Fatalf("writing noise to a 6 MiB disk ended with %v, want ErrDiskFull", writeErr)
	}
	for _, want := range []string{path, "left on its file system", "playable"} {
		if !strings.Contains(writeErr.Error(), want) {
			t.Errorf("error %q lacks %q", writeErr, want)
		}
	}
	written := rec.Frames()
	if err := rec.Close(); !errors.Is(err, ErrDiskFull) {
		t.Errorf("Close = %v, want the ErrDiskFull that stopped the recording", err)
	}
	if written < 10 {
		t.Fatalf("only %d frames written before the disk filled", written)
	}
	if v := readBack(t, path); v.frames != written {
		t.Fatalf("%s plays %d frames, %d were written", path, v.frames, written)
	}

	// A disk already below the reserve is refused before anything is written.
	if _, err := NewRecorder(filepath.Join(dir, "more.avi"), 30, 32, 32, withDiskReserve(64<<20)); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("NewRecorder on a nearly full disk: %v, want ErrDiskFull", err)
	}
	if err := CheckOutput(filepath.Join(dir, "more.avi")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("CheckOutput on a 6 MiB disk: %v, want ErrDiskFull (below the default reserve)", err)
	}
}

// TestCheckOutputRefusesUnwritable: a read-only file system, a missing
// folder, a folder as the file and an unknown extension all wrap
// ErrUnwritable and name the path.
func TestCheckOutputRefusesUnwritable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "out.mp4")
	asDir := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.Mkdir(asDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		missing:                               "does not exist",
		asDir:                                 "it is a directory",
		filepath.Join(t.TempDir(), "out.flv"): "not supported",
		filepath.Join(t.TempDir(), "no-ext-file"): "not supported",
	}
	ro := mountTmpfsOrEmpty(t)
	if ro != "" {
		cases[filepath.Join(ro, "out.mp4")] = "not writable"
	}
	for path, want := range cases {
		err := CheckOutput(path)
		if !errors.Is(err, ErrUnwritable) || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckOutput(%s) = %v, want ErrUnwritable mentioning %q", path, err, want)
		}
		if _, err := NewRecorder(path, 30, 32, 32); !errors.Is(err, ErrUnwritable) {
			t.Errorf("NewRecorder(%s) = %v, want ErrUnwritable", path, err)
		}
	}
	if err := CheckOutput(filepath.Join(t.TempDir(), "ok.mp4")); err != nil {
		t.Errorf("CheckOutput on a writable temp folder: %v", err)
	}
}

// mountTmpfsOrEmpty mounts a read-only tmpfs (root ignores permission bits,
// so chmod cannot make a folder read-only for the test), or returns "".
func mountTmpfsOrEmpty(t *testing.T) string {
	dir := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", dir).Run(); err != nil {
		t.Logf("no read-only mount (needs root); the read-only case is not run: %v", err)
		return ""
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}
