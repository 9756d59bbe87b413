package sampler

import "math/bits"

// shufflePrefix runs the first steps of a forward Fisher–Yates shuffle of s.
// After i steps s[:i] is final, so a caller that needs only the first m
// elements of a permutation stops after m steps and gets exactly the prefix
// that the full shuffle would have produced.
func shufflePrefix(s []int32, steps int, r *rng) {
	n := len(s)
	steps = min(steps, n-1)
	for i := 0; i < steps; i++ {
		j := i + int(r.below(uint64(n-i)))
		s[i], s[j] = s[j], s[i]
	}
}

// bucketValues is the number of values a bucket of a bucketShuffle holds on
// average: 128 KiB of int32, which stays in a core's L2 cache while it is shuffled.
const bucketValues = 1 << 15

// maxBuckets bounds the number of write streams of the scatter pass, beyond
// which the streams thrash the TLB and store buffers.
const maxBuckets = 1 << 12

// bucketShuffle writes a sequence of values into dst in uniformly random order
// without random access across all of dst (the Rao–Sandelius shuffle): each
// value goes to a uniformly chosen bucket, a contiguous region of dst, and then
// every bucket is shuffled on its own. Both passes touch memory in cache-sized
// pieces, several times faster than one Fisher–Yates pass over tens of millions
// of ids, and the result is still a uniform permutation.
//
// Use: newBucketShuffle, then put exactly len(dst) values, then finish.
type bucketShuffle struct {
	dst   []int32
	start []int // start[b]..start[b+1] is bucket b's region of dst
	next  []int // write cursor of each bucket
	shift uint  // a bucket is the top bits of a random word
	seed  uint64
	pick  rng
}

func newBucketShuffle(dst []int32, seed uint64) *bucketShuffle {
	want := min((len(dst)+bucketValues-1)/bucketValues, maxBuckets)
	logBuckets := 0
	if want > 1 {
		logBuckets = bits.Len(uint(want - 1))
	}
	buckets := 1 << logBuckets
	s := &bucketShuffle{
		dst:   dst,
		start: make([]int, buckets+1),
		next:  make([]int, buckets),
		shift: uint(64 - logBuckets), // a shift by 64 yields 0: one bucket
		seed:  seed,
	}
	// Draw the bucket sequence once to size the regions; put redraws it.
	counts := s.start[1:]
	pick := newRNG(seed)
	for range dst {
		counts[pick.next()>>s.shift]++
	}
	for b := range buckets {
		s.start[b+1] += s.start[b]
	}
	copy(s.next, s.start)
	s.pick = newRNG(seed)
	return s
}

// put places the next value of the sequence.
func (s *bucketShuffle) put(v int32) {
	b := s.pick.next() >> s.shift
	s.dst[s.next[b]] = v
	s.next[b]++
}

// finish shuffles every bucket; dst then holds the permuted sequence.
func (s *bucketShuffle) finish() {
	for b := range len(s.next) {
		if s.next[b] != s.start[b+1] {
			panic("sampler: bucketShuffle finished before every value was put")
		}
		region := s.dst[s.start[b]:s.start[b+1]]
		r := newRNG(seedFor(tagBucket, s.seed, uint64(b)))
		shufflePrefix(region, len(region), &r)
	}
}
