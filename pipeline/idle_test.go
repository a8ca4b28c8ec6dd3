package pipeline

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// gapSource delivers before frames, then blocks until resume is closed (a
// camera away while it reconnects), then after more frames and io.EOF.
type gapSource struct {
	fakeSource
	before int
	resume chan struct{}
	onGap  func()
	once   sync.Once
}

func (s *gapSource) Read(ctx context.Context) (Frame, func(), error) {
	if s.next == s.before {
		s.once.Do(s.onGap)
		select {
		case <-s.resume:
		case <-ctx.Done():
			return Frame{}, nil, ctx.Err()
		}
	}
	return s.fakeSource.Read(ctx)
}

// TestIdleShowsStatusWhileNoFramesFlow: while the source is away the idle
// callback runs on the output goroutine with the status the source set,
// and the frames before and after the gap all reach the sinks in order.
func TestIdleShowsStatusWhileNoFramesFlow(t *testing.T) {
	src := &gapSource{fakeSource: fakeSource{w: 16, h: 16, n: 6}, before: 3, resume: make(chan struct{})}
	var p *Pipeline
	src.onGap = func() { p.SetStatus("reconnecting…") }
	var idleStatuses []string
	var resumeOnce sync.Once
	reconnecting := 0
	idle := func(status string) error {
		idleStatuses = append(idleStatuses, status)
		// Resume once the status was seen twice: an idle call may come
		// before the gap's status is set, so the call count alone is not it.
		if status == "reconnecting…" {
			reconnecting++
		}
		if reconnecting >= 2 {
			resumeOnce.Do(func() {
				p.SetStatus("")
				close(src.resume)
			})
		}
		return nil
	}
	sink := newRecordingSink()
	p, err := New(src, &meanColourClassifier{}, WithSinks(sink), WithIdle(time.Millisecond, idle))
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 6 || !slices.Equal(sink.seqs, []uint64{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("frames %d, seqs %v: want all 6 in order", st.Frames, sink.seqs)
	}
	n := 0
	for _, s := range idleStatuses {
		if s == "reconnecting…" {
			n++
		}
	}
	if n < 2 {
		t.Fatalf("idle saw %q: want the reconnecting status at least twice while the source was away", idleStatuses)
	}
	// Frames read before the gap may still be on their way out when the
	// status is set (the status is read at output); the frames after it
	// come from a restored source and must not carry it.
	for i, s := range sink.statuses[3:] {
		if s != "" {
			t.Errorf("frame %d carries status %q: it was cleared before frames resumed", i+3, s)
		}
	}
}

// TestIdleStopAndFailure: a quit key pressed while no frame comes (idle
// returns ErrStop) ends the run cleanly; another error fails it; both
// promptly, with the source still blocked.
func TestIdleStopAndFailure(t *testing.T) {
	boom := errors.New("window gone")
	for _, c := range []struct {
		ret     error
		wantErr error
	}{{ErrStop, nil}, {boom, boom}} {
		src := &gapSource{fakeSource: fakeSource{w: 8, h: 8, n: -1}, before: 2, resume: make(chan struct{}), onGap: func() {}}
		calls := 0
		p, err := New(src, &meanColourClassifier{}, WithIdle(time.Millisecond, func(string) error {
			calls++
			if calls == 3 {
				return c.ret
			}
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.Run(context.Background())
		if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != st.Stopped {
			t.Fatalf("idle returning %v: Run = %+v, %v", c.ret, st, err)
		}
		if st.Frames != 2 || src.reads.Load() != src.releases.Load() {
			t.Fatalf("idle returning %v: %d frames, %d reads, %d releases", c.ret, st.Frames, src.reads.Load(), src.releases.Load())
		}
	}
	if _, err := New(&fakeSource{}, &meanColourClassifier{}, WithIdle(0, func(string) error { return nil })); err == nil {
		t.Fatal("WithIdle(0) accepted")
	}
}
