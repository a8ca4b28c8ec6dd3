package session

import (
	"fmt"
	"sync"

	"github.com/rpscam/rpscam/capture"
)

// maxAutoWorkers bounds Workers 0 (auto): past 4 instances each added one
// costs its memory (about 30 MB) for ever smaller gains, and ONNX Runtime's
// own threads use the remaining cores better.
const maxAutoWorkers = 4

// resolveWorkers settles Workers 0 (auto) for the source, before any model
// is loaded. A video file read as fast as it decodes is a throughput job:
// one model instance per core, each single-threaded, keeps every core on
// inference (measured faster; README "Performance"). Anything else may be a
// live source delivering 30 or 60 frames a second, where what counts is how
// fresh the label is: one instance using every core, the lowest latency.
// An explicit Workers or Threads is kept.
func resolveWorkers(cfg *Config, cores int) {
	if cfg.Workers != 0 {
		return
	}
	cfg.Workers = 1
	if cfg.Source.Kind != capture.File || cfg.Realtime || cores < 2 {
		return
	}
	cfg.Workers = min(cores, maxAutoWorkers)
	if cfg.Threads == 0 {
		cfg.Threads = max(1, cores/cfg.Workers)
	}
}

// openSource opens the configured source; a camera, device, stream or
// pipeline (a file ends, it is not lost) is reopened with backoff when
// Config.Reconnect is set.
func (s *Session) openSource() (capture.Source, error) {
	cfg := &s.cfg
	var opts []capture.Option
	if cfg.Width > 0 {
		opts = append(opts, capture.WithSize(cfg.Width, cfg.Height))
	}
	if cfg.FPS != 0 {
		opts = append(opts, capture.WithFPS(cfg.FPS))
	}
	opts = append(opts, capture.WithMJPG(cfg.MJPG), capture.WithRealtime(cfg.Realtime))
	if !cfg.Reconnect || cfg.Source.Kind == capture.File {
		return capture.OpenSpec(cfg.Source, opts...)
	}
	if cfg.SourceTimeout > 0 {
		opts = append(opts, capture.WithStallTimeout(cfg.SourceTimeout))
	}
	backoff := capture.DefaultBackoff
	backoff.GiveUpAfter = cfg.GiveUp
	return capture.Reconnecting(func() (capture.Source, error) { return capture.OpenSpec(cfg.Source, opts...) },
		capture.WithBackoff(backoff), capture.WithReconnectListener(s.onReconnect))
}

// onReconnect reports an outage once when it starts and once when it ends,
// and passes every step on as the status the overlay and /healthz show.
func (s *Session) onReconnect(e capture.ReconnectEvent) {
	s.status.set(e.Status())
	if s.cfg.Log == nil {
		return
	}
	switch {
	case e.Restored:
		fmt.Fprintf(s.cfg.Log, "\nrpscam: %s is back; frames flow again\n", e.Spec)
	case e.Attempt == 1:
		fmt.Fprintf(s.cfg.Log, "\nrpscam: %v\nrpscam: reconnecting to %s (waits double from %v to %v between attempts; Ctrl-C to stop)\n",
			e.Lost, e.Spec, capture.DefaultBackoff.Initial, capture.DefaultBackoff.Max)
	}
}

// statusRelay forwards the source's status to the pipeline, which is made
// after the source is opened.
type statusRelay struct {
	mu sync.Mutex
	to func(string)
	// last is kept so a status set before the pipeline exists is not lost.
	last string
}

func (r *statusRelay) set(status string) {
	r.mu.Lock()
	r.last = status
	to := r.to
	r.mu.Unlock()
	if to != nil {
		to(status)
	}
}

// connect starts forwarding to f, passing on the current status.
func (r *statusRelay) connect(f func(string)) {
	r.mu.Lock()
	r.to = f
	last := r.last
	r.mu.Unlock()
	f(last)
}
