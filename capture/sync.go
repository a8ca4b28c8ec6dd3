package capture

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"
)

// frameReader produces frames one at a time into a caller's Mat. next
// returns io.EOF at the end of the stream; stop, when closed, aborts any
// waiting next does of its own (a blocked OpenCV read cannot be aborted).
type frameReader interface {
	next(stop <-chan struct{}, dst *gocv.Mat) error
	close()
}

// slot is a grabbed frame waiting to be read.
type slot struct {
	mat  gocv.Mat
	seq  uint64
	time time.Time
}

// syncSource reads frames on the caller's goroutine: every frame, in order.
type syncSource struct {
	mu      sync.Mutex
	reader  frameReader
	pool    *matPool
	info    Info
	pending *slot // the first frame, read by Open to prove the source works
	nextSeq uint64
	done    error // terminal error, returned by every later Read
	closed  bool
	read    atomic.Uint64 // atomic so Stats need not wait for a decode in progress
}

func newSyncSource(r frameReader, pool *matPool, info Info, first gocv.Mat, firstTime time.Time) *syncSource {
	s := &syncSource{reader: r, pool: pool, info: info, nextSeq: 1}
	s.pending = &slot{mat: first, seq: 0, time: firstTime}
	return s
}

func (s *syncSource) Read(ctx context.Context) (Frame, func(), error) {
	if err := ctx.Err(); err != nil {
		return Frame{}, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Frame{}, nil, ErrClosed
	}
	var got slot
	switch {
	case s.pending != nil:
		got, s.pending = *s.pending, nil
	case s.done != nil:
		return Frame{}, nil, s.done
	default:
		m := s.pool.get()
		if err := s.reader.next(ctx.Done(), &m); err != nil {
			s.pool.put(m)
			if ctx.Err() != nil && err == ctx.Err() {
				return Frame{}, nil, err
			}
			s.done = err
			return Frame{}, nil, err
		}
		got = slot{mat: m, seq: s.nextSeq, time: time.Now()}
		s.nextSeq++
	}
	s.read.Add(1)
	return Frame{Mat: got.mat, Seq: got.seq, Time: got.time}, s.pool.releaser(got.mat), nil
}

func (s *syncSource) Info() Info { return s.info }

func (s *syncSource) Stats() Stats { return Stats{Read: s.read.Load()} }

func (s *syncSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.pending != nil {
		s.pool.put(s.pending.mat)
		s.pending = nil
	}
	s.reader.close()
	s.pool.close()
	return nil
}
