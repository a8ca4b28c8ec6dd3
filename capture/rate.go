package capture

import (
	"math"
	"slices"
	"time"

	"gocv.io/x/gocv"
)

// A stream whose container states no frame rate, such as MJPEG over HTTP
// (what most phone and IP camera apps serve), is given FFmpeg's guess of
// 25 fps, and a live GStreamer pipeline without a framerate in its caps
// reports none. Everything downstream believes Info.FPS: a real-time
// recording at a guessed 25 fps of a 30 fps stream leaves out the frames
// that come early (measured: 30 of 182 in 6 s). So such a source's rate is
// measured from its first second of frames before any frame is delivered.
const (
	// rateProbeWindow is how long the probe reads; rateProbeFrames bounds
	// it for fast streams.
	rateProbeWindow = time.Second
	rateProbeFrames = 61
	// rateProbeMinIntervals is how many steady intervals a measurement
	// needs; with fewer the reported rate is kept.
	rateProbeMinIntervals = 5
	// rateTolerance is how far (as a share) a reported rate may be from
	// the measured one and still be kept: a camera's own figure is more
	// exact than one second's timing.
	rateTolerance = 0.10
	// rateSnap rounds a measured rate within this share of a whole number
	// to it (30.2 → 30), since streams run at whole rates.
	rateSnap = 0.02
)

// needsRateProbe says whether a source's reported rate may be a guess: a
// network stream that is not a file (a file states its rate, and is read
// as fast as it decodes, which says nothing of its rate), or a live
// pipeline that reports none.
func needsRateProbe(spec Spec, finite bool, reported float64) bool {
	switch spec.Kind {
	case URL:
		return !finite
	case GStreamer:
		return reported <= 0 && isLivePipeline(spec.Raw)
	}
	return false
}

// probeRate reads frames for up to rateProbeWindow, each replacing the one
// in newest (so the newest frame is the one delivered first, and the
// file's first frame is not a second older than its second), and returns
// the rate their arrival shows, or 0 when too few steady intervals came to
// tell. *at becomes the newest frame's arrival time. A read that fails
// ends the probe: the source's own loss handling deals with it later.
func probeRate(r frameReader, newest *gocv.Mat, at *time.Time) float64 {
	scratch := gocv.NewMat()
	defer scratch.Close()
	times := []time.Time{*at}
	for len(times) < rateProbeFrames && time.Since(times[0]) < rateProbeWindow {
		if err := r.next(nil, &scratch); err != nil {
			break
		}
		times = append(times, time.Now())
		*newest, scratch = scratch, *newest
	}
	*at = times[len(times)-1]
	return rateFromArrivals(times)
}

// rateFromArrivals is the frame rate of arrival times, leaving out the
// burst at the start of a network stream (frames buffered while it
// connected, which come back to back) and snapping near-whole rates.
func rateFromArrivals(times []time.Time) float64 {
	if len(times) < 2 {
		return 0
	}
	gaps := make([]time.Duration, len(times)-1)
	for i := range gaps {
		gaps[i] = times[i+1].Sub(times[i])
	}
	median := slices.Clone(gaps)
	slices.Sort(median)
	m := median[len(median)/2]
	if m <= 0 {
		return 0
	}
	// The steady part starts at the first gap of at least half the median.
	start := 0
	for start < len(gaps) && gaps[start] < m/2 {
		start++
	}
	steady := len(gaps) - start
	if steady < rateProbeMinIntervals {
		return 0
	}
	span := times[len(times)-1].Sub(times[start])
	fps := float64(steady) / span.Seconds()
	if whole := math.Round(fps); whole > 0 && math.Abs(fps-whole) <= rateSnap*whole {
		return whole
	}
	return math.Round(fps*100) / 100
}

// measureRate replaces info's rate by the measured one where the source's
// own may be a guess and is more than rateTolerance off.
func measureRate(r *vcReader, info *Info, first *gocv.Mat, firstTime *time.Time) {
	if !needsRateProbe(r.spec, r.finite, info.FPS) {
		return
	}
	measured := probeRate(r, first, firstTime)
	if measured <= 0 || (info.FPS > 0 && math.Abs(measured-info.FPS) <= rateTolerance*info.FPS) {
		return
	}
	info.ReportedFPS = info.FPS
	info.FPS = measured
	info.FPSMeasured = true
}
