package report

import (
	"math"
	"slices"
	"testing"
)

func TestBalanceOf(t *testing.T) {
	for _, tc := range []struct {
		name     string
		perClass []float64
		want     Balance
	}{
		{"uniform", []float64{5, 5, 5, 5}, Balance{Entropy: 1, MaxMinRatio: 1, Gini: 0}},
		{"single identity", []float64{7}, Balance{Entropy: 1, MaxMinRatio: 1}},
		{"empty", nil, Balance{}},
		{"no mass", []float64{0, 0}, Balance{}},
		// p = (1/2, 1/4, 1/4): H = 1.5 bits, normalised by log2(3); Gini = (2·(1+2+6)/(3·4)) − 4/3 = 1/6.
		{"two to one", []float64{2, 1, 1}, Balance{Entropy: 1.5 / math.Log2(3), MaxMinRatio: 2, Gini: 1.0 / 6}},
		// One identity takes everything: entropy 0, Gini (C−1)/C, ratio over non-zero shares only.
		{"one takes all", []float64{0, 0, 0, 9}, Balance{Entropy: 0, MaxMinRatio: 1, Gini: 0.75}},
		// Half the identities share everything evenly: H = log 2 / log 4, Gini = 1/2.
		{"negative and NaN count as zero", []float64{-3, math.NaN(), 4, 4}, Balance{Entropy: 0.5, MaxMinRatio: 1, Gini: 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BalanceOf(tc.perClass)
			if !near(got.Entropy, tc.want.Entropy) || !near(got.MaxMinRatio, tc.want.MaxMinRatio) || !near(got.Gini, tc.want.Gini) {
				t.Errorf("BalanceOf(%v) = %+v, want %+v", tc.perClass, got, tc.want)
			}
		})
	}
}

func TestBalanceOfOrdersDistributions(t *testing.T) {
	even := BalanceOf([]float64{10, 11, 9, 10})
	skewed := BalanceOf([]float64{100, 3, 2, 1})
	if !(even.Entropy > skewed.Entropy && even.Gini < skewed.Gini && even.MaxMinRatio < skewed.MaxMinRatio) {
		t.Errorf("even %+v should beat skewed %+v on every measure", even, skewed)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestHistogramOf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []float32
		lo, hi float64
		bins   int
		edges  []float64
		counts []int
	}{
		{"interior and edges", []float32{0, 0.25, 0.49, 0.5, 0.99, 1}, 0, 1, 2, []float64{0, 0.5, 1}, []int{3, 3}},
		{"out of range clamps", []float32{-5, 7}, -1, 1, 4, []float64{-1, -0.5, 0, 0.5, 1}, []int{1, 0, 0, 1}},
		{"NaN skipped", []float32{float32(math.NaN()), 0.1}, 0, 1, 1, []float64{0, 1}, []int{1}},
		{"zero bins is one", []float32{0.3}, 0, 1, 0, []float64{0, 1}, []int{1}},
		{"empty range", []float32{0.3, 9}, 2, 2, 2, []float64{2, 2, 2}, []int{2, 0}},
		{"no values", nil, -1, 1, 2, []float64{-1, 0, 1}, []int{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := HistogramOf(tc.values, tc.lo, tc.hi, tc.bins)
			if !slices.Equal(h.Edges, tc.edges) || !slices.Equal(h.Counts, tc.counts) {
				t.Errorf("HistogramOf(%v, %g, %g, %d) = %v %v, want %v %v",
					tc.values, tc.lo, tc.hi, tc.bins, h.Edges, h.Counts, tc.edges, tc.counts)
			}
			if len(h.Edges) != len(h.Counts)+1 {
				t.Errorf("%d edges for %d bins", len(h.Edges), len(h.Counts))
			}
		})
	}
}

func TestHistogramEdgesExactWithFineBins(t *testing.T) {
	h := HistogramOf([]float32{1}, -1, 1, 200)
	if h.Edges[0] != -1 || h.Edges[200] != 1 || h.Counts[199] != 1 || h.Total() != 1 {
		t.Errorf("first edge %g, last edge %g, last count %d, total %d", h.Edges[0], h.Edges[200], h.Counts[199], h.Total())
	}
}
