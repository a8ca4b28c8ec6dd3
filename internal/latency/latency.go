// Package latency summarises per-frame durations as percentiles.
//
// The pipeline keeps every sample of a run (a bench run is a few thousand
// frames, a few tens of kilobytes), so the percentiles are exact rather than
// estimated from a histogram.
package latency

import (
	"math"
	"slices"
	"time"
)

// Samples collects durations. The zero value is ready to use. It is not safe
// for concurrent use: one stage (one goroutine) owns it.
type Samples struct {
	d []time.Duration
}

// Add records one duration.
func (s *Samples) Add(d time.Duration) { s.d = append(s.d, d) }

// Len is the number of recorded durations.
func (s *Samples) Len() int { return len(s.d) }

// Reset forgets every sample but keeps the storage.
func (s *Samples) Reset() { s.d = s.d[:0] }

// Summary is the distribution of a set of durations.
type Summary struct {
	Count int
	Min   time.Duration
	Mean  time.Duration
	P50   time.Duration
	P90   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// Summary computes the distribution of the samples recorded so far. It
// leaves the recorded order untouched. An empty set gives the zero Summary.
func (s *Samples) Summary() Summary {
	return Summarize(s.d)
}

// Summarize computes the distribution of ds without modifying it.
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return Summary{
		Count: len(sorted),
		Min:   sorted[0],
		Mean:  sum / time.Duration(len(sorted)),
		P50:   percentile(sorted, 50),
		P90:   percentile(sorted, 90),
		P99:   percentile(sorted, 99),
		Max:   sorted[len(sorted)-1],
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted, an
// ascending slice, by the nearest-rank method: the smallest sample such that
// at least p percent of the samples are less than or equal to it. Nearest-rank
// always returns a duration that was actually measured, which is what a
// reader of "p99 = 12.3 ms" expects. It returns 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// Millis converts a duration to fractional milliseconds, the unit rpscam
// prints and writes to JSON.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
