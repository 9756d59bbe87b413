// Package sampler computes epoch plans: which dataset rows a rank gets, in
// which order. A plan is a pure function of the population (labels, quotas,
// weights, dataset fingerprint) and the Spec (mode, seed, epoch), so every
// server computes the same plan with no coordination, and a rank resumes from
// any position in O(1).
package sampler

import (
	"fmt"
	"math"
)

// Spec selects a plan of a population.
type Spec struct {
	Mode     Mode
	Seed     uint64
	Epoch    int
	EpochLen int // weighted: draws per epoch (0: number of rows); other modes ignore it
	P, K     int // pk: identities per batch, photos per identity (batch = P*K); other modes ignore them
}

// Epoch is one epoch's global order of rows. It is built once and read by any
// number of goroutines, ranks and streams.
type Epoch struct {
	mode  Mode
	order []int32
	batch int // the only batch size Rank accepts (P*K in pk mode); 0: any
}

// Build computes the epoch that spec selects from pop. It reads pop and keeps
// no reference to it.
func Build(pop *Population, spec Spec) (*Epoch, error) {
	if err := pop.checkRows(); err != nil {
		return nil, err
	}
	if spec.Epoch < 0 {
		return nil, fmt.Errorf("epoch %d is negative", spec.Epoch)
	}
	switch spec.Mode {
	case Uniform:
		return buildUniform(pop, spec), nil
	case Balanced:
		return buildBalanced(pop, spec)
	case Weighted:
		return buildWeighted(pop, spec)
	case PK:
		return buildPK(pop, spec)
	}
	return nil, fmt.Errorf("unknown sampling mode %q (want one of %v)", spec.Mode, Modes())
}

// Mode is the mode the epoch was built with.
func (e *Epoch) Mode() Mode { return e.mode }

// Len is the number of draws in the epoch.
func (e *Epoch) Len() int { return len(e.order) }

// At is the row at global position i, 0 <= i < Len().
func (e *Epoch) At(i int) int32 { return e.order[i] }

func buildUniform(pop *Population, spec Spec) *Epoch {
	order := make([]int32, len(pop.Labels))
	sh := newBucketShuffle(order, seedFor(tagUniform, spec.Seed, pop.Fingerprint, uint64(spec.Epoch)))
	for row := range int32(len(order)) {
		sh.put(row)
	}
	sh.finish()
	return &Epoch{mode: Uniform, order: order}
}

// buildBalanced gives class c the chain positions [epoch*quota_c,
// (epoch+1)*quota_c) and shuffles the epoch's draws globally.
func buildBalanced(pop *Population, spec Spec) (*Epoch, error) {
	idx := indexClasses(pop)
	quotas, total, err := pop.quotas(idx)
	if err != nil {
		return nil, err
	}
	order := make([]int32, total)
	sh := newBucketShuffle(order, seedFor(tagBalanced, spec.Seed, pop.Fingerprint, uint64(spec.Epoch)))
	ch := newChain(spec.Seed, pop.Fingerprint)
	for c, q := range quotas {
		if q == 0 {
			continue
		}
		for _, row := range ch.draws(idx, c, int64(spec.Epoch)*int64(q), int(q)) {
			sh.put(row)
		}
	}
	sh.finish()
	return &Epoch{mode: Balanced, order: order}, nil
}

// buildWeighted draws EpochLen rows independently, with replacement.
func buildWeighted(pop *Population, spec Spec) (*Epoch, error) {
	if spec.EpochLen < 0 || spec.EpochLen > math.MaxInt32 {
		return nil, fmt.Errorf("epoch length %d outside 0..%d", spec.EpochLen, math.MaxInt32)
	}
	rows := len(pop.Labels)
	draws := spec.EpochLen
	if draws == 0 {
		draws = rows
	}
	r := newRNG(seedFor(tagWeighted, spec.Seed, pop.Fingerprint, uint64(spec.Epoch)))
	if pop.Weights == nil {
		order := make([]int32, draws)
		for i := range order {
			order[i], _ = column(r.next(), rows) // as an alias table of equal weights would
		}
		return &Epoch{mode: Weighted, order: order}, nil
	}
	sum, err := checkWeights(pop.Weights, rows)
	if err != nil {
		return nil, err
	}
	table := newAliasTable(pop.Weights, sum)
	order := make([]int32, draws)
	// Draw the random words a block ahead: the lookup loop is then short
	// enough for the CPU to keep many cache-missing table reads in flight.
	var words [256]uint64
	for start := 0; start < len(order); start += len(words) {
		block := order[start:min(start+len(words), len(order))]
		for i := range block {
			words[i] = r.next()
		}
		for i := range block {
			block[i] = table.draw(words[i])
		}
	}
	return &Epoch{mode: Weighted, order: order}, nil
}
