// Package splitmix is SplitMix64 (Steele, Lea and Flood, 2014), the one mixer behind every seeded
// stream in facestream: the samplers' plans, the per-sample augmentation, the offline S3 recipes
// and the synthetic faces. It is written out rather than taken from math/rand/v2 so that those
// streams, which users audit and resume from, are fixed by this file alone: the same on every
// machine and with every Go release.
package splitmix

// Golden is 2^64 divided by the golden ratio: SplitMix64's increment between states.
const Golden = 0x9e3779b97f4a7c15

// Mix is SplitMix64's finalizer alone: a bijection on 64-bit words that spreads every input bit
// over the output. Mix(0) is 0, so callers fold in a constant first where zero inputs occur.
func Mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Step is one whole SplitMix64 step from state z: the increment, then the finalizer. It is the
// output a Stream in state z gives next, and a good hash of one word (Step(0) is not 0).
func Step(z uint64) uint64 { return Mix(z + Golden) }

// Stream is a SplitMix64 generator. The zero value is a valid stream (from state 0).
type Stream struct{ state uint64 }

// New returns the stream in the given state.
func New(state uint64) Stream { return Stream{state: state} }

// Next advances the stream and returns its next 64 random bits.
func (s *Stream) Next() uint64 {
	s.state += Golden
	return Mix(s.state)
}
