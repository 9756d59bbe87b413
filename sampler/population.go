package sampler

import (
	"fmt"
	"math"
	"slices"
)

// Population is what a plan is computed from. Rows are 0..len(Labels)-1, the
// row indices of a dataset.
type Population struct {
	Labels      []int32   // per row, dense 0..NumClasses-1
	NumClasses  int       // number of identities
	Quotas      []int32   // per class draws per epoch for balanced and pk; nil: every non-empty class gets the median class size
	Weights     []float32 // per row, for weighted; nil: uniform weights
	Fingerprint uint64    // dataset fingerprint, mixed into every seed
}

// checkRows validates what every mode reads: the row count and the labels.
func (pop *Population) checkRows() error {
	if pop == nil {
		return fmt.Errorf("population is nil")
	}
	if len(pop.Labels) == 0 {
		return fmt.Errorf("population has no rows")
	}
	if len(pop.Labels) > math.MaxInt32 {
		return fmt.Errorf("population has %d rows, more than the %d an int32 row id addresses", len(pop.Labels), math.MaxInt32)
	}
	if pop.NumClasses < 1 || pop.NumClasses > math.MaxInt32 {
		return fmt.Errorf("population has %d classes, want 1..%d", pop.NumClasses, math.MaxInt32)
	}
	classes := int32(pop.NumClasses)
	for row, l := range pop.Labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("row %d has label %d outside 0..%d", row, l, classes-1)
		}
	}
	return nil
}

// classIndex lists the rows of every class, ascending within a class.
type classIndex struct {
	start []int32 // class c's rows are rows[start[c]:start[c+1]]
	rows  []int32 // nil when the labels are already grouped (non-decreasing): then class c is the rows start[c]..start[c+1]-1
}

// indexClasses groups the rows by class with a counting sort. Datasets written
// identity by identity, the usual layout, need no row array at all.
func indexClasses(pop *Population) *classIndex {
	start := make([]int32, pop.NumClasses+1)
	grouped := true
	prev := int32(0)
	for _, l := range pop.Labels {
		start[l+1]++
		grouped = grouped && l >= prev
		prev = l
	}
	for c := range pop.NumClasses {
		start[c+1] += start[c]
	}
	idx := &classIndex{start: start}
	if grouped {
		return idx
	}
	idx.rows = make([]int32, len(pop.Labels))
	next := slices.Clone(start[:pop.NumClasses])
	for row, l := range pop.Labels {
		idx.rows[next[l]] = int32(row)
		next[l]++
	}
	return idx
}

// countClasses is indexClasses without the rows: enough for quotas, not for fill.
func countClasses(pop *Population) *classIndex {
	start := make([]int32, pop.NumClasses+1)
	for _, l := range pop.Labels {
		start[l+1]++
	}
	for c := range pop.NumClasses {
		start[c+1] += start[c]
	}
	return &classIndex{start: start}
}

func (x *classIndex) classes() int { return len(x.start) - 1 }

func (x *classIndex) size(c int) int { return int(x.start[c+1] - x.start[c]) }

// fill writes class c's rows, ascending, into dst, which has size(c) elements.
func (x *classIndex) fill(c int, dst []int32) {
	if x.rows != nil {
		copy(dst, x.rows[x.start[c]:x.start[c+1]])
		return
	}
	for i, row := 0, x.start[c]; i < len(dst); i, row = i+1, row+1 {
		dst[i] = row
	}
}

// quotas returns every class's draws per epoch and their total. Without
// explicit quotas every non-empty class gets the (lower) median class size.
func (pop *Population) quotas(idx *classIndex) ([]int32, int, error) {
	if pop.Quotas == nil {
		quotas, total := medianQuotas(idx)
		return quotas, total, nil
	}
	if len(pop.Quotas) != idx.classes() {
		return nil, 0, fmt.Errorf("population has %d quotas for %d classes", len(pop.Quotas), idx.classes())
	}
	total := 0
	for c, q := range pop.Quotas {
		if q < 0 {
			return nil, 0, fmt.Errorf("class %d has negative quota %d", c, q)
		}
		if q > 0 && idx.size(c) == 0 {
			return nil, 0, fmt.Errorf("class %d has quota %d but no rows", c, q)
		}
		total += int(q)
	}
	if total == 0 {
		return nil, 0, fmt.Errorf("every class quota is zero")
	}
	return pop.Quotas, total, nil
}

func medianQuotas(idx *classIndex) ([]int32, int) {
	sizes := make([]int32, 0, idx.classes())
	for c := range idx.classes() {
		if n := idx.size(c); n > 0 {
			sizes = append(sizes, int32(n))
		}
	}
	slices.Sort(sizes)
	median := sizes[(len(sizes)-1)/2] // there is at least one row, so one non-empty class
	quotas := sizes[:idx.classes()]   // reuse the buffer: it has room for every class
	for c := range quotas {
		quotas[c] = 0
		if idx.size(c) > 0 {
			quotas[c] = median
		}
	}
	return quotas, len(sizes) * int(median)
}
