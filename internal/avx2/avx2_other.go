//go:build !amd64 || purego

package avx2

// Available reports false: this build has no AVX2 kernels.
func Available() bool { return false }

// FMAAvailable reports false: this build has no AVX2 kernels.
func FMAAvailable() bool { return false }

// WeightedRows does nothing here (see the amd64 version) and returns 0.
func WeightedRows(out, src []byte, offs []int, w []uint64) int { return 0 }

// VerticalRows does nothing here (see the amd64 version) and returns false.
func VerticalRows(out []byte, outStride int, src []byte, srcStride int, offs []int, counts []int32, w []uint64, wStride, n int) bool {
	return false
}

// TwoTapSteps does nothing here (see the amd64 version) and returns 0.
func TwoTapSteps(out []byte, outStride int, src []byte, srcStride, rows int, base []int32, table []byte, steps int) int {
	return 0
}

// TapSteps does nothing here (see the amd64 version) and returns 0.
func TapSteps(out []byte, outStride int, src []byte, srcStride, rows int, base []int32, table []byte, steps, pairs int) int {
	return 0
}

// Saturate does nothing here (see the amd64 version) and returns 0.
func Saturate(img []byte, lut *[256]uint32, sat2, keep, round int32, top uint32) int { return 0 }

// Grayscale does nothing here (see the amd64 version) and returns 0.
func Grayscale(img []byte, lumaR, lumaG, lumaB int32) int { return 0 }

// Dots2x4 is never called here (FMAAvailable is false).
func Dots2x4(q0, q1, c []float32, out *[8]float32) {
	panic("avx2: Dots2x4 without AVX2 and FMA")
}
