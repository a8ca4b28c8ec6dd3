package capture_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpscam/rpscam/capture"
	"github.com/rpscam/rpscam/capture/capturetest"
)

// fastBackoff keeps the tests quick while still exercising the doubling.
var fastBackoff = capture.Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond}

// eventLog collects reconnect events.
type eventLog struct {
	mu     sync.Mutex
	events []capture.ReconnectEvent
}

func (l *eventLog) add(e capture.ReconnectEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []capture.ReconnectEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]capture.ReconnectEvent(nil), l.events...)
}

// TestReconnectingAfterLoss: the first source breaks after 5 frames, the
// next two opens fail, the third gives a source of 4 frames that ends with
// io.EOF. Read must deliver 5 + 4 frames with increasing sequence numbers,
// announce attempts 1..3 with doubling waits and the failures, then the
// restoration, and pass the final io.EOF through.
func TestReconnectingAfterLoss(t *testing.T) {
	opens := 0
	open := func() (capture.Source, error) {
		opens++
		switch opens {
		case 1:
			return capturetest.FailAfter(capturetest.NewFake(16, 16, -1, drawSeqColour), 5, nil), nil
		case 2, 3:
			return nil, fmt.Errorf("camera busy (open %d)", opens)
		}
		return capturetest.NewFake(16, 16, 4, drawSeqColour), nil
	}
	var log eventLog
	src, err := capture.Reconnecting(open, capture.WithBackoff(fastBackoff), capture.WithReconnectListener(log.add))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	seqs, pixels, err := readAll(t, src, 0)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("ended with %v, want io.EOF from the reopened source", err)
	}
	if len(seqs) != 9 {
		t.Fatalf("read %d frames, want 5 before the loss and 4 after", len(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Errorf("seq %d after %d: sequence numbers must keep increasing across a reconnect", seqs[i], seqs[i-1])
		}
	}
	// The reopened source starts at its own frame 0.
	if pixels[5] != frameColour(0) || pixels[4] != frameColour(4) {
		t.Errorf("frames 4 and 5 are %v and %v, want the old source's frame 4 and the new one's frame 0", pixels[4], pixels[5])
	}
	if opens != 4 {
		t.Errorf("open called %d times, want 4 (first, two failures, success)", opens)
	}
	ev := log.all()
	if len(ev) != 4 {
		t.Fatalf("events %+v, want 3 attempts and a restoration", ev)
	}
	wantWaits := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
	for i, w := range wantWaits {
		e := ev[i]
		if e.Attempt != i+1 || e.Wait != w || e.Restored || !errors.Is(e.Lost, capture.ErrSourceLost) {
			t.Errorf("event %d = %+v, want attempt %d waiting %v after a loss", i, e, i+1, w)
		}
		if (i == 0) != (e.OpenErr == nil) {
			t.Errorf("event %d OpenErr = %v: only the first attempt has no previous failure", i, e.OpenErr)
		}
		if e.Status() != fmt.Sprintf("reconnecting to fake (attempt %d)…", i+1) {
			t.Errorf("event %d status %q", i, e.Status())
		}
	}
	if !ev[3].Restored || ev[3].Status() != "" {
		t.Errorf("last event %+v: want Restored with an empty status", ev[3])
	}
	if st := src.Stats(); st.Read != 9 {
		t.Errorf("Stats.Read = %d, want 9 over both sources", st.Read)
	}
}

// TestReconnectingGivesUp: a source that never comes back ends the read
// with the loss and the last open error once GiveUpAfter has passed.
func TestReconnectingGivesUp(t *testing.T) {
	opens := 0
	open := func() (capture.Source, error) {
		opens++
		if opens == 1 {
			return capturetest.FailAfter(capturetest.NewFake(8, 8, -1, nil), 2, nil), nil
		}
		return nil, errors.New("no such device")
	}
	src, err := capture.Reconnecting(open, capture.WithBackoff(capture.Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, GiveUpAfter: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	seqs, _, err := readAll(t, src, 0)
	if len(seqs) != 2 || !errors.Is(err, capture.ErrSourceLost) {
		t.Fatalf("read %d frames then %v, want 2 then ErrSourceLost", len(seqs), err)
	}
	for _, want := range []string{"gave up reconnecting", "no such device"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if opens < 4 {
		t.Errorf("only %d opens in 100 ms of 10-20 ms waits", opens)
	}
}

// TestReconnectingPassesEndsAndFirstFailure: io.EOF is an end, not a loss,
// and a source that cannot be opened at all is the caller's error at once.
func TestReconnectingPassesEndsAndFirstFailure(t *testing.T) {
	opens := 0
	src, err := capture.Reconnecting(func() (capture.Source, error) {
		opens++
		return capturetest.NewFake(8, 8, 3, nil), nil
	}, capture.WithBackoff(fastBackoff))
	if err != nil {
		t.Fatal(err)
	}
	seqs, _, err := readAll(t, src, 0)
	src.Close()
	if len(seqs) != 3 || !errors.Is(err, io.EOF) || opens != 1 {
		t.Fatalf("%d frames, %v, %d opens: want 3, io.EOF, 1", len(seqs), err, opens)
	}

	wantErr := &capture.OpenError{Spec: "0", Reason: "camera 0: /dev/video0 does not exist"}
	if _, err := capture.Reconnecting(func() (capture.Source, error) { return nil, wantErr }); !errors.Is(err, capture.ErrSourceUnavailable) {
		t.Fatalf("first open failing: %v, want the OpenError", err)
	}
	if _, err := capture.Reconnecting(nil); err == nil {
		t.Fatal("nil open accepted")
	}
	if _, err := capture.Reconnecting(func() (capture.Source, error) { return capturetest.NewFake(8, 8, 1, nil), nil },
		capture.WithBackoff(capture.Backoff{Initial: time.Second, Max: time.Millisecond})); err == nil {
		t.Fatal("Max < Initial accepted")
	}
}

// TestReconnectingCloseAndCancelUnblock: a Read waiting between attempts
// returns promptly on Close and on context cancellation.
func TestReconnectingCloseAndCancelUnblock(t *testing.T) {
	for _, how := range []string{"close", "cancel"} {
		t.Run(how, func(t *testing.T) {
			first := true
			src, err := capture.Reconnecting(func() (capture.Source, error) {
				if first {
					first = false
					return capturetest.FailAfter(capturetest.NewFake(8, 8, -1, nil), 0, nil), nil
				}
				return nil, errors.New("still gone")
			}, capture.WithBackoff(capture.Backoff{Initial: time.Hour}))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, _, err := src.Read(ctx)
				done <- err
			}()
			time.Sleep(50 * time.Millisecond)
			want := capture.ErrClosed
			if how == "close" {
				src.Close()
			} else {
				cancel()
				want = context.Canceled
			}
			select {
			case err := <-done:
				if !errors.Is(err, want) {
					t.Fatalf("Read returned %v, want %v", err, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Read still blocked 5 s after %s", how)
			}
		})
	}
}

// TestReconnectingGStreamerEnds: a live GStreamer pipeline that stops (a
// videotestsrc with a buffer limit, marked live, stands in for a camera
// that goes away) is reopened, and its frames keep coming.
func TestReconnectingGStreamerEnds(t *testing.T) {
	const pipe = "videotestsrc is-live=true num-buffers=6 ! video/x-raw,width=64,height=48,framerate=60/1 ! videoconvert ! appsink"
	opens := 0
	var log eventLog
	src, err := capture.Reconnecting(func() (capture.Source, error) {
		opens++
		return capture.Open(pipe, capture.WithLatestOnly(false))
	}, capture.WithBackoff(fastBackoff), capture.WithReconnectListener(log.add))
	if err != nil {
		t.Skipf("GStreamer videotestsrc unavailable: %v", err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	frames := 0
	for frames < 15 {
		_, release, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("after %d frames: %v", frames, err)
		}
		release()
		frames++
	}
	if opens < 3 {
		t.Errorf("15 frames from 6-frame pipelines took %d opens, want at least 3", opens)
	}
	restored := 0
	for _, e := range log.all() {
		if e.Restored {
			restored++
		}
	}
	if restored != opens-1 {
		t.Errorf("%d restorations for %d reopens", restored, opens-1)
	}
}
