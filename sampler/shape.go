package sampler

import (
	"fmt"
	"math"
)

// Shape is what an epoch's ranks are cut from: its length and, in pk mode, its one batch size.
type Shape struct {
	Mode  Mode
	Len   int // draws in the epoch
	Batch int // the only batch size Rank accepts (P*K in pk mode); 0: any
}

// ShapeOf returns the shape of the epoch Build would make for spec, without building it: the
// length depends on the population and the mode's parameters, never on the seed or the epoch,
// so answering "how many batches per rank" costs nothing next to a plan of 40 million draws. It
// fails exactly where Build fails.
func ShapeOf(pop *Population, spec Spec) (Shape, error) {
	if err := pop.checkRows(); err != nil {
		return Shape{}, err
	}
	if spec.Epoch < 0 {
		return Shape{}, fmt.Errorf("epoch %d is negative", spec.Epoch)
	}
	switch spec.Mode {
	case Uniform:
		return Shape{Mode: Uniform, Len: len(pop.Labels)}, nil
	case Balanced:
		_, total, err := pop.quotas(countClasses(pop))
		return Shape{Mode: Balanced, Len: total}, err
	case Weighted:
		if spec.EpochLen < 0 || spec.EpochLen > math.MaxInt32 {
			return Shape{}, fmt.Errorf("epoch length %d outside 0..%d", spec.EpochLen, math.MaxInt32)
		}
		if pop.Weights != nil {
			if _, err := checkWeights(pop.Weights, len(pop.Labels)); err != nil {
				return Shape{}, err
			}
		}
		n := spec.EpochLen
		if n == 0 {
			n = len(pop.Labels)
		}
		return Shape{Mode: Weighted, Len: n}, nil
	case PK:
		P, K := spec.P, spec.K
		if P < 1 || K < 1 {
			return Shape{}, fmt.Errorf("pk mode needs P >= 1 identities and K >= 1 photos per batch, got P=%d K=%d", P, K)
		}
		quotas, _, err := pop.quotas(countClasses(pop))
		if err != nil {
			return Shape{}, err
		}
		batches, total := pkBatches(quotas, make([]int32, len(quotas)), P, K)
		if batches == 0 {
			return Shape{}, fmt.Errorf("pk mode: the quotas give %d groups of K=%d photos, too few identities for one batch of P=%d", total, K, P)
		}
		return Shape{Mode: PK, Len: batches * P * K, Batch: P * K}, nil
	}
	return Shape{}, fmt.Errorf("unknown sampling mode %q (want one of %v)", spec.Mode, Modes())
}

// RankBatches is the number of batches every rank of world gets for the given batch size: what
// Rank's plan would have, with the same errors.
func (s Shape) RankBatches(world, rank, batch int, pad bool) (int, error) {
	switch {
	case world < 1:
		return 0, fmt.Errorf("world size %d, want >= 1", world)
	case rank < 0 || rank >= world:
		return 0, fmt.Errorf("rank %d outside 0..%d of world %d", rank, world-1, world)
	case batch < 1:
		return 0, fmt.Errorf("batch size %d, want >= 1", batch)
	case batch > s.Len:
		return 0, fmt.Errorf("batch size %d exceeds the epoch's %d draws", batch, s.Len)
	case s.Batch != 0 && batch != s.Batch:
		return 0, fmt.Errorf("%s epoch has batches of P*K=%d, not %d", s.Mode, s.Batch, batch)
	}
	stride := batch * world // draws per round of one batch for every rank
	batches := s.Len / stride
	if pad {
		batches = (s.Len + stride - 1) / stride
	}
	if batches == 0 {
		return 0, fmt.Errorf("epoch of %d draws has no full batch of %d for each of %d ranks (pad wraps around)", s.Len, batch, world)
	}
	return batches, nil
}
