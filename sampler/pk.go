package sampler

import "fmt"

// buildPK lays out batches of P distinct identities × K photos.
//
// Identity c gets about quota_c/K groups of K photos per epoch: the quotas'
// running sum, offset by a random 0..K-1 drawn per epoch, is cut every K draws
// (systematic sampling), so an identity whose quota is below K still gets a
// group in the right fraction of epochs. Its photos are chain positions from
// epoch*quota_c on, as in balanced mode.
//
// The batch count comes from the same cut without the offset, so it depends on
// (quotas, P, K) alone: every consumer reads one count as the count of every
// epoch. The offset moves the group total by at most one and each identity's
// groups between floor and ceil of quota_c/K, so an epoch short of groups
// tops up, in random identity order, identities that got the floor; a surplus
// falls off the end of the grid below.
//
// The groups, identity by identity in a random identity order, fill a
// P×batches grid column-major: the groups of one identity are consecutive, and
// as no identity has more groups than there are batches, they land in distinct
// batches. The batches are then shuffled.
func buildPK(pop *Population, spec Spec) (*Epoch, error) {
	P, K := spec.P, spec.K
	if P < 1 || K < 1 {
		return nil, fmt.Errorf("pk mode needs P >= 1 identities and K >= 1 photos per batch, got P=%d K=%d", P, K)
	}
	idx := indexClasses(pop)
	quotas, _, err := pop.quotas(idx)
	if err != nil {
		return nil, err
	}
	groups := make([]int32, len(quotas))
	batches, total := pkBatches(quotas, groups, P, K)
	if batches == 0 {
		return nil, fmt.Errorf("pk mode: the quotas give %d groups of K=%d photos, too few identities for one batch of P=%d", total, K, P)
	}

	r := newRNG(seedFor(tagPK, spec.Seed, pop.Fingerprint, uint64(spec.Epoch)))
	total = cutGroups(quotas, groups, K, int64(r.below(uint64(K))))
	identities := make([]int32, 0, len(groups))
	for c, g := range groups {
		if g > int32(batches) {
			total -= int(g) - batches
			groups[c] = int32(batches)
		}
		if quotas[c] > 0 {
			identities = append(identities, int32(c))
		}
	}
	shufflePrefix(identities, len(identities), &r)
	cells := batches * P
	// Top up to the grid: the offset-free cut, capped, reaches it with every
	// identity at min(ceil(quota/K), batches) groups, so one pass suffices.
	for i := 0; total < cells && i < len(identities); i++ {
		c := identities[i]
		if ceil := min((quotas[c]+int32(K)-1)/int32(K), int32(batches)); groups[c] < ceil {
			groups[c]++
			total++
		}
	}
	if total < cells {
		return nil, fmt.Errorf("pk mode: epoch %d has %d groups for %d batches of P=%d (bug)", spec.Epoch, total, batches, P)
	}
	slot := make([]int32, batches) // where each grid column lands in the epoch
	for b := range slot {
		slot[b] = int32(b)
	}
	shufflePrefix(slot, batches, &r)

	order := make([]int32, cells*K)
	ch := newChain(spec.Seed, pop.Fingerprint)
	g := 0 // grid cell, column-major: batch g%batches, identity slot g/batches
	for _, c := range identities {
		n := int(groups[c])
		photos := ch.draws(idx, int(c), int64(spec.Epoch)*int64(quotas[c]), n*K)
		for t := 0; t < n && g < cells; t, g = t+1, g+1 {
			at := (int(slot[g%batches])*P + g/batches) * K
			copy(order[at:at+K], photos[t*K:(t+1)*K])
		}
		if g == cells {
			break
		}
	}
	return &Epoch{mode: PK, order: order, batch: P * K}, nil
}

// pkBatches is the number of batches of every epoch: the groups of the
// offset-free cut, each identity capped at one group per batch. It also
// returns the capped group total, for the error when it fills no batch.
func pkBatches(quotas, groups []int32, P, K int) (batches, total int) {
	total = cutGroups(quotas, groups, K, 0)
	// Capping shrinks the batch count, so repeat until it holds.
	batches = total / P
	for capped := true; capped && batches > 0; batches = total / P {
		capped = false
		for c, g := range groups {
			if int(g) > batches {
				total -= int(g) - batches
				groups[c] = int32(batches)
				capped = true
			}
		}
	}
	return batches, total
}

// cutGroups cuts the quotas' running sum, started at cut, every K draws and
// stores each identity's number of cuts in groups; it returns their total.
func cutGroups(quotas, groups []int32, K int, cut int64) int {
	total := 0
	for c, q := range quotas {
		before := cut / int64(K)
		cut += int64(q)
		groups[c] = int32(cut/int64(K) - before)
		total += int(groups[c])
	}
	return total
}
