package capture_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
)

// frameColour is the solid BGR colour of test-clip frame i: blue steps by 8
// per frame so frames stay tell-apart after JPEG compression.
func frameColour(i int) [3]uint8 {
	return [3]uint8{uint8((i * 8) % 256), uint8(255 - (i*8)%256), 128}
}

// colourTolerance absorbs JPEG rounding on solid colours; well under the
// step of 8 between neighbouring frames.
const colourTolerance = 3

// writeClip writes n solid-colour frames of w x h into dir/name with fourcc
// at 30 fps and returns the path.
func writeClip(tb testing.TB, dir, name, fourcc string, n, w, h int) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	vw, err := gocv.VideoWriterFile(path, fourcc, 30, w, h, true)
	if err != nil {
		tb.Fatalf("VideoWriterFile: %v", err)
	}
	if !vw.IsOpened() {
		_ = vw.Close()
		tb.Skipf("OpenCV cannot write %s with fourcc %s here (no encoder backend)", name, fourcc)
	}
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	defer m.Close()
	for i := 0; i < n; i++ {
		c := frameColour(i)
		m.SetTo(gocv.NewScalar(float64(c[0]), float64(c[1]), float64(c[2]), 0))
		if err := vw.Write(m); err != nil {
			tb.Fatalf("write frame %d: %v", i, err)
		}
	}
	if err := vw.Close(); err != nil {
		tb.Fatalf("close writer: %v", err)
	}
	return path
}

// centrePixel returns the BGR pixel at the frame's centre.
func centrePixel(m gocv.Mat) [3]uint8 {
	v := m.GetVecbAt(m.Rows()/2, m.Cols()/2)
	return [3]uint8{v[0], v[1], v[2]}
}

func near(a, b [3]uint8, tol int) bool {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < -tol || d > tol {
			return false
		}
	}
	return true
}

// readAll reads src to its end with a deadline, so a hang fails the test
// instead of stalling the run. It returns the frames' Seqs, the centre pixels
// and the terminal error.
func readAll(t *testing.T, src capture.Source, perFrame time.Duration) (seqs []uint64, pixels [][3]uint8, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		f, release, err := src.Read(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("source did not end within 30s (read %d frames)", len(seqs))
			}
			return seqs, pixels, err
		}
		if f.Mat.Channels() != 3 || f.Mat.Type() != gocv.MatTypeCV8UC3 {
			t.Errorf("frame %d: type %v, want 8-bit BGR", f.Seq, f.Mat.Type())
		}
		seqs = append(seqs, f.Seq)
		pixels = append(pixels, centrePixel(f.Mat))
		release()
		if perFrame > 0 {
			time.Sleep(perFrame)
		}
	}
}

// seqGaps sums the frames skipped between consecutive Seqs, including
// before the first.
func seqGaps(seqs []uint64) uint64 {
	var gaps, next uint64
	for _, s := range seqs {
		gaps += s - next
		next = s + 1
	}
	return gaps
}

var _ = io.EOF
