package capture

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gocv.io/x/gocv"
)

// closeWait bounds how long Close waits for the grabber to leave a blocking
// OpenCV read (a stalled network stream can block for many seconds). After
// that the grabber finishes and frees the capture on its own.
const closeWait = 3 * time.Second

// liveSource grabs frames on its own goroutine and keeps only the newest
// (or a short queue, with WithLatestOnly(false)).
type liveSource struct {
	reader       frameReader
	pool         *matPool
	info         Info
	pace         time.Duration // >0: wait this long between frames (realtime files, FromReader sources)
	stallTimeout time.Duration
	capacity     int

	stop   chan struct{} // closed by Close
	exited chan struct{} // closed by the grabber when it returns
	ready  chan struct{} // a frame or the terminal error is available (capacity 1)

	mu      sync.Mutex
	queue   []slot
	err     error
	closed  bool
	read    uint64
	dropped uint64
}

func newLiveSource(r frameReader, pool *matPool, info Info, first gocv.Mat, firstTime time.Time, pace time.Duration, cfg config) *liveSource {
	capacity := 1
	if !cfg.latestOnly {
		capacity = liveQueueFrames
	}
	s := &liveSource{
		reader:       r,
		pool:         pool,
		info:         info,
		pace:         pace,
		stallTimeout: cfg.stallTimeout,
		capacity:     capacity,
		stop:         make(chan struct{}),
		exited:       make(chan struct{}),
		ready:        make(chan struct{}, 1),
		queue:        make([]slot, 0, capacity),
	}
	s.push(slot{mat: first, seq: 0, time: firstTime})
	go s.grab(firstTime)
	return s
}

// grab runs until the reader fails or the source is closed. It owns the
// reader and closes it on the way out, so a Close that gave up waiting never
// races a read in progress.
func (s *liveSource) grab(start time.Time) {
	defer close(s.exited)
	defer s.reader.close()
	for seq := uint64(1); ; seq++ {
		if s.pace > 0 {
			due := start.Add(time.Duration(seq) * s.pace)
			if wait := time.Until(due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-s.stop:
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
		select {
		case <-s.stop:
			return
		default:
		}
		m := s.pool.get()
		if err := s.reader.next(s.stop, &m); err != nil {
			s.pool.put(m)
			s.finish(err)
			return
		}
		s.push(slot{mat: m, seq: seq, time: time.Now()})
	}
}

// push stores a grabbed frame, overwriting (and counting) the oldest unread
// one when the queue is full.
func (s *liveSource) push(f slot) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.pool.put(f.mat)
		return
	}
	if len(s.queue) == s.capacity {
		s.pool.put(s.queue[0].mat)
		copy(s.queue, s.queue[1:])
		s.queue = s.queue[:len(s.queue)-1]
		s.dropped++
	}
	s.queue = append(s.queue, f)
	s.mu.Unlock()
	s.signal()
}

func (s *liveSource) finish(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.signal()
}

func (s *liveSource) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (s *liveSource) Read(ctx context.Context) (Frame, func(), error) {
	if err := ctx.Err(); err != nil {
		return Frame{}, nil, err
	}
	var stall <-chan time.Time
	if s.stallTimeout > 0 {
		t := time.NewTimer(s.stallTimeout)
		defer t.Stop()
		stall = t.C
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return Frame{}, nil, ErrClosed
		}
		if len(s.queue) > 0 {
			f := s.queue[0]
			copy(s.queue, s.queue[1:])
			s.queue = s.queue[:len(s.queue)-1]
			s.read++
			s.mu.Unlock()
			return Frame{Mat: f.mat, Seq: f.seq, Time: f.time}, s.pool.releaser(f.mat), nil
		}
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return Frame{}, nil, err
		}
		s.mu.Unlock()
		select {
		case <-s.ready:
		case <-s.stop: // closed: the loop returns ErrClosed
		case <-s.exited: // ended: the loop returns the error
		case <-ctx.Done():
			return Frame{}, nil, ctx.Err()
		case <-stall:
			return Frame{}, nil, fmt.Errorf("%w: %s %q delivered no frame for %v", ErrSourceLost, s.info.Kind, s.info.Spec, s.stallTimeout)
		}
	}
}

func (s *liveSource) Info() Info { return s.info }

func (s *liveSource) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Read: s.read, Dropped: s.dropped}
}

func (s *liveSource) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	unread := s.queue
	s.queue = nil
	s.mu.Unlock()

	close(s.stop)
	for _, f := range unread {
		s.pool.put(f.mat)
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-s.exited:
	case <-t.C:
	}
	s.pool.close()
	return nil
}
