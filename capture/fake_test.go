package capture_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/capture/capturetest"
)

// drawSeqColour paints frame seq in frameColour(seq).
func drawSeqColour(seq int, m *gocv.Mat) {
	c := frameColour(seq)
	m.SetTo(gocv.NewScalar(float64(c[0]), float64(c[1]), float64(c[2]), 0))
}

func TestNewFake(t *testing.T) {
	src := capturetest.NewFake(32, 24, 5, drawSeqColour)
	defer src.Close()
	info := src.Info()
	if info.Spec != "fake" || info.Kind != capture.File || info.Live || info.Width != 32 || info.Height != 24 || info.FrameCount != 5 {
		t.Errorf("Info = %+v", info)
	}
	seqs, pixels, err := readAll(t, src, 0)
	if !errors.Is(err, io.EOF) || len(seqs) != 5 {
		t.Fatalf("read %d frames then %v, want 5 then io.EOF", len(seqs), err)
	}
	for i := range seqs {
		if seqs[i] != uint64(i) || pixels[i] != frameColour(i) {
			t.Errorf("frame %d: seq %d colour %v, want seq %d colour %v", i, seqs[i], pixels[i], i, frameColour(i))
		}
	}

	// Reused Mats are cleared: a draw that paints nothing yields black.
	blank := capturetest.NewFake(8, 8, 3, func(seq int, m *gocv.Mat) {
		if seq == 0 {
			m.SetTo(gocv.NewScalar(255, 255, 255, 0))
		}
	})
	defer blank.Close()
	_, pixels, _ = readAll(t, blank, 0)
	if len(pixels) != 3 || pixels[0] != [3]uint8{255, 255, 255} || pixels[2] != [3]uint8{0, 0, 0} {
		t.Errorf("blank fake pixels %v: frame 0 white, later frames must be black", pixels)
	}

	if _, _, err := capturetest.NewFake(0, 10, 1, nil).Read(context.Background()); err == nil {
		t.Error("NewFake with width 0: Read succeeded")
	}
	empty := capturetest.NewFake(4, 4, 0, nil)
	if _, _, err := empty.Read(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("NewFake with n=0: %v, want io.EOF", err)
	}
	empty.Close()
}

func TestNewFakeEndless(t *testing.T) {
	src := capturetest.NewFake(16, 16, -1, nil)
	defer src.Close()
	for i := 0; i < 100; i++ {
		f, release, err := src.Read(context.Background())
		if err != nil || f.Seq != uint64(i) {
			t.Fatalf("frame %d: seq %d, %v", i, f.Seq, err)
		}
		release()
	}
	if src.Info().FrameCount != -1 {
		t.Errorf("endless fake FrameCount = %d, want -1", src.Info().FrameCount)
	}
}

func TestNewFakeLiveDropsForSlowReader(t *testing.T) {
	src := capturetest.NewFakeLive(32, 24, 200, drawSeqColour)
	defer src.Close()
	if !src.Info().Live || src.Info().FPS != 200 {
		t.Errorf("Info = %+v, want live at 200 fps", src.Info())
	}
	var seqs []uint64
	for i := 0; i < 5; i++ {
		f, release, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := centrePixel(f.Mat), frameColour(int(f.Seq)); got != want {
			t.Errorf("seq %d colour %v, want %v", f.Seq, got, want)
		}
		seqs = append(seqs, f.Seq)
		release()
		time.Sleep(30 * time.Millisecond) // six frame periods
	}
	st := src.Stats()
	if st.Dropped == 0 || st.Read != 5 {
		t.Errorf("Stats %+v: a reader six frames slow must see drops", st)
	}
	// Drops counted so far cover every gap the reader saw (more may have
	// happened after the last read).
	if g := seqGaps(seqs); g > st.Dropped || g == 0 {
		t.Errorf("Seq gaps %d (seqs %v) vs Dropped %d", g, seqs, st.Dropped)
	}

	// Cancelling unblocks a waiting Read.
	slow := capturetest.NewFakeLive(8, 8, 0.5, nil)
	defer slow.Close()
	_, release, err := slow.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := slow.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read on a 0.5 fps source with a 50 ms deadline: %v, want DeadlineExceeded", err)
	}
}

func TestFailAfter(t *testing.T) {
	boom := errors.New("boom")
	src := capturetest.FailAfter(capturetest.NewFake(8, 8, -1, nil), 3, boom)
	defer src.Close()
	for i := 0; i < 3; i++ {
		_, release, err := src.Read(context.Background())
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		release()
	}
	for i := 0; i < 2; i++ {
		if _, _, err := src.Read(context.Background()); !errors.Is(err, boom) {
			t.Errorf("read %d after the limit: %v, want boom", 4+i, err)
		}
	}
	if st := src.Stats(); st.Read != 3 {
		t.Errorf("Stats passes through: Read %d, want 3", st.Read)
	}
	lost := capturetest.FailAfter(capturetest.NewFake(8, 8, -1, nil), 0, nil)
	defer lost.Close()
	if _, _, err := lost.Read(context.Background()); !errors.Is(err, capture.ErrSourceLost) {
		t.Errorf("FailAfter with nil err: %v, want ErrSourceLost", err)
	}
}

func TestStallAfter(t *testing.T) {
	src := capturetest.StallAfter(capturetest.NewFake(8, 8, -1, nil), 2)
	defer src.Close()
	for i := 0; i < 2; i++ {
		_, release, err := src.Read(context.Background())
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		release()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := src.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read after the stall point: %v, want DeadlineExceeded", err)
	}
}

func TestCloseUnblocksLiveRead(t *testing.T) {
	src := capturetest.NewFakeLive(8, 8, 0.5, nil)
	_, release, err := src.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
	done := make(chan error, 1)
	go func() {
		_, _, err := src.Read(context.Background()) // the next frame is 2 s away
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, capture.ErrClosed) {
			t.Errorf("Read blocked across Close returned %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock a waiting Read")
	}
}
