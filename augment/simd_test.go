package augment

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/facestream/facestream/internal/avx2"
)

// The AVX2 kernels must give the SWAR kernels' bytes exactly: served samples may not depend on
// the CPU. Each test runs both on the same inputs; without AVX2 they are skipped.

func requireAVX2(t testing.TB) {
	t.Helper()
	if !avx2.Available() {
		t.Skip("no AVX2 kernels in this build or on this CPU")
	}
}

// randomWeights returns n 8-bit weights summing to 256, as the resampling and blur passes make.
func randomWeights(r *rand.Rand, n int) []uint64 {
	fw := make([]int64, n)
	sum := int64(0)
	for i := range fw {
		fw[i] = r.Int64N(1<<32) + 1<<24
		sum += fw[i]
	}
	w := make([]uint64, n)
	quantizeWeights(w, fw, sum)
	return w
}

func TestWeightedRowsSIMDMatchesSWAR(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(3, 4))
	src := make([]byte, 8192)
	for i := range src {
		src[i] = byte(r.IntN(256))
	}
	for _, taps := range []int{1, 2, 3, 5, 9, 13} {
		for _, n := range []int{0, 1, 31, 32, 33, 64, 95, 336, 1000} {
			w := randomWeights(r, taps)
			if taps > 1 && n == 64 { // the extremes: all weight on one row, a 255 everywhere
				clear(w)
				w[taps-1] = 256
			}
			offs := make([]int, taps)
			for k := range offs {
				offs[k] = r.IntN(len(src) - n + 1)
			}
			got, want := make([]byte, n), make([]byte, n)
			weightedRows(got, src, offs, w, true)
			weightedRows(want, src, offs, w, false)
			if !bytes.Equal(got, want) {
				t.Errorf("%d taps, %d bytes: AVX2 and SWAR differ", taps, n)
			}
		}
	}
}

// TestResizeSIMDMatchesSWAR covers the horizontal kernels (two-tap and multi-tap) and the
// vertical one through whole resizes: enlarging and shrinking crops, flipped or not, odd widths.
func TestResizeSIMDMatchesSWAR(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 400 {
		sw, sh := 1+r.IntN(200), 1+r.IntN(200)
		if i%4 == 0 { // a source a few pixels wide: its rows need the scratch copy
			sw = 1 + r.IntN(3)
		}
		dw, dh := 1+r.IntN(160), 1+r.IntN(160)
		src := toRGB(face(uint64(i), sw, sh), nil)
		cw, ch := 1+r.Float64()*float64(sw-1), 1+r.Float64()*float64(sh-1)
		b := box{r.Float64() * (float64(sw) - cw), r.Float64() * (float64(sh) - ch), cw, ch}
		flip := r.IntN(2) == 0
		fast, slow := resampler{}, resampler{scalar: true}
		got, want := make([]byte, dw*dh*3), make([]byte, dw*dh*3)
		fast.resize(got, dw, dh, src, sw, sh, b, flip)
		slow.resize(want, dw, dh, src, sw, sh, b, flip)
		if !bytes.Equal(got, want) {
			t.Fatalf("%dx%d crop %+v to %dx%d, flip %v: AVX2 and SWAR differ", sw, sh, b, dw, dh, flip)
		}
	}
}

func TestBlurSIMDMatchesSWAR(t *testing.T) {
	requireAVX2(t)
	for _, size := range [][2]int{{112, 112}, {37, 53}, {5, 3}} {
		for _, sigma := range []float64{0.4, 0.5, 1, 1.5, 3} {
			src := toRGB(face(9, size[0], size[1]), nil)
			got, want := bytes.Clone(src), bytes.Clone(src)
			fast, slow := blurPass{}, blurPass{scalar: true}
			fast.apply(got, size[0], size[1], sigma)
			slow.apply(want, size[0], size[1], sigma)
			if !bytes.Equal(got, want) {
				t.Errorf("%dx%d sigma %v: AVX2 and SWAR differ", size[0], size[1], sigma)
			}
		}
	}
}

// TestProcessSIMDMatchesSWAR runs whole samples of every profile through both kernel sets.
func TestProcessSIMDMatchesSWAR(t *testing.T) {
	requireAVX2(t)
	every, err := ParseProfile([]byte(everyOpProfile), "")
	if err != nil {
		t.Fatal(err)
	}
	profiles := map[string]*Profile{"every": every, "face": mustBuiltin(t, "face")}
	inputs := map[string][]byte{
		"jpeg 112": encodeJPEG(t, face(1, 112, 112), 94),
		"jpeg 250": encodeJPEG(t, face(2, 250, 190), 90),
		"jpeg 500": encodeJPEG(t, face(4, 500, 500), 85), // decoded at 1/4, then shrunk by up to 1.12
		"jpeg 251": encodeJPEG(t, face(5, 251, 251), 85), // at 1/2: odd sizes, the multi-tap kernel's tail
		"png 128":  encodePNG(t, face(3, 128, 128)),
	}
	for pname, p := range profiles {
		for iname, enc := range inputs {
			fast, slow := NewWorker(p, 112, 112), NewWorker(p, 112, 112)
			slow.resize.scalar, slow.blur.scalar, slow.color.scalar = true, true, true
			got, want := make([]byte, 112*112*3), make([]byte, 112*112*3)
			for pos := range int64(24) {
				if err := fast.Process(enc, 7, 1, pos, got); err != nil {
					t.Fatal(err)
				}
				if err := slow.Process(enc, 7, 1, pos, want); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s", fmt.Sprintf("profile %s, %s, pos %d: AVX2 and SWAR differ", pname, iname, pos))
				}
			}
		}
	}
}

// TestMultiTapSIMDMatchesSWAR shrinks by factors from just over one (a photo decoded at a
// reduced scale) to ten, where outputs start pixels before their first tap in the kernel's
// windows, and checks that the multi-tap kernel served where two taps do not do.
func TestMultiTapSIMDMatchesSWAR(t *testing.T) {
	requireAVX2(t)
	for _, factor := range []float64{1.01, 1.07, 1.12, 1.5, 1.99, 2.5, 4, 10} {
		for _, dw := range []int{112, 37, 6} {
			sw := int(float64(dw)*factor) + 1
			src := toRGB(face(uint64(sw), sw, 9), nil)
			b := box{0.5, 0, float64(dw) * factor, 9}
			for _, flip := range []bool{false, true} {
				fast, slow := resampler{}, resampler{scalar: true}
				got, want := make([]byte, dw*5*3), make([]byte, dw*5*3)
				fast.resize(got, dw, 5, src, sw, 9, b, flip)
				slow.resize(want, dw, 5, src, sw, 9, b, flip)
				if !bytes.Equal(got, want) {
					t.Errorf("shrink by %g to %d, flip %v: AVX2 and SWAR differ", factor, dw, flip)
				}
				if !fast.xs.twoTap && fast.multi.steps == 0 { // (a slight shrink may need two taps only)
					t.Errorf("shrink by %g to %d: the multi-tap kernel did not serve", factor, dw)
				}
			}
		}
	}
}

// TestVerticalPassSIMDMatchesSWAR runs the vertical resampling pass on random crops (enlarging
// and shrinking, rows of 10 to 400 bytes, so that some are shorter than a 32-byte block and
// most end in a partial one) through the whole-pass AVX2 kernel and the row-by-row SWAR one.
func TestVerticalPassSIMDMatchesSWAR(t *testing.T) {
	requireAVX2(t)
	r := rand.New(rand.NewPCG(7, 8))
	src := make([]byte, 300*400)
	for i := range src {
		src[i] = byte(r.IntN(256))
	}
	fast, slow := resampler{}, resampler{scalar: true}
	for range 300 {
		rowLen, srcRows, outRows := 10+r.IntN(391), 20+r.IntN(280), 1+r.IntN(150)
		off := r.Float64() * float64(srcRows) / 4
		length := max(1, r.Float64()*(float64(srcRows)-off))
		lo, hi := clampSpan(off, length, srcRows)
		fast.ys.build(outRows, off, length, lo, hi, false)
		slow.ys.build(outRows, off, length, lo, hi, false)
		got, want := make([]byte, outRows*rowLen), make([]byte, outRows*rowLen)
		fast.verticalPass(got, rowLen, rowLen, src, rowLen, &fast.ys, 0)
		slow.verticalPass(want, rowLen, rowLen, src, rowLen, &slow.ys, 0)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d rows of %d bytes from rows [%.2f, +%.2f) of %d: AVX2 and SWAR differ", outRows, rowLen, off, length, srcRows)
		}
	}
}
