package augment

import "math"

// Fixed-point precision of the separable resampler: weights are Q14 and the intermediate rows
// keep 8 bits below the integer level, so rounding stays well under one level of output.
const (
	weightBits = 14
	interBits  = 8
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

func growUint16(s []uint16, n int) []uint16 {
	if cap(s) < n {
		return make([]uint16, n)
	}
	return s[:n]
}

// resampler resizes packed RGB images with separable fixed-point weights; it keeps its buffers
// between calls, so resizing allocates nothing once they have grown.
type resampler struct {
	xs, ys axisWeights
	rows   []uint16 // horizontally resampled source rows, value << interBits
	acc    []int32  // vertical accumulator for outputs with more than two taps
}

// resize resamples the region b of src (sw×sh packed RGB) to dst (dw×dh packed RGB), flipped
// horizontally when flip. It is crop, resize and flip in one go: the horizontal pass reads only
// the source rows the vertical pass needs, and flipping is a reversed weight table.
func (r *resampler) resize(dst []byte, dw, dh int, src []byte, sw, sh int, b box, flip bool) {
	x0, x1 := clampSpan(b.x, b.w, sw)
	y0, y1 := clampSpan(b.y, b.h, sh)
	r.xs.build(dw, b.x, b.w, x0, x1, flip)
	r.ys.build(dh, b.y, b.h, y0, y1, false)
	rowFirst, rowLast := int(r.ys.start[0]), int(r.ys.start[dh-1]+r.ys.count[dh-1]-1)
	for _, s := range r.ys.start {
		rowFirst = min(rowFirst, int(s))
	}
	for i, s := range r.ys.start {
		rowLast = max(rowLast, int(s+r.ys.count[i]-1))
	}
	rowLen := dw * 3
	r.rows = growUint16(r.rows, (rowLast-rowFirst+1)*rowLen)
	for y := rowFirst; y <= rowLast; y++ {
		r.xs.resampleRow(r.rows[(y-rowFirst)*rowLen:(y-rowFirst+1)*rowLen], src[y*sw*3:(y+1)*sw*3])
	}
	r.acc = growInt32(r.acc, rowLen)
	for y := range dh {
		first := int(r.ys.start[y]) - rowFirst
		n := int(r.ys.count[y])
		w := r.ys.w[y*r.ys.stride : y*r.ys.stride+n]
		out := dst[y*rowLen : (y+1)*rowLen]
		switch n {
		case 1:
			storeRow(out, r.rows[first*rowLen:(first+1)*rowLen])
		case 2:
			blendRows(out, r.rows[first*rowLen:(first+1)*rowLen], r.rows[(first+1)*rowLen:(first+2)*rowLen], w[0], w[1])
		default:
			acc := r.acc
			clear(acc)
			for k, wk := range w {
				row := r.rows[(first+k)*rowLen : (first+k+1)*rowLen]
				for i, v := range row {
					acc[i] += wk * int32(v)
				}
			}
			for i, v := range acc {
				out[i] = roundOut(v)
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

// resampleRow resamples one packed RGB row horizontally into dst (value << interBits).
func (a *axisWeights) resampleRow(dst []uint16, src []byte) {
	const shift = weightBits - interBits
	const half = 1 << (shift - 1)
	for i := range len(dst) / 3 {
		s := int(a.start[i]) * 3
		n := int(a.count[i])
		w := a.w[i*a.stride : i*a.stride+n]
		px := src[s : s+3*n]
		var r, g, b int32
		for k, wk := range w {
			p := px[3*k : 3*k+3]
			r += wk * int32(p[0])
			g += wk * int32(p[1])
			b += wk * int32(p[2])
		}
		d := dst[3*i : 3*i+3]
		d[0], d[1], d[2] = uint16((r+half)>>shift), uint16((g+half)>>shift), uint16((b+half)>>shift)
	}
}

// roundOut turns a vertical accumulator (Q14 weights × value << interBits) into a byte.
func roundOut(v int32) uint8 {
	const shift = weightBits + interBits
	v = (v + 1<<(shift-1)) >> shift
	if v > 255 {
		return 255
	}
	return uint8(max(v, 0))
}

// storeRow rounds an intermediate row to bytes (a one-tap vertical pass).
func storeRow(out []byte, row []uint16) {
	row = row[:len(out)]
	for i, v := range row {
		out[i] = uint8((uint32(v) + 1<<(interBits-1)) >> interBits)
	}
}

// blendRows is the two-tap vertical pass, the common case when enlarging a crop.
func blendRows(out []byte, a, b []uint16, wa, wb int32) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] = roundOut(wa*int32(a[i]) + wb*int32(b[i]))
	}
}
