package augment

import (
	"encoding/binary"
	"unsafe"

	"github.com/facestream/facestream/internal/avx2"
)

// Kernels names the pixel kernels this build runs on this CPU: "avx2", or "portable" (the SWAR
// and scalar Go kernels, which give the same bytes, slower).
func Kernels() string {
	if avx2.Available() {
		return "avx2"
	}
	return "portable"
}

// weightedRows computes out[i] = (128 + sum over k of w[k]*src[offs[k]+i]) >> 8 for every i:
// a weighted sum of len(w) rows of src, the kernel of the vertical resampling pass and of both
// blur passes. The weights are 8-bit, summing to at most 256, so every partial sum fits a
// 16-bit lane (255*256 + 128 < 65536) and the SIMD and SWAR kernels give the same bytes.
// With simd (callers pass avx2.Available()), the AVX2 kernel does it 32 bytes at a time. out
// must not overlap src.
func weightedRows(out, src []byte, offs []int, w []uint64, simd bool) {
	n := len(out)
	if len(offs) != len(w) || len(w) == 0 {
		panic("augment: weightedRows needs one weight per row")
	}
	for _, off := range offs {
		if off < 0 || off+n > len(src) {
			panic("augment: weightedRows reads outside its source")
		}
	}
	done := 0
	if len(w) == 1 { // a weight of 256: a copy (weightedRowsSWAR's), faster than the kernel
		simd = false
	}
	if simd {
		done = avx2.WeightedRows(out, src, offs, w)
		if done < n && n >= 32 {
			// One more block, overlapping the last: it rewrites some bytes with the same values.
			avx2.WeightedRows(out[n-32:], src[n-32:], offs, w)
			done = n
		}
	}
	weightedRowsSWAR(out[done:], src, offs, w, done)
}

// weightedRowsSWAR is weightedRows eight bytes at a time (see swar.go) from byte from of each
// row on, with out starting at that byte; the callers have checked the bounds.
func weightedRowsSWAR(out, src []byte, offs []int, w []uint64, from int) {
	n := len(out)
	whole := n &^ 7
	base := unsafe.Pointer(unsafe.SliceData(src))
	// The rows are read through pointers: weightedRows checked that offs[k]+from+n <= len(src),
	// and the compiler cannot drop bounds checks on loads indexed by the loop counter.
	load := func(k, i int) uint64 {
		return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(base, offs[k]+from+i))[:])
	}
	switch len(w) {
	case 1:
		copy(out, src[offs[0]+from:offs[0]+from+n])
		return
	case 2: // the common case when enlarging: blend two rows, no accumulators
		wa, wb := w[0], w[1]
		for i := 0; i < whole; i += 8 {
			x, y := load(0, i), load(1, i)
			even := (x&evenBytes)*wa + (y&evenBytes)*wb + laneHalf
			odd := (x>>8&evenBytes)*wa + (y>>8&evenBytes)*wb + laneHalf
			binary.LittleEndian.PutUint64(out[i:i+8], even>>8&evenBytes|odd&^evenBytes)
		}
	default:
		for i := 0; i < whole; i += 8 {
			even, odd := uint64(laneHalf), uint64(laneHalf)
			for k, wk := range w {
				x := load(k, i)
				even += (x & evenBytes) * wk
				odd += (x >> 8 & evenBytes) * wk
			}
			binary.LittleEndian.PutUint64(out[i:i+8], even>>8&evenBytes|odd&^evenBytes)
		}
	}
	for i := whole; i < n; i++ {
		acc := uint64(128)
		for k, wk := range w {
			acc += uint64(src[offs[k]+from+i]) * wk
		}
		out[i] = uint8(acc >> 8)
	}
}
