package augment

import (
	"encoding/binary"
	"math"
)

// Weights of the separable resampler are Q14 fixed point (the SWAR kernels round them to 8 bits).
const (
	weightBits = 14
	weightOne  = 1 << weightBits
)

// axisWeights maps one source axis to n outputs: output i reads count[i] consecutive source
// samples from start[i] with weights w[i*stride:].
type axisWeights struct {
	start  []int32
	count  []int32
	w      []int32
	stride int
	fw     []float64 // float weights of one output, before quantization
	// When every output has at most two taps: the byte offset of output i's first source pixel
	// and its first 8-bit weight (the second is 256 minus it), for the SWAR kernel.
	twoTap  bool
	offset3 []int32
	w8      []uint64
}

// box is a source rectangle in pixels; fractional when it comes from a scaled decode.
type box struct{ x, y, w, h float64 }

// build computes the weights of gift's LinearResampling (a triangle kernel, widened by the
// shrink factor so that shrinking averages instead of aliasing) for n outputs covering
// [off, off+length) of a source axis, reading only samples in [lo, hi]. Near the clamp the
// remaining weights are renormalized, exactly as gift does after a Crop. flip reverses the outputs.
func (a *axisWeights) build(n int, off, length float64, lo, hi int, flip bool) {
	delta := length / float64(n)
	scale := max(delta, 1)
	radius := math.Ceil(scale)
	a.stride = int(2*radius) + 1
	a.start = growInt32(a.start, n)
	a.count = growInt32(a.count, n)
	a.w = growInt32(a.w, n*a.stride)
	if cap(a.fw) < a.stride {
		a.fw = make([]float64, a.stride)
	}
	for i := range n {
		center := off + (float64(i)+0.5)*delta - 0.5
		left := max(int(math.Ceil(center-radius)), lo)
		right := min(int(math.Floor(center+radius)), hi)
		fw := a.fw[:0]
		var sum float64
		first := -1
		for j := left; j <= right; j++ {
			wt := 1 - math.Abs((float64(j)-center)/scale)
			if wt <= 0 {
				if first < 0 {
					continue // leading zero weight: start later
				}
				break // trailing zero weight: done
			}
			if first < 0 {
				first = j
			}
			fw = append(fw, wt)
			sum += wt
		}
		if first < 0 { // the span lies outside [lo, hi]: take the nearest sample
			first = min(max(int(math.Round(center)), lo), hi)
			fw, sum = append(fw, 1), 1
		}
		out := i
		if flip {
			out = n - 1 - i
		}
		a.start[out], a.count[out] = int32(first), int32(len(fw))
		quantizeWeights(a.w[out*a.stride:out*a.stride+len(fw)], fw, sum)
	}
	a.buildTwoTap(n, hi)
}

// buildTwoTap fills the SWAR tables when no output needs more than two taps. A one-tap output
// becomes two taps with a zero second weight, reading a neighbour that stays within [.., hi]
// (or the pixel itself when the span is one pixel wide).
func (a *axisWeights) buildTwoTap(n, hi int) {
	a.twoTap = true
	for _, c := range a.count[:n] {
		if c > 2 {
			a.twoTap = false
			return
		}
	}
	if cap(a.offset3) < n {
		a.offset3, a.w8 = make([]int32, n), make([]uint64, n)
	}
	a.offset3, a.w8 = a.offset3[:n], a.w8[:n]
	for i := range n {
		s, w := a.start[i], a.w[i*a.stride]
		wa := q8(w)
		if a.count[i] == 1 {
			wa = 256
		}
		a.offset3[i], a.w8[i] = 3*s, wa
	}
}

// quantizeWeights writes fw/sum as Q14 integers that sum exactly to weightOne (the rounding
// residue goes to the largest weight), so flat areas stay exactly flat.
func quantizeWeights(dst []int32, fw []float64, sum float64) {
	total, largest := int32(0), 0
	for k, v := range fw {
		dst[k] = int32(math.Round(v / sum * weightOne))
		total += dst[k]
		if dst[k] > dst[largest] {
			largest = k
		}
	}
	dst[largest] += weightOne - total
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// resampler resizes packed RGB images with separable fixed-point weights; it keeps its buffers
// between calls, so resizing allocates nothing once they have grown.
type resampler struct {
	xs, ys axisWeights
	rows   []byte  // horizontally resampled source rows (and 8 bytes of slack for SWAR stores)
	acc    []int32 // vertical accumulator for outputs with more than two taps
}

// resize resamples the region b of src (sw×sh packed RGB) to dst (dw×dh packed RGB), flipped
// horizontally when flip. It is crop, resize and flip in one go: the horizontal pass reads only
// the source rows the vertical pass needs, and flipping is a reversed weight table. One- and
// two-tap outputs (enlarging, or shrinking by less than two) take the SWAR kernels, with 8-bit
// weights; wider kernels (shrinking more) take Q14 integer arithmetic.
func (r *resampler) resize(dst []byte, dw, dh int, src []byte, sw, sh int, b box, flip bool) {
	x0, x1 := clampSpan(b.x, b.w, sw)
	y0, y1 := clampSpan(b.y, b.h, sh)
	r.xs.build(dw, b.x, b.w, x0, x1, flip)
	r.ys.build(dh, b.y, b.h, y0, y1, false)
	rowFirst, rowLast := sh, 0
	for i, s := range r.ys.start {
		rowFirst = min(rowFirst, int(s))
		rowLast = max(rowLast, int(s+r.ys.count[i]-1))
	}
	rowLen := dw * 3
	r.rows = grow(r.rows, (rowLast-rowFirst+1)*rowLen+8)
	src = src[:sw*sh*3]
	for y := rowFirst; y <= rowLast; y++ {
		r.xs.resampleRow(r.rows[(y-rowFirst)*rowLen:], src, y*sw*3, dw)
	}
	r.acc = growInt32(r.acc, rowLen)
	for y := range dh {
		first := int(r.ys.start[y]) - rowFirst
		n := int(r.ys.count[y])
		w := r.ys.w[y*r.ys.stride : y*r.ys.stride+n]
		out := dst[y*rowLen : (y+1)*rowLen]
		row := func(k int) []byte { return r.rows[(first+k)*rowLen : (first+k+1)*rowLen] }
		switch n {
		case 1:
			copy(out, row(0))
		case 2:
			wa := q8(w[0])
			blendBytes(out, row(0), row(1), wa, 256-wa)
		default:
			acc := r.acc
			clear(acc)
			for k, wk := range w {
				for i, v := range row(k) {
					acc[i] += wk * int32(v)
				}
			}
			for i, v := range acc {
				out[i] = roundQ14(v)
			}
		}
	}
}

// clampSpan returns the first and last source index of the span [off, off+length) within [0, size).
func clampSpan(off, length float64, size int) (int, int) {
	lo := max(int(math.Floor(off)), 0)
	hi := min(int(math.Ceil(off+length))-1, size-1)
	return lo, max(hi, lo)
}

// resampleRow resamples the source row starting at src[rowOff] horizontally into the n output
// pixels of dst, which has at least 8 bytes of room past them.
func (a *axisWeights) resampleRow(dst, src []byte, rowOff, n int) {
	if a.twoTap {
		// Overlapping loads put the two pixels' channels in the same lanes; only the first
		// three bytes of each store matter, the next output overwrites the rest.
		i := 0
		for ; i < n; i++ {
			s := rowOff + int(a.offset3[i])
			if s+11 > len(src) {
				break // the last pixels of the image: no 8-byte loads past its end
			}
			wa := a.w8[i]
			v := blend2(binary.LittleEndian.Uint64(src[s:]), binary.LittleEndian.Uint64(src[s+3:]), wa, 256-wa)
			binary.LittleEndian.PutUint64(dst[3*i:], v)
		}
		a.resampleRowScalar(dst, src, rowOff, i, n)
		return
	}
	a.resampleRowScalar(dst, src, rowOff, 0, n)
}

// resampleRowScalar resamples outputs from..to-1 one channel at a time, in Q14.
func (a *axisWeights) resampleRowScalar(dst, src []byte, rowOff, from, to int) {
	for i := from; i < to; i++ {
		s := rowOff + int(a.start[i])*3
		w := a.w[i*a.stride : i*a.stride+int(a.count[i])]
		d := dst[3*i : 3*i+3]
		switch {
		case len(w) == 1:
			d[0], d[1], d[2] = src[s], src[s+1], src[s+2]
		default:
			px := src[s : s+3*len(w)]
			var r, g, b int32
			for k, wk := range w {
				p := px[3*k : 3*k+3]
				r += wk * int32(p[0])
				g += wk * int32(p[1])
				b += wk * int32(p[2])
			}
			d[0], d[1], d[2] = roundQ14(r), roundQ14(g), roundQ14(b)
		}
	}
}

// roundQ14 turns a sum of Q14-weighted bytes into a byte.
func roundQ14(v int32) uint8 {
	v = (v + 1<<(weightBits-1)) >> weightBits
	if v > 255 {
		return 255
	}
	return uint8(max(v, 0))
}
