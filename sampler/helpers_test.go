package sampler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomPopulation makes a small population with a long-tailed class size
// distribution, rows grouped by class or scattered, and explicit or default
// quotas and weights.
func randomPopulation(r *rand.Rand) *Population {
	classes := 1 + r.IntN(12)
	var labels []int32
	for c := range classes {
		size := r.IntN(3) // some classes are empty
		if r.IntN(2) == 0 {
			size += r.IntN(40)
		}
		for range size {
			labels = append(labels, int32(c))
		}
	}
	if len(labels) == 0 {
		labels = append(labels, int32(r.IntN(classes)))
	}
	if r.IntN(2) == 0 {
		r.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	}
	pop := &Population{Labels: labels, NumClasses: classes, Fingerprint: r.Uint64()}
	if r.IntN(2) == 0 {
		sizes := classSizes(pop)
		pop.Quotas = make([]int32, classes)
		for c, n := range sizes {
			if n > 0 {
				pop.Quotas[c] = int32(r.IntN(3 * n))
			}
		}
		if !slices.ContainsFunc(pop.Quotas, func(q int32) bool { return q > 0 }) {
			pop.Quotas[labels[0]] = 1
		}
	}
	if r.IntN(2) == 0 {
		pop.Weights = make([]float32, len(labels))
		for i := range pop.Weights {
			if r.IntN(5) > 0 {
				pop.Weights[i] = r.Float32() * 10
			}
		}
		pop.Weights[r.IntN(len(labels))] = 1
	}
	return pop
}

func randomSpec(r *rand.Rand, mode Mode) Spec {
	s := Spec{Mode: mode, Seed: r.Uint64(), Epoch: r.IntN(50)}
	if mode == Weighted && r.IntN(2) == 0 {
		s.EpochLen = 1 + r.IntN(300)
	}
	if mode == PK {
		s.P, s.K = 1+r.IntN(4), 1+r.IntN(4)
	}
	return s
}

func classSizes(pop *Population) []int {
	sizes := make([]int, pop.NumClasses)
	for _, l := range pop.Labels {
		sizes[l]++
	}
	return sizes
}

// effectiveQuotas is what balanced and pk mode give each class: the explicit
// quotas, or the lower median of the non-empty class sizes.
func effectiveQuotas(pop *Population) []int {
	sizes := classSizes(pop)
	quotas := make([]int, pop.NumClasses)
	if pop.Quotas != nil {
		for c, q := range pop.Quotas {
			quotas[c] = int(q)
		}
		return quotas
	}
	var nonEmpty []int
	for _, n := range sizes {
		if n > 0 {
			nonEmpty = append(nonEmpty, n)
		}
	}
	slices.Sort(nonEmpty)
	median := nonEmpty[(len(nonEmpty)-1)/2]
	for c, n := range sizes {
		if n > 0 {
			quotas[c] = median
		}
	}
	return quotas
}

func mustBuild(t testing.TB, pop *Population, spec Spec) *Epoch {
	t.Helper()
	e, err := Build(pop, spec)
	if err != nil {
		t.Fatalf("Build(%+v): %v", spec, err)
	}
	return e
}

func mustRank(t testing.TB, e *Epoch, world, rank, batch int, pad bool) *RankPlan {
	t.Helper()
	p, err := e.Rank(world, rank, batch, pad)
	if err != nil {
		t.Fatalf("Rank(%d, %d, %d, %v): %v", world, rank, batch, pad, err)
	}
	return p
}

func order(e *Epoch) []int32 {
	out := make([]int32, e.Len())
	for i := range out {
		out[i] = e.At(i)
	}
	return out
}

func describe(pop *Population, spec Spec) string {
	return fmt.Sprintf("rows=%d classes=%d quotas=%v weights=%v spec=%+v", len(pop.Labels), pop.NumClasses, pop.Quotas != nil, pop.Weights != nil, spec)
}
