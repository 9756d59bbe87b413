package augment

import "math/bits"

// sampleRNG is the per-sample random source: SplitMix64 (Steele, Lea and Flood 2014), seeded by
// mixing (seed, epoch, pos). It is written out here rather than taken from math/rand/v2 so that
// the stream, and with it every augmented byte, is fixed by this file alone: the same on every
// machine, with every Go release, before and after a resume.
type sampleRNG struct{ state uint64 }

// golden is SplitMix64's increment; epochKey and posKey are odd constants that keep the three
// seed fields apart before mixing.
const (
	golden   = 0x9e3779b97f4a7c15
	epochKey = 0xd1b54a32d192ed03
	posKey   = 0x8cb92ba72f3d8dd7
)

// mix64 is SplitMix64's finalizer: a bijection that spreads every input bit over the output.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// reset seeds the stream for sample (seed, epoch, pos). Each field goes through the finalizer
// before the next is folded in, so nearby (epoch, pos) pairs give unrelated streams.
func (r *sampleRNG) reset(seed uint64, epoch int, pos int64) {
	h := mix64(seed + golden)
	h = mix64(h ^ (uint64(int64(epoch)) + epochKey))
	h = mix64(h ^ (uint64(pos) + posKey))
	r.state = h
}

func (r *sampleRNG) next() uint64 {
	r.state += golden
	return mix64(r.state)
}

// float returns a uniform float64 in [0, 1) with 53 random bits.
func (r *sampleRNG) float() float64 { return float64(r.next()>>11) * 0x1p-53 }

// chance reports true with probability p.
func (r *sampleRNG) chance(p float64) bool { return r.float() < p }

// uniform returns a uniform value in [s.lo, s.hi] (exactly s.lo when the range is a point).
func (r *sampleRNG) uniform(s span) float64 { return s.lo + float64((s.hi-s.lo)*r.float()) }

// logUniform returns exp of a uniform draw in [log s.lo, log s.hi], as torchvision draws aspect ratios.
func (r *sampleRNG) logUniform(s span) float64 {
	return fixedExp(r.uniform(span{fixedLog(s.lo), fixedLog(s.hi)}))
}

// intn returns a uniform int in [0, n) for n > 0 (Lemire's multiply-shift; the bias is below 2^-40
// for the image sizes used here).
func (r *sampleRNG) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}
