package augment

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAxisWeightsTriangle holds build's fixed-point weights to the triangle kernel computed in
// floating point: for random crops, enlarging and shrinking, clamped and flipped, every output's
// weights sum to 256, lie in [lo, hi] and are within one 1/256 of the kernel's renormalized
// weights (a tap left out weighs under one), but for the largest, which takes the rounding
// residue: up to half a 1/256 from each of the others.
func TestAxisWeightsTriangle(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var a axisWeights
	for trial := range 2000 {
		n := 1 + r.IntN(140)
		length := float64(n) * (0.3 + 3*r.Float64()) // enlarging by up to 3.3, shrinking by up to 3.3
		off := -3 + 20*r.Float64()
		size := int(math.Ceil(off+length)) + r.IntN(4)
		lo, hi := clampSpan(off, length, max(size, 1))
		flip := trial%2 == 1
		a.build(n, off, length, lo, hi, flip)
		delta := length / float64(n)
		scale := max(delta, 1)
		for i := range n {
			out := i
			if flip {
				out = n - 1 - i
			}
			center := off + (float64(i)+0.5)*delta - 0.5
			want := map[int]float64{}
			sum := 0.0
			for j := lo; j <= hi; j++ {
				if wt := 1 - math.Abs(float64(j)-center)/scale; wt > 0 {
					want[j] = wt
					sum += wt
				}
			}
			if sum == 0 { // nothing in reach: the nearest sample
				want[min(max(int(math.Round(center)), lo), hi)], sum = 1, 1
			}
			first, count := int(a.start[out]), int(a.count[out])
			got := map[int]float64{}
			total := uint64(0)
			for k, w := range a.w[out*a.stride : out*a.stride+count] {
				got[first+k] = float64(w)
				total += w
			}
			if total != 256 || first < lo || first+count-1 > hi {
				t.Fatalf("n %d off %.3f length %.3f [%d, %d] output %d: taps %d+%d, sum %d", n, off, length, lo, hi, out, first, count, total)
			}
			residue := max(1, float64(count)/2)
			for j := lo; j <= hi; j++ {
				if d := math.Abs(got[j] - want[j]/sum*256); d > residue {
					t.Fatalf("n %d off %.3f length %.3f output %d sample %d: weight %v, kernel %.3f", n, off, length, out, j, got[j], want[j]/sum*256)
				}
			}
		}
	}
}

// TestResizeWholePixelCropIsCopy: a crop of the output's size on whole pixels comes out as the
// source's pixels, copied, on both kernel sets.
func TestResizeWholePixelCropIsCopy(t *testing.T) {
	src := toRGB(face(9, 130, 120), nil)
	for _, scalar := range []bool{false, true} {
		r := resampler{scalar: scalar}
		for _, c := range []struct{ x, y, w, h int }{{0, 0, 130, 120}, {7, 5, 112, 112}, {18, 8, 112, 112}} {
			got := make([]byte, c.w*c.h*3)
			r.resize(got, c.w, c.h, src, 130, 120, box{float64(c.x), float64(c.y), float64(c.w), float64(c.h)}, false)
			for y := range c.h {
				want := src[((c.y+y)*130+c.x)*3 : ((c.y+y)*130+c.x+c.w)*3]
				if !bytes.Equal(got[y*c.w*3:(y+1)*c.w*3], want) {
					t.Fatalf("crop %+v, scalar %v: row %d is not the source's", c, scalar, y)
				}
			}
		}
	}
}
