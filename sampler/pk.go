package sampler

import "fmt"

// buildPK lays out batches of P distinct identities × K photos.
//
// Identity c gets about quota_c/K groups of K photos per epoch: the quotas'
// running sum, offset by a random 0..K-1 drawn per epoch, is cut every K draws
// (systematic sampling), so an identity whose quota is below K still gets a
// group in the right fraction of epochs. Its photos are chain positions from
// epoch*quota_c on, as in balanced mode. The groups, identity by identity in
// a random identity order, fill a P×batches grid column-major: the groups of
// one identity are consecutive, and as no identity has more groups than there
// are batches, they land in distinct batches. The batches are then shuffled.
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
	r := splitmix{seedFor(tagPK, spec.Seed, pop.Fingerprint, uint64(spec.Epoch))}
	groups := make([]int32, len(quotas))
	total := 0
	cut := int64(r.below(uint64(K)))
	for c, q := range quotas {
		before := cut / int64(K)
		cut += int64(q)
		groups[c] = int32(cut/int64(K) - before)
		total += int(groups[c])
	}
	// Cap every identity at one group per batch; capping shrinks the batch
	// count, so repeat until it holds.
	batches := total / P
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
	if batches == 0 {
		return nil, fmt.Errorf("pk mode: the quotas give %d groups of K=%d photos, too few identities for one batch of P=%d", total, K, P)
	}

	identities := make([]int32, 0, len(groups))
	for c, g := range groups {
		if g > 0 {
			identities = append(identities, int32(c))
		}
	}
	shufflePrefix(identities, len(identities), &r)
	slot := make([]int32, batches) // where each grid column lands in the epoch
	for b := range slot {
		slot[b] = int32(b)
	}
	shufflePrefix(slot, batches, &r)

	order := make([]int32, batches*P*K)
	ch := newChain(spec.Seed, pop.Fingerprint)
	cells := batches * P
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
