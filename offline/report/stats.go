package report

import (
	"math"
	"slices"
)

// Histogram counts values in len(Counts) equal bins; Edges holds the len(Counts)+1 bin boundaries.
type Histogram struct {
	Edges  []float64 `json:"edges"`
	Counts []int     `json:"counts"`
}

// Total is the number of values the histogram counted.
func (h Histogram) Total() int {
	n := 0
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Balance summarises how evenly an epoch's draws spread over identities.
type Balance struct {
	Entropy     float64 `json:"entropy"`       // Shannon entropy normalised by log(C): 1 is perfectly even
	MaxMinRatio float64 `json:"max_min_ratio"` // largest over smallest non-zero share
	Gini        float64 `json:"gini"`          // 0 is perfectly even, →1 is one identity taking everything
}

// BalanceOf measures the per-identity distribution perClass (draws, photos or quotas per identity).
// Every entry counts as an identity for the entropy and the Gini, so an identity with no draws
// lowers both; MaxMinRatio ignores zeros because the ratio to an absent identity is unbounded and
// JSON cannot carry infinity. Negative and NaN entries are treated as zero. A distribution with
// no mass (or no identities) returns the zero Balance; a single identity is perfectly balanced.
func BalanceOf(perClass []float64) Balance {
	xs := make([]float64, len(perClass))
	var sum, maxV float64
	minV := math.Inf(1)
	for i, v := range perClass {
		if !(v > 0) {
			continue
		}
		xs[i] = v
		sum += v
		maxV = max(maxV, v)
		minV = min(minV, v)
	}
	if sum == 0 {
		return Balance{}
	}
	c := float64(len(xs))
	if len(xs) == 1 {
		return Balance{Entropy: 1, MaxMinRatio: 1}
	}
	var h float64
	for _, v := range xs {
		if v > 0 {
			p := v / sum
			h -= p * math.Log(p)
		}
	}
	// Gini from the ascending order statistics: G = 2·Σ i·x_(i) / (C·Σx) − (C+1)/C, i from 1.
	slices.Sort(xs)
	var weighted float64
	for i, v := range xs {
		weighted += float64(i+1) * v
	}
	gini := 2*weighted/(c*sum) - (c+1)/c
	return Balance{
		Entropy:     clamp01(h / math.Log(c)),
		MaxMinRatio: maxV / minV,
		Gini:        clamp01(gini),
	}
}

// clamp01 removes the rounding overshoot of sums that are exactly 0 or 1 in exact arithmetic.
func clamp01(v float64) float64 { return min(max(v, 0), 1) }

// HistogramOf counts values (float32 or float64) in bins equal bins over [lo, hi]. Values outside
// the range are counted in the first or last bin, so the counts add up to the number of non-NaN
// values; NaN values (an embedding that was never compared) are skipped. bins < 1 is taken as 1.
// If hi <= lo every value lands in the first bin.
func HistogramOf[T float32 | float64](values []T, lo, hi float64, bins int) Histogram {
	bins = max(bins, 1)
	h := Histogram{Edges: make([]float64, bins+1), Counts: make([]int, bins)}
	width := (hi - lo) / float64(bins)
	for i := range h.Edges {
		h.Edges[i] = lo + float64(i)*width
	}
	h.Edges[bins] = hi // exact, whatever the rounding of lo + bins·width
	for _, v := range values {
		x := float64(v)
		if math.IsNaN(x) {
			continue
		}
		k := 0
		if width > 0 {
			k = min(max(int(math.Floor((x-lo)/width)), 0), bins-1)
		}
		h.Counts[k]++
	}
	return h
}
