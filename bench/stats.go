package bench

import (
	"math"
	"slices"
	"time"
)

// arrival is one batch as a client saw it: when Next returned it, relative to the run's start.
type arrival struct {
	at     time.Duration
	images int
	bytes  int64
}

// window is the measured part of a run: warm-up before it and the tail after it are excluded.
type window struct {
	start, end time.Duration
}

// tally is what the batches inside a window add up to, before resource counters are joined in.
type tally struct {
	batches int64
	images  int64
	bytes   int64
	gaps    []time.Duration // time per batch: since the same stream's previous batch (or its opening)
}

// count tallies the batches of every stream that arrived inside w. A stream's first batch is
// timed from opened, the moment its request was sent, so connection set-up counts as a client sees it.
func count(streams [][]arrival, opened []time.Duration, w window) tally {
	var t tally
	for s, batches := range streams {
		prev := opened[s]
		for _, a := range batches {
			if a.at > w.start && a.at <= w.end {
				t.batches++
				t.images += int64(a.images)
				t.bytes += a.bytes
				t.gaps = append(t.gaps, a.at-prev)
			}
			prev = a.at
		}
	}
	return t
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted: the smallest value
// with at least p % of the values at or below it. Zero for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// median returns the median of xs (the mean of the middle two for an even count); NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// perSecond divides n by a duration, zero for an empty duration.
func perSecond(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}

// millis is a duration in milliseconds as a float, the unit the report uses for batch times.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
