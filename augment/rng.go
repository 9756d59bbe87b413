package augment

import (
	"math/bits"

	"github.com/facestream/facestream/internal/splitmix"
)

// sampleRNG is the per-sample random source: a SplitMix64 stream seeded by mixing (seed, epoch,
// pos), so that every augmented byte is fixed by the sample's coordinates alone: the same on
// every machine, with every Go release, before and after a resume.
type sampleRNG struct{ src splitmix.Stream }

// epochKey and posKey are odd constants that keep the three seed fields apart before mixing.
const (
	epochKey = 0xd1b54a32d192ed03
	posKey   = 0x8cb92ba72f3d8dd7
)

// reset seeds the stream for sample (seed, epoch, pos). Each field goes through the finalizer
// before the next is folded in, so nearby (epoch, pos) pairs give unrelated streams.
func (r *sampleRNG) reset(seed uint64, epoch int, pos int64) {
	h := splitmix.Step(seed)
	h = splitmix.Mix(h ^ (uint64(int64(epoch)) + epochKey))
	h = splitmix.Mix(h ^ (uint64(pos) + posKey))
	r.src = splitmix.New(h)
}

func (r *sampleRNG) next() uint64 { return r.src.Next() }

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
