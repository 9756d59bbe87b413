// Package imagetest holds what image tests of several packages measure: how far two images'
// pixels are apart.
package imagetest

import "math"

// Compare returns the largest absolute difference between two equally long pixel buffers and
// their PSNR in dB (+Inf when equal).
func Compare(a, b []byte) (maxDiff int, psnr float64) {
	var sq float64
	for i := range a {
		d := int(a[i]) - int(b[i])
		maxDiff = max(maxDiff, d, -d)
		sq += float64(d * d)
	}
	if sq == 0 {
		return maxDiff, math.Inf(1)
	}
	return maxDiff, 10 * math.Log10(255*255/(sq/float64(len(a))))
}
