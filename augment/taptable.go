package augment

import (
	"math"
	"unsafe"

	"github.com/facestream/facestream/internal/avx2"
)

// tapTable drives the SIMD kernel of the horizontal resampling pass, for any number of taps.
// Output bytes go in groups of eight, two groups per step. Each group reads 16-byte windows of
// the source row, the first from base[g], the next 6 bytes further on, and so on: one window per
// pair of taps. Two byte shuffles pick every output byte's even and odd taps out of a window,
// widened to 16 bits: a byte's taps are the same channel of consecutive pixels, 3 bytes apart,
// so the shuffles serve every pair, and the taps differ by their weights alone. An output byte
// whose first tap lies too far into its group's window (shrinking, where a group's pixels
// spread over more source bytes than a window holds) starts a pixel or more earlier, with
// leading zero weights: every shrink is served, at the cost of more taps.
type tapTable struct {
	base  []int32 // per group, its first window's first byte in the row
	table []byte  // per step: two shuffles (2×16 bytes each), then each tap's weights (2×8 uint16)
	steps int     // steps in a row
	pairs int     // pairs of taps of every output byte: the most any needs, leading zeros included
	reach int     // one past the last row byte the kernel reads
}

// maxTablePairs bounds the kernel's work: a shrink that needs more taps (by over about ten: a
// photo far larger than the output in a format without a scaled decode) goes through the
// portable kernel.
const maxTablePairs = 24

// lastFirstTap is the furthest into a window a byte's first tap may lie: its second tap, three
// bytes on, must still be in the window.
const lastFirstTap = 12

// build fills the table for outputs whose pixel i blends a.count[i] pixels from row[offs[i]:]
// by a.w[i*a.stride:]. It returns false when there is no whole step, or when the outputs need
// more than maxTablePairs pairs of taps; then the kernel cannot serve.
func (t *tapTable) build(offs []int32, a *axisWeights) bool {
	steps := len(offs) * 3 / 16
	if steps == 0 {
		return false
	}
	size := 16 * steps // output bytes in whole steps
	// Locals, not fields: the compiler reloads fields after every store to the table.
	bases := growInt32(t.base, size/8)
	counts, weights, stride := a.count, a.w, a.stride
	// Each group's window starts at its lowest first tap; its bytes need at most the furthest
	// one's leading taps and the most taps of any of their outputs. (Byte j is channel c of
	// output p, kept apart from j to spare divisions.)
	taps, most := 0, int32(0)
	lo, hi := int32(math.MaxInt32), int32(0)
	for j, p, c := 0, 0, int32(0); j < size; j++ {
		at := offs[p] + c
		lo, hi, most = min(lo, at), max(hi, at), max(most, counts[p])
		if j&7 == 7 {
			bases[j>>3] = lo
			taps = max(taps, leadingTaps(hi-lo)+int(most))
			lo, hi = math.MaxInt32, 0
		}
		if c++; c == 3 {
			p, c = p+1, 0
		}
	}
	pairs := (taps + 1) / 2
	if pairs > maxTablePairs {
		return false
	}
	reach := 0
	for _, base := range bases {
		reach = max(reach, int(base)+6*(pairs-1)+16)
	}
	stepLen := 64 + 64*pairs
	table := grow(t.table, steps*stepLen)
	clear(table) // the weights of leading taps, and of taps past an output's last
	for g, base := range bases {
		j := 8 * g
		fillGroup(table[g/2*stepLen:(g/2+1)*stepLen], 16*(g&1), offs[j/3:], int32(j%3), base, weights[j/3*stride:], stride, 2*pairs)
	}
	t.base, t.table, t.steps, t.pairs, t.reach = bases, table, steps, pairs, reach
	return true
}

// fillGroup writes one group's half of a step's table (lanes from byte half of each vector on)
// for the eight output bytes from channel c of output 0 of offs on, whose window starts at base:
// output p has the weights weights[p*stride:(p+1)*stride] (zeros after its last), of which the
// first taps fit after a byte's leading taps. Whole rows, not each output's own count: a loop
// whose length changed from byte to byte mispredicted its exit every time. Apart from build,
// whose locals would crowd it out of the registers.
func fillGroup(step []byte, half int, offs []int32, c, base int32, weights []uint64, stride, taps int) {
	// Stores go through pointers after one check: with bounds checks on every byte, the loop
	// ran out of registers. (Little-endian stores: the table serves the AVX2 kernels alone.)
	last := (int(c) + 7) / 3 // the output of the group's last byte
	if half < 0 || half > 16 || len(step) < 64+32*taps || len(offs) <= last || len(weights) < (last+1)*stride {
		panic("augment: tap table group out of bounds")
	}
	table, rows := unsafe.Pointer(unsafe.SliceData(step)), unsafe.Pointer(unsafe.SliceData(weights))
	p := 0
	for k := half; k < half+16; k += 2 {
		at := offs[p] + c - base
		lead := leadingTaps(at)
		at -= int32(3 * lead)
		// The shuffles' byte pairs: the tap's byte, then 0x80 (a zero high byte).
		*(*uint16)(unsafe.Add(table, k)) = uint16(uint8(at)) | 0x8000
		*(*uint16)(unsafe.Add(table, 32+k)) = uint16(uint8(at+3)) | 0x8000
		lanes, row := unsafe.Add(table, 64+32*lead+k), unsafe.Add(rows, 8*p*stride)
		for tap := range min(stride, taps-lead) {
			*(*uint16)(unsafe.Add(lanes, 32*tap)) = uint16(*(*uint64)(unsafe.Add(row, 8*tap)))
		}
		if c++; c == 3 {
			p, c = p+1, 0
		}
	}
}

// leadingTaps is how many pixels before its first tap an output byte whose first tap lies at
// byte at of its group's window must start, for that start to lie within lastFirstTap.
func leadingTaps(at int32) int {
	if at <= lastFirstTap {
		return 0
	}
	return int(uint32(at-lastFirstTap+2) / 3)
}

// rows computes rows output rows (3*len(offs) bytes each, one every dstStride bytes of dst) from
// rows of src, one every srcStride bytes, each of which must hold at least t.reach bytes and
// every tap of a: the kernel does whole steps, the bytes after them go one at a time.
func (t *tapTable) rows(dst []byte, dstStride int, src []byte, srcStride, rows int, offs []int32, a *axisWeights) {
	done := avx2.TapSteps(dst, dstStride, src, srcStride, rows, t.base, t.table, t.steps, t.pairs)
	for y := range rows {
		row, out := src[y*srcStride:], dst[y*dstStride:y*dstStride+3*len(offs)]
		for j := done; j < len(out); j++ {
			p := j / 3
			at := int(offs[p]) + j%3
			acc := uint64(128)
			for k, w := range a.w[p*a.stride : p*a.stride+int(a.count[p])] {
				acc += uint64(row[at+3*k]) * w
			}
			out[j] = uint8(acc >> 8)
		}
	}
}
