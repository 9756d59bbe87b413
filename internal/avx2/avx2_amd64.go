//go:build amd64 && !purego

package avx2

import "golang.org/x/sys/cpu"

// Available reports whether the CPU runs these kernels.
func Available() bool { return cpu.X86.HasAVX2 }

// FMAAvailable reports whether the CPU runs Dots2x4 (AVX2 and FMA).
func FMAAvailable() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

//go:noescape
func weightedRows(out *byte, n int, src *byte, offs *int, w *uint64, taps int)

//go:noescape
func verticalRows(out *byte, outStride int, src *byte, srcStride int, rows int, offs *int, counts *int32, w *uint64, wStride int, n int)

//go:noescape
func twoTapSteps(out *byte, outStride int, src *byte, srcStride int, rows int, base *int32, table *byte, steps int)

//go:noescape
func tapSteps(out *byte, outStride int, src *byte, srcStride int, rows int, base *int32, table *byte, steps int, pairs int)

//go:noescape
func saturate(img *byte, blocks int, lut *uint32, sat2, keep, round int32, top uint32) int

//go:noescape
func grayscale(img *byte, blocks int, lumaR, lumaG, lumaB int32)

//go:noescape
func dots2x4(q0, q1, c *float32, d int, out *[8]float32)

// WeightedRows sets out[i] = (128 + sum over k of w[k]*src[offs[k]+i]) >> 8 for i below
// len(out) rounded down to a multiple of 32, and returns that length. The weights must be
// 8-bit and sum to at most 256, so that every 16-bit lane holds its sum exactly.
func WeightedRows(out, src []byte, offs []int, w []uint64) int {
	n := len(out) &^ 31
	if n == 0 || len(w) == 0 {
		return 0
	}
	if len(offs) != len(w) {
		panic("avx2: WeightedRows needs one weight per row")
	}
	for _, off := range offs {
		if off < 0 || off+n > len(src) {
			panic("avx2: WeightedRows reads outside its source")
		}
	}
	weightedRows(&out[0], n, &src[0], &offs[0], &w[0], len(w))
	return n
}

// VerticalRows is WeightedRows for a whole vertical pass of rows output rows, whose taps are
// consecutive source rows: output row y, n bytes at out[y*outStride:], weights counts[y]
// rows of src from src[offs[y]:], one every srcStride bytes, by w[y*wStride:]. It needs
// n >= 32 and returns false, doing nothing, for shorter rows. The weights' constraints are
// WeightedRows's; out must not overlap src.
func VerticalRows(out []byte, outStride int, src []byte, srcStride int, offs []int, counts []int32, w []uint64, wStride, n int) bool {
	rows := len(offs)
	if n < 32 || rows == 0 {
		return false
	}
	if len(counts) < rows || len(w) < rows*wStride || len(out) < (rows-1)*outStride+n {
		panic("avx2: VerticalRows tables or output shorter than its rows")
	}
	for y, off := range offs {
		c := int(counts[y])
		if c < 1 || c > wStride || off < 0 || off+(c-1)*srcStride+n > len(src) {
			panic("avx2: VerticalRows reads outside its source or weights")
		}
	}
	verticalRows(&out[0], outStride, &src[0], srcStride, rows, &offs[0], &counts[0], &w[0], wStride, n)
	return true
}

// TwoTapSteps runs steps steps of a two-tap table on rows rows, row y read from
// src[y*srcStride:] and written to out[y*outStride:], and returns the bytes written per row,
// 16 a step. Step s reads the 16-byte windows of a row at base[2s] and base[2s+1] into the two
// 128-bit lanes; its 128 table bytes are the left-tap byte shuffle (one 16-byte VPSHUFB control
// per lane, each picking eight bytes zero-extended to 16 bits), the right-tap shuffle, then the
// left and right weights (8 uint16 per lane). Output byte b of a lane is
// (left*wl + right*wr + 128) >> 8.
func TwoTapSteps(out []byte, outStride int, src []byte, srcStride, rows int, base []int32, table []byte, steps int) int {
	if steps <= 0 || rows <= 0 {
		return 0
	}
	if len(out) < (rows-1)*outStride+16*steps || len(base) < 2*steps || len(table) < 128*steps {
		panic("avx2: TwoTapSteps tables or output shorter than its steps")
	}
	for _, b := range base[:2*steps] {
		if b < 0 || (rows-1)*srcStride+int(b)+16 > len(src) {
			panic("avx2: TwoTapSteps window outside its source")
		}
	}
	twoTapSteps(&out[0], outStride, &src[0], srcStride, rows, &base[0], &table[0], steps)
	return 16 * steps
}

// TapSteps runs steps steps of a table of pairs pairs of taps on rows rows, row y read from
// src[y*srcStride:] and written to out[y*outStride:], and returns the bytes written per row,
// 16 a step. Step s handles two groups of eight output bytes, one per 128-bit lane; pair m of
// group g reads the 16-byte window of a row at base[g]+6m. A step's table is 64+64*pairs bytes:
// the even taps' byte shuffle and the odd taps' (one 16-byte VPSHUFB control per lane, each
// picking eight bytes of the window zero-extended to 16 bits), then the weights of tap 0, 1, 2, ...
// (8 uint16 per lane). Output byte b of a lane is (128 + sum over taps of byte*weight) >> 8;
// the weights of a byte must sum to at most 256.
func TapSteps(out []byte, outStride int, src []byte, srcStride, rows int, base []int32, table []byte, steps, pairs int) int {
	if steps <= 0 || rows <= 0 {
		return 0
	}
	if pairs <= 0 || len(out) < (rows-1)*outStride+16*steps || len(base) < 2*steps || len(table) < (64+64*pairs)*steps {
		panic("avx2: TapSteps tables or output shorter than its steps")
	}
	for _, b := range base[:2*steps] {
		if b < 0 || (rows-1)*srcStride+int(b)+6*(pairs-1)+16 > len(src) {
			panic("avx2: TapSteps window outside its source")
		}
	}
	tapSteps(&out[0], outStride, &src[0], srcStride, rows, &base[0], &table[0], steps, pairs)
	return 16 * steps
}

// Saturate runs the colour pass's unclipped saturation over packed RGB pixels in place, eight
// at a time. For each pixel, with u the lut values of its channels and l2 = max(u) + min(u),
// each channel becomes y >> 21 with y = sat2*u + keep*l2 + round, computed in 32 bits (the
// caller keeps the true values inside the int32 range). It stops before the first block of
// eight in which some y - round, unsigned, exceeds top (a saturation that clips, for the
// caller to do apart) or before the last len(img)/3 % 8 pixels, and returns the pixels done.
func Saturate(img []byte, lut *[256]uint32, sat2, keep, round int32, top uint32) int {
	blocks := len(img) / 24
	if blocks == 0 {
		return 0
	}
	return 8 * saturate(&img[0], blocks, &lut[0], sat2, keep, round, top)
}

// Grayscale replaces packed RGB pixels by their luma, eight at a time: each becomes y, y, y
// with y = (lumaR*r + lumaG*g + lumaB*b + 1<<15) >> 16 (weights summing to at most 1<<16).
// It leaves the last len(img)/3 % 8 pixels to the caller and returns the pixels done.
func Grayscale(img []byte, lumaR, lumaG, lumaB int32) int {
	blocks := len(img) / 24
	if blocks == 0 {
		return 0
	}
	grayscale(&img[0], blocks, lumaR, lumaG, lumaB)
	return 8 * blocks
}

// Dots2x4 sets out[k] to q0's dot product with centre row k and out[4+k] to q1's, for the four
// rows of c (row k is c[k*d:(k+1)*d], d = len(q0)), in float32 with fused multiply-adds in eight
// lanes summed at the end. d must be a positive multiple of 8.
func Dots2x4(q0, q1, c []float32, out *[8]float32) {
	d := len(q0)
	if d == 0 || d%8 != 0 || len(q1) != d || len(c) < 4*d {
		panic("avx2: Dots2x4 wants two rows of a positive multiple of 8 floats and four centre rows")
	}
	dots2x4(&q0[0], &q1[0], &c[0], d, out)
}
