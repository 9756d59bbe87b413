package sampler

import (
	"math/bits"

	"github.com/facestream/facestream/internal/splitmix"
)

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

// seedFor hashes its parts, in order, into one seed.
func seedFor(parts ...uint64) uint64 {
	h := uint64(0x6a09e667f3bcc908)
	for _, p := range parts {
		h = splitmix.Mix(h ^ splitmix.Step(p))
	}
	return h
}

// rng is the samplers' random source: a SplitMix64 stream, so that the plans,
// which users audit and resume from, never change with a Go release.
type rng struct{ src splitmix.Stream }

func newRNG(seed uint64) rng { return rng{splitmix.New(seed)} }

func (r *rng) next() uint64 { return r.src.Next() }

// below returns a uniform integer in [0, n), n > 0, by Lemire's multiply-shift
// method with rejection, so it carries no modulo bias.
func (r *rng) below(n uint64) uint64 {
	hi, lo := bits.Mul64(r.next(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(r.next(), n)
		}
	}
	return hi
}
