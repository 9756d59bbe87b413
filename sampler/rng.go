package sampler

import "math/bits"

// golden is 2^64 divided by the golden ratio: SplitMix64's stream increment.
const golden = 0x9e3779b97f4a7c15

// Domain tags keep the random streams of different purposes apart even when
// every other seed part coincides.
const (
	tagUniform uint64 = iota + 1
	tagBalanced
	tagChain
	tagWeighted
	tagPK
	tagBucket
)

// mix64 is SplitMix64's finalizer, a bijection on 64-bit words with full avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// seedFor hashes its parts, in order, into one seed.
func seedFor(parts ...uint64) uint64 {
	h := uint64(0x6a09e667f3bcc908)
	for _, p := range parts {
		h = mix64(h ^ mix64(p+golden))
	}
	return h
}

// splitmix is SplitMix64 (Steele, Lea and Flood, 2014). It is implemented here
// rather than taken from math/rand so that the plans, which users audit and
// resume from, never change with a Go release: the same seed gives the same
// numbers on every machine.
type splitmix struct{ state uint64 }

func (r *splitmix) next() uint64 {
	r.state += golden
	return mix64(r.state)
}

// below returns a uniform integer in [0, n), n > 0, by Lemire's multiply-shift
// method with rejection, so it carries no modulo bias.
func (r *splitmix) below(n uint64) uint64 {
	hi, lo := bits.Mul64(r.next(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(r.next(), n)
		}
	}
	return hi
}
