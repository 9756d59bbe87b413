package sampler

import (
	"fmt"
	"math"
	"math/bits"
)

// aliasTable draws row indices in proportion to their weights in O(1) per draw
// (Walker's alias method). Each entry packs, in 8 bytes, a 32-bit acceptance
// threshold and a 31-bit alias row: a draw picks a column uniformly and keeps it
// when a 32-bit coin falls below the threshold, else takes its alias.
//
// The table is built in place with exact fixed-point arithmetic (one unit is
// 2^-32 of a column) by Vose's pairing with two forward-scanning cursors
// instead of work lists, so building needs no memory beyond the table.
type aliasTable []uint64

const (
	aliasOne   = uint64(1) << 32 // a column's full probability mass, in fixed point
	aliasDone  = uint64(1) << 63 // marks a finished entry while building
	aliasShift = 31              // threshold bits sit above the 31 alias bits
	aliasRow   = uint64(1)<<aliasShift - 1
)

// checkWeights validates per-row weights and returns their sum.
func checkWeights(weights []float32, rows int) (float64, error) {
	if len(weights) != rows {
		return 0, fmt.Errorf("population has %d weights for %d rows", len(weights), rows)
	}
	sum := 0.0
	for row, w := range weights {
		if w < 0 || math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
			return 0, fmt.Errorf("row %d has weight %v, want a finite number >= 0", row, w)
		}
		sum += float64(w)
	}
	if sum == 0 {
		return 0, fmt.Errorf("every weight is zero")
	}
	return sum, nil
}

// newAliasTable builds the table of weights, which checkWeights has accepted
// with the given sum. There are at most math.MaxInt32 rows, so a column's mass
// (at most rows units of aliasOne) stays below aliasDone.
func newAliasTable(weights []float32, sum float64) aliasTable {
	n := len(weights)
	t := make(aliasTable, n)
	scale := float64(n) * float64(aliasOne) / sum
	for i, w := range weights {
		t[i] = uint64(math.Round(float64(w) * scale))
	}
	small := func(i int) bool { return t[i]&aliasDone == 0 && t[i] < aliasOne }
	large := func(i int) bool { return t[i]&aliasDone == 0 && t[i] >= aliasOne }
	nextSmall := func(i int) int {
		for i < n && !small(i) {
			i++
		}
		return i
	}
	nextLarge := func(j int) int {
		for j < n && !large(j) {
			j++
		}
		return j
	}
	// s scans for small columns in index order; cur is the small column being
	// paired: s itself, or a large column that turned small behind s (which the
	// scan would miss). j scans for large columns.
	s, j := nextSmall(0), nextLarge(0)
	cur := s
	for cur < n && j < n {
		mass := t[cur]
		t[cur] = aliasDone | mass<<aliasShift | uint64(j)
		t[j] -= aliasOne - mass
		if cur == s {
			s = nextSmall(s + 1)
		}
		cur = s
		if t[j] < aliasOne {
			turned := j
			j = nextLarge(j + 1)
			if turned < s {
				cur = turned
			}
		}
	}
	// Columns left over hold a full column's mass up to rounding: keep themselves.
	for i, e := range t {
		if e&aliasDone == 0 {
			t[i] = aliasDone | uint64(i)
		}
	}
	return t
}

// draw maps one uniform random word to a row.
func (t aliasTable) draw(word uint64) int32 {
	col, coin := column(word, len(t))
	e := t[col]
	if coin < uint32(e>>aliasShift) {
		return col
	}
	return int32(e & aliasRow)
}

// column splits one uniform random word into a column uniform in [0, n) (the
// high half of word×n) and a 32-bit coin uniform within that column (the top
// of the low half). Skipping rejection biases a column by at most n/2^64, far
// below any measurable level.
func column(word uint64, n int) (int32, uint32) {
	col, frac := bits.Mul64(word, uint64(n))
	return int32(col), uint32(frac >> 32)
}
