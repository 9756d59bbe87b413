package offline

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/facestream/facestream/internal/avx2"
)

// selection is what S2 decides: each identity's centre, each photo's cosine to it, and the base.
type selection struct {
	dim     int
	centers []float32 // classes × dim, L2-normalised (zero for an identity without photos)
	cosine  []float32 // per embeddings row
	base    []bool    // per embeddings row
	why     []removal // per embeddings row outside the base: why it is out
	t       float64   // the threshold t resolved to an absolute cosine
	scalar  bool      // the portable dot products even where AVX2 and FMA run (tests compare)
}

// removal says why S2 left a photo out of the base.
type removal uint8

const (
	inBase      removal = iota
	belowT              // cosine to its centre at most t, and not among keep_min rescued
	nearerOther         // nearer another identity's centre than its own
	undecodable         // the photo does not decode: its embedding is zero
)

func (r removal) String() string {
	return [...]string{"", "cosine at most t", "nearer another identity", "does not decode"}[r]
}

// selectBase computes S2 on embeddings e of photos of classes identities.
func selectBase(e *embeddings, classes int, cfg SelectConfig) (*selection, error) {
	for i, l := range e.labels {
		if l < 0 || int(l) >= classes {
			return nil, fmt.Errorf("photo %d has label %d outside 0..%d", e.ids[i], l, classes-1)
		}
	}
	byClass := rowsByClass(e.labels, classes)
	s := &selection{dim: e.dim, cosine: make([]float32, e.len()), base: make([]bool, e.len()),
		why: make([]removal, e.len())}
	s.centers = centres(e, byClass, nil)
	if err := s.score(e, byClass, cfg); err != nil {
		return nil, err
	}
	if cfg.Robust {
		// The first centre is pulled towards whatever noise the identity holds; its base is mostly
		// clean, so a centre of the base alone sits nearer the true identity.
		s.centers = centres(e, byClass, s.base)
		if err := s.score(e, byClass, cfg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// score computes every cosine to the current centres, resolves t on their distribution, and
// marks the base: cosine > t, plus each identity's keep_min best photos. With cfg.Nearest, the
// photos the centre cannot vouch for, those keep_min would rescue and all photos of an identity of
// at most keep_min photos (whose centre an intruder pulls halfway to itself), must also be nearer
// their own centre than any other identity's; an identity keeps at least its best photo. Photos
// that did not decode (zero embeddings) are out, and count for nothing.
func (s *selection) score(e *embeddings, byClass [][]int, cfg SelectConfig) error {
	decoded := make([]float64, 0, e.len()) // the cosines t is resolved on
	for i := range e.len() {
		s.cosine[i] = dot(e.row(i), s.center(int(e.labels[i])))
		if s.why[i] = inBase; isZero(e.row(i)) {
			s.why[i] = undecodable
		} else {
			decoded = append(decoded, float64(s.cosine[i]))
		}
	}
	slices.Sort(decoded)
	t, err := cfg.T.Resolve(decoded, nil)
	if err != nil {
		return fmt.Errorf("t: %w", err)
	}
	s.t = t
	photos := make([]int, len(byClass)) // per identity, its photos that decoded
	for i, l := range e.labels {
		if s.why[i] != undecodable {
			photos[l]++
		}
	}
	var foreign []bool
	if cfg.Nearest {
		foreign = s.nearerElsewhere(e, func(i int) bool {
			return s.why[i] != undecodable && (float64(s.cosine[i]) <= t || photos[e.labels[i]] <= cfg.KeepMin)
		})
	}
	for c, rows := range byClass {
		slices.SortStableFunc(rows, func(a, b int) int { return cmp.Compare(s.cosine[b], s.cosine[a]) })
		small := photos[c] <= cfg.KeepMin
		kept, best := 0, -1
		for _, i := range rows {
			if s.base[i] = false; s.why[i] == undecodable {
				continue
			}
			if best < 0 {
				best = i
			}
			pass := float64(s.cosine[i]) > t
			switch {
			case !pass && kept >= cfg.KeepMin:
				s.why[i] = belowT
			case cfg.Nearest && (small || !pass) && foreign[i]:
				s.why[i] = nearerOther
			default:
				s.base[i] = true
				kept++
			}
		}
		if kept == 0 && cfg.KeepMin > 0 && best >= 0 {
			s.base[best], s.why[best] = true, inBase // the check never empties an identity keep_min protects
		}
	}
	return nil
}

// isZero reports whether every value of v is zero.
func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func (s *selection) center(c int) []float32 { return s.centers[c*s.dim : (c+1)*s.dim] }

// nearerElsewhere marks, among the photos check selects, those nearer another identity's centre
// than their own: the mark of a photo filed under the wrong identity. It costs one dot product per
// photo checked and identity: blocks of photos sweep the centres a cache-sized block at a time,
// two photos by four centres per step (AVX2 and FMA where the CPU has them), over every core.
func (s *selection) nearerElsewhere(e *embeddings, check func(i int) bool) []bool {
	var suspects []int
	for i := range e.len() {
		if check(i) {
			suspects = append(suspects, i)
		}
	}
	out := make([]bool, e.len())
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				start := int(next.Add(photoBlock)) - photoBlock
				if start >= len(suspects) {
					return
				}
				s.markForeign(e, suspects[start:min(start+photoBlock, len(suspects))], out)
			}
		})
	}
	wg.Wait()
	return out
}

const (
	// photoBlock photos share each sweep of the centres, whose memory traffic it divides.
	photoBlock = 256
	// centreBytes of centres are swept together: they stay in the L1 cache while every photo of
	// a block meets them (the kernel loads four centre rows to two photo rows).
	centreBytes = 24 << 10
)

// markForeign sets out[i] for the photos i of block nearer another identity's centre than their
// own. Both sides of the comparison come from the same kernel, so they round alike.
func (s *selection) markForeign(e *embeddings, block []int, out []bool) {
	d, classes := s.dim, len(s.centers)/s.dim
	own := make([]float32, len(block))
	other := make([]float32, len(block))
	for k := range other {
		other[k] = float32(math.Inf(-1))
	}
	note := func(k, c int, v float32) {
		if c == int(e.labels[block[k]]) {
			own[k] = v
		} else {
			other[k] = max(other[k], v)
		}
	}
	fast := d%8 == 0 && !s.scalar && avx2.FMAAvailable()
	centreBlock := max(4, centreBytes/(4*d)&^3)
	var tile [8]float32
	var padded []float32 // the last centres, with zero rows up to four
	if fast && classes%4 != 0 {
		padded = make([]float32, 4*d)
		copy(padded, s.centers[classes/4*4*d:])
	}
	for first := 0; first < classes; first += centreBlock {
		end := min(first+centreBlock, classes)
		for k := 0; k < len(block); k += 2 {
			k1 := min(k+1, len(block)-1) // a photo without a partner goes with itself
			q0, q1 := e.row(block[k]), e.row(block[k1])
			own0, own1 := int(e.labels[block[k]]), int(e.labels[block[k1]])
			if !fast {
				for c := first; c < end; c++ {
					note(k, c, dot(q0, s.center(c)))
					note(k1, c, dot(q1, s.center(c)))
				}
				continue
			}
			for c := first; c < end; c += 4 {
				centres := padded
				if c+4 <= classes {
					centres = s.centers[c*d : (c+4)*d]
				}
				avx2.Dots2x4(q0, q1, centres, &tile)
				if n := min(4, classes-c); n < 4 || c <= own0 && own0 < c+4 || c <= own1 && own1 < c+4 {
					for j := range n {
						note(k, c+j, tile[j])
						note(k1, c+j, tile[4+j])
					}
				} else { // neither photo's own identity: the common case, without a call
					other[k] = max(other[k], tile[0], tile[1], tile[2], tile[3])
					other[k1] = max(other[k1], tile[4], tile[5], tile[6], tile[7])
				}
			}
		}
	}
	for k, i := range block {
		out[i] = other[k] > own[k]
	}
}

// centres are the L2-normalised means of each class's rows, of those in keep when keep is non-nil.
func centres(e *embeddings, byClass [][]int, keep []bool) []float32 {
	out := make([]float32, len(byClass)*e.dim)
	sum := make([]float64, e.dim)
	for c, rows := range byClass {
		clear(sum)
		for _, i := range rows {
			if keep != nil && !keep[i] {
				continue
			}
			for j, v := range e.row(i) {
				sum[j] += float64(v)
			}
		}
		var norm float64
		for _, v := range sum {
			norm += v * v
		}
		if norm == 0 {
			continue
		}
		norm = math.Sqrt(norm)
		for j, v := range sum {
			out[c*e.dim+j] = float32(v / norm)
		}
	}
	return out
}

// rowsByClass lists the rows of each label in row order.
func rowsByClass(labels []int32, classes int) [][]int {
	out := make([][]int, classes)
	for i, l := range labels {
		out[l] = append(out[l], i)
	}
	return out
}

func dot(a, b []float32) float32 {
	var s float64
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return float32(s)
}

func sortedFloat64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	slices.Sort(out)
	return out
}
