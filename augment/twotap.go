package augment

import "github.com/facestream/facestream/internal/avx2"

// twoTapTable drives the SIMD kernel of the two-tap horizontal pass (enlarging, the face
// profile's crops). Output bytes go in groups of eight, two groups per step: each group reads
// one 16-byte window of the source row, from base[g], and two byte shuffles pick every output
// byte's left and right tap out of it, widened to 16 bits, to be weighted as blendTwoTap does.
type twoTapTable struct {
	base  []int32 // per group, its window's first byte in the row
	steps []byte  // per two groups, stepBytes: the shuffles and weights (layout in build)
	pairs int     // steps in a row
	reach int     // one past the last row byte the kernel reads
}

// stepBytes is one step's table: left-tap shuffle (2×16 bytes), right-tap shuffle (2×16),
// left weights (2×8 uint16), right weights (2×8 uint16); group 2s in the first half of each.
const stepBytes = 128

// build fills the table for outputs whose pixel i blends the pixels at row[offs[i]:] and
// row[offs[i]+3:] by weights[i] (blendTwoTap's form, wb | wa<<32). It returns false when some
// group's taps do not fit one 16-byte window (strong shrinking), and the kernel cannot serve.
func (t *twoTapTable) build(offs []int32, weights []uint64) bool {
	groups := len(offs) * 3 / 8
	t.pairs = groups / 2
	groups = 2 * t.pairs
	t.base = growInt32(t.base, groups)
	t.steps = grow(t.steps, t.pairs*stepBytes)
	t.reach = 0
	for g := range groups {
		step := (*[stepBytes]byte)(t.steps[g/2*stepBytes:])
		half := 16 * (g % 2)
		first, last := 8*g/3, (8*g+7)/3 // the group's pixels
		base := offs[first]
		for _, off := range offs[first+1 : last+1] {
			base = min(base, off)
		}
		t.base[g] = base
		t.reach = max(t.reach, int(base)+16)
		p, c := first, int32(8*g%3)
		for b := range 8 {
			wa, wb := weights[p]>>32, weights[p]&0xffffffff
			left := offs[p] + c - base
			right := left + 3
			if wb == 0 { // a one-tap output: its right tap may lie beyond the window
				right = left
			}
			if right > 15 {
				return false
			}
			k := half + 2*b
			step[k], step[k+1] = byte(left), 0x80 // 0x80: the high byte is zero
			step[32+k], step[32+k+1] = byte(right), 0x80
			step[64+k], step[64+k+1] = byte(wa), byte(wa>>8)
			step[96+k], step[96+k+1] = byte(wb), byte(wb>>8)
			if c++; c == 3 {
				p, c = p+1, 0
			}
		}
	}
	return true
}

// rows computes rows output rows (3*len(offs) bytes each, one every dstStride bytes of dst) from
// rows of src, one every srcStride bytes, each of which must hold at least
// max(t.reach, last offset + 7) bytes: the kernel does whole steps, the bytes after them go one
// at a time.
func (t *twoTapTable) rows(dst []byte, dstStride int, src []byte, srcStride, rows int, offs []int32, weights []uint64) {
	done := avx2.TwoTapSteps(dst, dstStride, src, srcStride, rows, t.base, t.steps, t.pairs)
	for y := range rows {
		row, out := src[y*srcStride:], dst[y*dstStride:y*dstStride+3*len(offs)]
		for j := done; j < len(out); j++ {
			p, c := j/3, int(j%3)
			at := int(offs[p]) + c
			acc := uint64(row[at])*(weights[p]>>32) + 128
			if wb := weights[p] & 0xffffffff; wb != 0 {
				acc += uint64(row[at+3]) * wb
			}
			out[j] = uint8(acc >> 8)
		}
	}
}
