package imagetest

import (
	"math"
	"testing"
)

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b []byte
		max  int
		psnr float64
	}{
		{[]byte{1, 2, 3}, []byte{1, 2, 3}, 0, math.Inf(1)},
		{[]byte{0, 0}, []byte{255, 255}, 255, 0},
		{[]byte{10, 20}, []byte{12, 20}, 2, 10 * math.Log10(255*255/2.0)},
		{[]byte{12, 20}, []byte{10, 20}, 2, 10 * math.Log10(255*255/2.0)},
	} {
		d, p := Compare(tc.a, tc.b)
		if d != tc.max || math.Abs(p-tc.psnr) > 1e-9 && !(math.IsInf(p, 1) && math.IsInf(tc.psnr, 1)) {
			t.Errorf("Compare(%v, %v) = %d, %v; want %d, %v", tc.a, tc.b, d, p, tc.max, tc.psnr)
		}
	}
}
