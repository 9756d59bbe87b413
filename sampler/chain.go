package sampler

// chain produces an identity's draws. An identity's draws walk an endless
// chain of permutations of its rows, permutation k seeded by (seed,
// fingerprint, identity, k) and independent of the epoch, so every photo is
// drawn once before any photo is drawn again. Any stretch of the chain is
// computed directly, in O(rows + draws) of the identity, without replaying the
// stretches before it.
type chain struct {
	seed uint64  // from (seed, fingerprint)
	perm []int32 // scratch permutation, reused across identities
	out  []int32 // scratch draws, reused across identities
}

func newChain(seed, fingerprint uint64) *chain {
	return &chain{seed: seedFor(tagChain, seed, fingerprint)}
}

// draws returns chain positions [from, from+count) of class c, which must have
// rows. The slice is valid until the next call.
func (ch *chain) draws(idx *classIndex, c int, from int64, count int) []int32 {
	n := idx.size(c)
	ch.perm = grow(ch.perm, n)
	ch.out = grow(ch.out, count)
	k, off := from/int64(n), int(from%int64(n))
	for done := 0; done < count; {
		take := min(n-off, count-done)
		idx.fill(c, ch.perm)
		r := newRNG(seedFor(ch.seed, uint64(c), uint64(k)))
		shufflePrefix(ch.perm, off+take, &r)
		copy(ch.out[done:], ch.perm[off:off+take])
		done += take
		off = 0
		k++
	}
	return ch.out
}

// grow returns s resized to n, reallocating only when its capacity is short.
func grow(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n, max(n, 2*cap(s)))
	}
	return s[:n]
}
