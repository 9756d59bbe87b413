package avx2

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDots2x4(t *testing.T) {
	if !FMAAvailable() {
		t.Skip("no AVX2 and FMA on this CPU or in this build")
	}
	r := rand.New(rand.NewPCG(8, 9))
	for _, d := range []int{8, 16, 128, 512, 520} {
		rows := make([][]float32, 6) // two queries, four centres
		for i := range rows {
			rows[i] = make([]float32, d)
			for j := range rows[i] {
				rows[i][j] = float32(r.NormFloat64())
			}
		}
		c := append(append(append(append([]float32(nil), rows[2]...), rows[3]...), rows[4]...), rows[5]...)
		var out [8]float32
		Dots2x4(rows[0], rows[1], c, &out)
		for q := range 2 {
			for k := range 4 {
				var want, scale float64
				for j := range d {
					p := float64(rows[q][j]) * float64(rows[2+k][j])
					want += p
					scale += math.Abs(p)
				}
				// float32 sums of d products: error bounded by about d * 2^-24 of the magnitudes.
				if got := float64(out[4*q+k]); math.Abs(got-want) > float64(d)*0x1p-24*scale {
					t.Errorf("d=%d query %d centre %d: %v, want %v", d, q, k, got, want)
				}
			}
		}
	}
}
