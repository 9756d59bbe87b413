package augment

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/facestream/facestream/internal/avx2"
)

// axisWeights maps one source axis to n outputs: output i reads count[i] consecutive source
// samples from start[i] with 8-bit weights w[i*stride:] that sum to 256.
type axisWeights struct {
	start  []int32
	count  []int32
	w      []uint64
	stride int
	fw     []int64 // one output's weights in fixed point, before quantization
	off3   []int32 // output i's first source byte, 3*start[i]
	// When no output has more than two taps (enlarging, or shrinking by less than two), the
	// portable two-tap kernel's weights: output i's two as blendPair multiplies by them,
	// w[1] | w[0]<<32.
	twoTap bool
	pairW  []uint64
	// copies is true when output i is source sample start[0]+i, weight 256: a plain copy.
	copies bool
}

// box is a source rectangle in pixels; fractional when it comes from a scaled decode.
type box struct{ x, y, w, h float64 }

// build computes the weights of gift's LinearResampling (a triangle kernel, widened by the
// shrink factor so that shrinking averages instead of aliasing) for n outputs covering
// [off, off+length) of a source axis, reading only samples in [lo, hi]. Near the clamp the
// remaining weights are renormalized, as gift does after a Crop. flip reverses the outputs.
//
// It runs twice for every sample, so positions are fixed point (fixedOne to a pixel): output
// i's centre is one addition from output i-1's, and enlarging, where a centre's two taps
// weigh its fraction and the rest, needs neither division nor rounding calls. Taps whose
// 8-bit weight rounds to zero are left out.
func (a *axisWeights) build(n int, off, length float64, lo, hi int, flip bool) {
	delta := length / float64(n)
	scale := max(delta, 1)
	stride := 2*int(math.Ceil(scale)) + 1
	// Locals, not fields: the compiler reloads fields after every store to the tables.
	starts, counts, weights := growInt32(a.start, n), growInt32(a.count, n), growUint64(a.w, n*stride)
	if cap(a.fw) < stride {
		a.fw = make([]int64, stride)
	}
	fw := a.fw[:stride]
	a.start, a.count, a.w, a.stride = starts, counts, weights, stride
	step, support := toFixed(delta), toFixed(scale) // a weight is support - |distance|
	center := toFixed(off + float64(0.5*delta) - 0.5)
	for i := range n {
		out := i
		if flip {
			out = n - 1 - i
		}
		w := weights[out*stride : out*stride+stride]
		first, taps := int(center>>fixedBits), 0 // the sample at or left of the centre
		if frac := center & (fixedOne - 1); support == fixedOne && first >= lo && first < hi {
			// Enlarging inside the span: the two samples around the centre.
			right := (frac + fixedOne>>9) >> (fixedBits - 8) // the right one's weight, rounded to 1/256
			w[0], w[1], taps = uint64(256-right), uint64(right), 2
			switch right {
			case 0:
				taps = 1
			case 256:
				first, w[0], taps = first+1, 256, 1
			}
		} else {
			first, taps = triangleTaps(w, fw, center, support, lo, hi)
		}
		clear(w[taps:]) // rows are whole: the SIMD table reads past an output's last tap
		starts[out], counts[out] = int32(first), int32(taps)
		center += step
	}
	a.buildKernelTables(n)
}

// fixedBits is the fraction bits of build's fixed-point positions; fixedOne is a pixel.
const (
	fixedBits = 32
	fixedOne  = int64(1) << fixedBits
)

func toFixed(x float64) int64 { return int64(math.Round(x * float64(fixedOne))) }

// triangleTaps writes to w the 8-bit weights of the samples in [lo, hi] within support of
// center (support - distance, renormalized to sum to 256), or 256 for the nearest sample when
// there are none, using fw for the fixed-point weights; it returns the first sample and the
// count, without the leading and trailing taps that round to zero.
func triangleTaps(w []uint64, fw []int64, center, support int64, lo, hi int) (first, taps int) {
	left := max(int((center-support)>>fixedBits)+1, lo) // the first sample nearer than support
	right := min(int((center+support-1)>>fixedBits), hi)
	var sum int64
	for j := left; j <= right; j++ {
		wt := support - abs64(int64(j)<<fixedBits-center)
		fw[j-left] = wt
		sum += wt
	}
	if right < left { // the span lies outside [lo, hi]: take the nearest sample
		w[0] = 256
		return min(max(int((center+fixedOne/2)>>fixedBits), lo), hi), 1
	}
	count := right - left + 1
	quantizeWeights(w[:count], fw[:count], sum)
	for w[count-1] == 0 {
		count--
	}
	lead := 0
	for w[lead] == 0 {
		lead++
	}
	if lead > 0 {
		copy(w, w[lead:count])
	}
	return left + lead, count - lead
}

// quantizeWeights writes fw/sum as 8-bit weights that sum exactly to 256 (the rounding residue
// goes to the largest weight), so flat areas stay exactly flat and no SWAR lane can overflow.
func quantizeWeights(dst []uint64, fw []int64, sum int64) {
	unit := 256 / float64(sum)
	total, largest := 0, 0
	for k, v := range fw {
		dst[k] = uint64(roundNonNegative(float64(float64(v) * unit))) // converted: no fused multiply-add
		total += int(dst[k])
		if dst[k] > dst[largest] {
			largest = k
		}
	}
	dst[largest] = uint64(int(dst[largest]) + 256 - total)
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// buildKernelTables fills off3, and pairW when every output has one or two taps.
func (a *axisWeights) buildKernelTables(n int) {
	a.twoTap, a.copies = true, true
	a.off3 = growInt32(a.off3, n)
	for i, c := range a.count[:n] {
		a.twoTap = a.twoTap && c <= 2
		a.copies = a.copies && c == 1 && a.start[i] == a.start[0]+int32(i)
		a.off3[i] = 3 * a.start[i]
	}
	if !a.twoTap {
		return
	}
	a.pairW = growUint64(a.pairW, n)
	for i := range n {
		w := a.w[i*a.stride : i*a.stride+int(a.count[i])]
		wa, wb := w[0], uint64(0)
		if len(w) == 2 {
			wb = w[1]
		}
		a.pairW[i] = wb | wa<<32
	}
}

// end returns one past the last source sample any output reads.
func (a *axisWeights) end() int {
	e := 0
	for i, s := range a.start {
		e = max(e, int(s+a.count[i]))
	}
	return e
}

// roundNonNegative is math.Round for 0 <= x < 2^63, several times faster: x - trunc(x) is exact.
func roundNonNegative(x float64) int {
	t := int(x)
	if x-float64(t) >= 0.5 {
		t++
	}
	return t
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func growUint64(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}

// resampler resizes packed RGB images with separable 8-bit weights, by AVX2 kernels where the
// CPU has them and SWAR kernels (swar.go) elsewhere, with the same bytes either way; it keeps
// its buffers between calls, so resizing allocates nothing once they have grown.
type resampler struct {
	xs, ys  axisWeights
	rows    []byte      // the vertically resampled crop, one row per output row, and rowSlack bytes
	offs    []int32     // the horizontal kernels' source offsets, relative to the row they read
	taps    []int       // one output row's source rows in the vertical pass, as byte offsets
	rowOffs []int       // each output row's first source row in the vertical pass, as a byte offset
	tail    []byte      // a source row copied with slack for the horizontal kernels' loads
	twoTap  twoTapTable // the SIMD two-tap kernel's tables (enlarging, the face profile's crops)
	multi   tapTable    // the SIMD kernel's tables for more taps (shrinking)
	scalar  bool        // use the SWAR kernels even where AVX2 runs (tests compare the two)
}

// rowSlack is how far past a row's last pixel the two-tap kernels may load: the SIMD kernel
// reads 16-byte windows that start at a tap. (Rows that need more go through a scratch copy.)
const rowSlack = 16

// resize resamples the region b of src (sw×sh packed RGB) to dst (dw×dh packed RGB), flipped
// horizontally when flip. It is crop, resize and flip in one go, in two passes through a small
// intermediate: the vertical pass weights whole rows; the horizontal pass, whose weights
// change from pixel to pixel, costs more, so it runs on whichever is fewer, the source rows the
// crop needs (horizontal pass first) or the output rows (vertical pass first). Flipping is a
// reversed weight table.
func (r *resampler) resize(dst []byte, dw, dh int, src []byte, sw, sh int, b box, flip bool) {
	x0, x1 := clampSpan(b.x, b.w, sw)
	y0, y1 := clampSpan(b.y, b.h, sh)
	r.xs.build(dw, b.x, b.w, x0, x1, flip)
	r.ys.build(dh, b.y, b.h, y0, y1, false)
	rowFirst, rowLast := int(r.ys.start[0]), r.ys.end()-1 // ys is not flipped: starts ascend
	outLen := dw * 3
	if r.xs.copies && r.ys.copies { // the crop is the output's size, on whole pixels: a copy
		first := (rowFirst*sw + int(r.xs.start[0])) * 3
		for y := range dh {
			copy(dst[y*outLen:(y+1)*outLen], src[first+y*sw*3:])
		}
		return
	}
	if rows := rowLast - rowFirst + 1; rows < dh {
		r.rows = grow(r.rows, rows*outLen+rowSlack)
		r.horizontalPass(r.rows, outLen, src[rowFirst*sw*3:], sw*3, rows, &r.xs, 0)
		r.verticalPass(dst, outLen, outLen, r.rows, outLen, &r.ys, rowFirst)
		return
	}
	cropLen := (x1 - x0 + 1) * 3
	r.rows = grow(r.rows, dh*cropLen+rowSlack)
	r.verticalPass(r.rows, cropLen, cropLen, src[x0*3:], sw*3, &r.ys, 0)
	r.horizontalPass(dst, outLen, r.rows, cropLen, dh, &r.xs, x0)
}

// simd reports whether the AVX2 kernels serve this resampler.
func (r *resampler) simd() bool { return !r.scalar && avx2.Available() }

// horizontalPass resamples rows rows of src (one every srcStride bytes, starting at source
// column x0) horizontally into dst (one row every dstStride bytes).
func (r *resampler) horizontalPass(dst []byte, dstStride int, src []byte, srcStride, rows int, a *axisWeights, x0 int) {
	n := len(a.start)
	if a.copies {
		first := (int(a.start[0]) - x0) * 3
		for y := range rows {
			copy(dst[y*dstStride:y*dstStride+n*3], src[y*srcStride+first:])
		}
		return
	}
	r.offs = growInt32(r.offs, n)
	first, last := math.MaxInt32, 0
	for i, off := range a.off3[:n] {
		r.offs[i] = off - int32(3*x0)
		first, last = min(first, int(r.offs[i])), max(last, int(r.offs[i]))
	}
	simd := false
	if r.simd() {
		if a.twoTap {
			simd = r.twoTap.build(r.offs, a.pairW[:n])
		} else {
			simd = r.multi.build(r.offs, a)
		}
	}
	if !simd && !a.twoTap {
		for y := range rows {
			a.resampleRow(dst[y*dstStride:y*dstStride+n*3], src[y*srcStride:], x0)
		}
		return
	}
	// The kernels read past each output's first source byte (seven bytes, or the SIMD kernels'
	// windows): the rows from whole on are too close to the end of src for that, and go one at
	// a time through a scratch copy.
	reach := last + 7
	switch {
	case simd && a.twoTap:
		reach = max(reach, r.twoTap.reach)
	case simd:
		reach = max(reach, r.multi.reach)
	}
	whole := 0
	if len(src) >= reach {
		whole = min(rows, (len(src)-reach)/srcStride+1)
	}
	if simd {
		r.simdRows(dst, dstStride, src, srcStride, whole, a)
	} else {
		// Rows go in pairs, which share the loop and the table loads; a row without a partner
		// is paired with itself (computed twice, written once).
		for y := 0; y < whole; y += 2 {
			y1 := min(y+1, whole-1)
			resampleRowsTwoTap(dst[y*dstStride:y*dstStride+n*3], dst[y1*dstStride:y1*dstStride+n*3],
				src[y*srcStride:], src[y1*srcStride:], r.offs, a.pairW[:n], first, last)
		}
	}
	for y := whole; y < rows; y++ {
		r.tail = grow(r.tail, reach)
		copy(r.tail, src[y*srcStride:])
		out := dst[y*dstStride : y*dstStride+n*3]
		if simd {
			r.simdRows(out, dstStride, r.tail, srcStride, 1, a)
		} else {
			resampleRowsTwoTap(out, out, r.tail, r.tail, r.offs, a.pairW[:n], first, last)
		}
	}
}

// simdRows runs the SIMD kernel whose table horizontalPass built for a on rows rows.
func (r *resampler) simdRows(dst []byte, dstStride int, src []byte, srcStride, rows int, a *axisWeights) {
	if a.twoTap {
		r.twoTap.rows(dst, dstStride, src, srcStride, rows, r.offs, a.pairW[:len(r.offs)])
	} else {
		r.multi.rows(dst, dstStride, src, srcStride, rows, r.offs, a)
	}
}

// verticalPass writes output row y (rowLen bytes, one every dstStride) from the source rows
// a.start[y]-first, ... of src (one every srcStride bytes).
func (r *resampler) verticalPass(dst []byte, dstStride, rowLen int, src []byte, srcStride int, a *axisWeights, first int) {
	simd := r.simd()
	if simd {
		r.rowOffs = r.rowOffs[:0]
		for _, start := range a.start {
			r.rowOffs = append(r.rowOffs, (int(start)-first)*srcStride)
		}
		if avx2.VerticalRows(dst, dstStride, src, srcStride, r.rowOffs, a.count, a.w, a.stride, rowLen) {
			return
		}
	}
	for y, start := range a.start {
		count := int(a.count[y])
		r.taps = r.taps[:0]
		for k := range count {
			r.taps = append(r.taps, (int(start)-first+k)*srcStride)
		}
		weightedRows(dst[y*dstStride:y*dstStride+rowLen], src, r.taps, a.w[y*a.stride:y*a.stride+count], simd)
	}
}

// clampSpan returns the first and last source index of the span [off, off+length) within [0, size).
func clampSpan(off, length float64, size int) (int, int) {
	lo := max(int(math.Floor(off)), 0)
	hi := min(int(math.Ceil(off+length))-1, size-1)
	return lo, max(hi, lo)
}

// resampleRow computes one output row of the horizontal pass from row, the pixels from source
// column x0 on (and whatever follows them in memory). Taps go two pixels per 8-byte load (see
// swar.go); an odd last tap pairs with a zero weight. Within 8 bytes of the end of row, where
// such a load would overrun, the pixel is computed a byte at a time.
func (a *axisWeights) resampleRow(out, row []byte, x0 int) {
	n := len(out) / 3
	starts, counts, weights, stride := a.start[:n], a.count[:n], a.w, a.stride // locals stay in registers
	for i := range n {
		start := starts[i]
		s := (int(start) - x0) * 3
		w := weights[i*stride : i*stride+int(counts[i])]
		var v uint32
		switch {
		case s+3*len(w)+5 > len(row):
			v = blendBytewise(row[s:], w)
		case len(w) == 1:
			v = uint32(row[s]) | uint32(row[s+1])<<8 | uint32(row[s+2])<<16
		default:
			rb, g := uint64(pairHalfRB), uint64(pairHalfG)
			for k := 0; k < len(w); k += 2 {
				wb := uint64(0)
				if k+1 < len(w) {
					wb = w[k+1]
				}
				prb, pg := blendPair(binary.LittleEndian.Uint64(row[s+3*k:s+3*k+8]), wb|w[k]<<32)
				rb, g = rb+prb, g+pg
			}
			v = pairPixel(rb, g)
		}
		if i < n-1 {
			binary.LittleEndian.PutUint32(out[3*i:3*i+4], v) // the next pixel overwrites the fourth byte
		} else {
			out[3*i], out[3*i+1], out[3*i+2] = byte(v), byte(v>>8), byte(v>>16)
		}
	}
}

// resampleRowsTwoTap computes two output rows of one- and two-tap outputs, from two source
// rows with the same weights: output i blends the pixels at row[offs[i]:] by weights[i]
// (blendTwoTap's form). The loop is the hottest of the package, and bounds checks on its
// table-driven loads more than doubled its instruction count, so it reads the rows through
// pointers after checking once that every offset lies in [0, len(row)-7): first and last are
// the smallest and largest offsets. Each pixel goes out as a 4-byte store whose fourth byte the
// next pixel overwrites, so the last pixel is stored apart.
func resampleRowsTwoTap(out0, out1, row0, row1 []byte, offs []int32, weights []uint64, first, last int) {
	n := len(offs)
	if first < 0 || last+7 > min(len(row0), len(row1)) || len(weights) < n || min(len(out0), len(out1)) < 3*n {
		panic("augment: two-tap resampling out of bounds")
	}
	src0, src1 := unsafe.Pointer(unsafe.SliceData(row0)), unsafe.Pointer(unsafe.SliceData(row1))
	dst0, dst1 := unsafe.Pointer(unsafe.SliceData(out0)), unsafe.Pointer(unsafe.SliceData(out1))
	// The last pixels are computed first, so that little stays live across the loop (which then
	// keeps everything in registers), and stored after it, over the loop's spare fourth byte.
	last0 := blendTwoTap((*[7]byte)(unsafe.Add(src0, offs[n-1])), weights[n-1])
	last1 := blendTwoTap((*[7]byte)(unsafe.Add(src1, offs[n-1])), weights[n-1])
	for i, off := range offs[:n-1] {
		w := weights[i]
		v0 := blendTwoTap((*[7]byte)(unsafe.Add(src0, off)), w)
		v1 := blendTwoTap((*[7]byte)(unsafe.Add(src1, off)), w)
		binary.LittleEndian.PutUint32((*[4]byte)(unsafe.Add(dst0, 3*i))[:], v0)
		binary.LittleEndian.PutUint32((*[4]byte)(unsafe.Add(dst1, 3*i))[:], v1)
	}
	out0[3*n-3], out0[3*n-2], out0[3*n-1] = byte(last0), byte(last0>>8), byte(last0>>16)
	out1[3*n-3], out1[3*n-2], out1[3*n-1] = byte(last1), byte(last1>>8), byte(last1>>16)
}

// blendBytewise weights len(w) consecutive RGB pixels of px one byte at a time and returns the
// pixel in the low three bytes.
func blendBytewise(px []byte, w []uint64) uint32 {
	var v uint32
	for c := range 3 {
		acc := uint64(128)
		for k, wk := range w {
			acc += uint64(px[3*k+c]) * wk
		}
		v |= uint32(acc>>8) << (8 * c)
	}
	return v
}
