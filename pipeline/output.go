package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/rpscam/rpscam/internal/latency"
)

// output annotates and hands each frame to the sinks, releases it and keeps
// the statistics. It runs on Run's goroutine.
func (r *run) output() (Stats, error) {
	o := outputStage{run: r, meter: meter{measureAt: r.start, warmup: r.p.cfg.warmup}}
	next := o.receive
	if r.p.cfg.onIdle != nil {
		idle := time.NewTicker(r.p.cfg.idleEvery)
		defer idle.Stop()
		next = func() (*job, bool) { return o.receiveOrIdle(idle) }
	}
	for {
		j, ok := next()
		if !ok {
			break
		}
		if o.failed != nil || o.stopped {
			j.release()
			continue
		}
		done, shown := o.consume(j)
		j.release()
		if shown {
			o.meter.frame(j, done)
		}
	}
	stats := o.meter.summary()
	stats.Stopped = o.stopped
	return stats, o.failed
}

// outputStage is the output's state while frames come.
type outputStage struct {
	*run
	failed  error
	stopped bool
	meter   meter
}

func (o *outputStage) receive() (*job, bool) {
	j, ok := <-o.toOutput
	return j, ok
}

// receiveOrIdle waits for the next frame and calls the idle function every
// interval while none comes.
func (o *outputStage) receiveOrIdle(idle *time.Ticker) (*job, bool) {
	for {
		select {
		case j, ok := <-o.toOutput:
			idle.Reset(o.p.cfg.idleEvery)
			return j, ok
		case <-idle.C:
			if o.failed != nil || o.stopped {
				continue
			}
			if err := o.p.cfg.onIdle(*o.p.status.Load()); err != nil {
				o.stop(err, "output, while waiting for a frame")
			}
		}
	}
}

// stop ends the run: cleanly for ErrStop, else with err.
func (o *outputStage) stop(err error, where string) {
	if errors.Is(err, ErrStop) {
		o.stopped = true
	} else {
		o.failed = fmt.Errorf("%s: %w", where, err)
	}
	o.cancel()
}

// consume annotates frame j and shows it to every sink. It reports when the
// sinks were done and whether the frame counts as shown: a frame a sink
// stopped on was shown to the sinks before it, so it counts.
func (o *outputStage) consume(j *job) (done time.Time, shown bool) {
	a := Annotated{
		Mat:      j.frame.Mat,
		Seq:      j.frame.Seq,
		Index:    j.index,
		Captured: j.frame.Time,
		Labels:   j.set.labels,
		Raw:      j.raw,
		Probs:    j.probs,
		Decision: j.decision,
		ROI:      o.p.cfg.roi,
		FPS:      o.meter.fps(),
		Status:   *o.p.status.Load(),
	}
	if o.hasDrops {
		a.Dropped = o.drops.Dropped()
	}
	a.Timings = j.t // what is known so far: the overlay shows inference time
	t0 := time.Now()
	for _, tap := range o.p.cfg.taps {
		tap(j.frame.Mat, o.p.cfg.roi)
	}
	if o.p.cfg.annotator != nil {
		if err := o.p.cfg.annotator.Annotate(&a.Mat, &a); err != nil {
			o.failed = fmt.Errorf("overlay, frame %d: %w", j.frame.Seq, err)
			o.cancel()
			return time.Time{}, false
		}
	}
	t1 := time.Now()
	j.t[StageOverlay] = t1.Sub(t0)
	a.Timings = j.t
	for _, s := range o.p.cfg.sinks {
		if err := s.Consume(&a); err != nil {
			o.stop(err, fmt.Sprintf("output, frame %d", j.frame.Seq))
			break
		}
	}
	done = time.Now()
	j.t[StageOutput] = done.Sub(t1)
	return done, o.failed == nil
}

// meter keeps the statistics of the frames shown.
type meter struct {
	stats      Stats
	stages     [NumStages]latency.Samples
	lat        latency.Samples
	interval   float64 // seconds between outputs, averaged
	intervals  int
	lastOut    time.Time
	measureAt  time.Time // the output of the last warm-up frame
	lastMeasTo time.Time
	warmup     int
}

// frame counts frame j, whose sinks finished at done.
func (m *meter) frame(j *job, done time.Time) {
	m.stats.Frames++
	if !m.lastOut.IsZero() {
		// Average the intervals, not their inverses: with several workers
		// frames leave in bursts (one interval near 0, the next long), and
		// a mean of 1/interval would show several times the real rate.
		// The first ten are a plain mean, so a short first interval (the
		// second frame of a burst) does not start the average far off.
		dt := done.Sub(m.lastOut).Seconds()
		m.intervals++
		m.interval += max(0.1, 1/float64(m.intervals)) * (dt - m.interval) // EMA over about ten frames
	}
	m.lastOut = done
	if j.index < m.warmup {
		m.measureAt = done
		return
	}
	m.stats.Measured++
	m.lastMeasTo = done
	for s := Stage(0); s < NumStages; s++ {
		m.stages[s].Add(j.t[s])
	}
	m.lat.Add(done.Sub(j.readDone))
}

// fps is the running rate: 1 over the averaged interval (0 before two frames).
func (m *meter) fps() float64 {
	if m.interval <= 0 {
		return 0
	}
	return 1 / m.interval
}

func (m *meter) summary() Stats {
	stats := m.stats
	for s := Stage(0); s < NumStages; s++ {
		stats.Stages[s] = m.stages[s].Summary()
	}
	stats.Latency = m.lat.Summary()
	if stats.Measured > 0 {
		stats.Elapsed = m.lastMeasTo.Sub(m.measureAt)
		if stats.Elapsed > 0 {
			stats.FPS = float64(stats.Measured) / stats.Elapsed.Seconds()
		}
	}
	return stats
}
