package capture

import (
	"sync"

	"gocv.io/x/gocv"
)

// matPool recycles frame Mats. OpenCV's VideoCapture.read reuses a Mat's
// buffer when size and type match, so a frame read into a recycled Mat costs
// no allocation. The pool grows when callers hold more frames than it has
// free (a pipeline with frames in flight) and keeps every Mat it has made
// until close, so steady state allocates nothing.
type matPool struct {
	mu     sync.Mutex
	free   []gocv.Mat
	closed bool
}

func (p *matPool) get() gocv.Mat {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		m := p.free[n-1]
		p.free = p.free[:n-1]
		return m
	}
	return gocv.NewMat()
}

// put returns m to the pool; after close it closes m instead, so frames
// released after their source was closed are not leaked.
func (p *matPool) put(m gocv.Mat) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = m.Close()
		return
	}
	p.free = append(p.free, m)
}

func (p *matPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, m := range p.free {
		_ = m.Close()
	}
	p.free = nil
}

// releaser returns a release func for m that is safe to call more than once.
func (p *matPool) releaser(m gocv.Mat) func() {
	var once sync.Once
	return func() { once.Do(func() { p.put(m) }) }
}
