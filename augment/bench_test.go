package augment

import (
	"fmt"
	"testing"
)

// benchJPEGs returns n synthetic 112×112 face JPEGs at quality 94 (about 6 KB, like the
// 5.9 KB aligned face crops of common training sets).
func benchJPEGs(b *testing.B, n int) [][]byte {
	b.Helper()
	out := make([][]byte, n)
	for i := range out {
		out[i] = encodeJPEG(b, face(uint64(i), 112, 112), 94)
	}
	return out
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkOp times each op alone on a 112×112 image, every op applied (p = 1).
func BenchmarkOp(b *testing.B) {
	src := toRGB(face(1, 112, 112), nil)
	src125 := toRGB(face(1, 125, 125), nil)
	img := make([]byte, len(src))
	full := box{0, 0, 112, 112}
	crop := box{5, 4, 104, 106} // scale ~0.88: the face profile's crops enlarge slightly
	var r resampler
	var cp colorPass
	var bp blurPass
	w := NewWorker(mustBuiltin(b, "none"), 112, 112)
	cases := []struct {
		name string
		run  func()
	}{
		{"resize", func() { r.resize(img, 112, 112, src, 112, 112, full, false) }},
		{"crop+resize+flip", func() { r.resize(img, 112, 112, src, 112, 112, crop, true) }},
		// The colour ops start from the face each time: their branches depend on the pixels, and
		// repeated jitter would drift to an image that predicts far better than a real one.
		{"jitter", func() { copy(img, src); cp.apply(img, colorParams{brightness: 10, contrast: -12, saturation: 15}) }},
		{"jitter+hue", func() {
			copy(img, src)
			cp.apply(img, colorParams{brightness: 10, contrast: -12, saturation: 15, hue: 20})
		}},
		{"grayscale", func() { copy(img, src); grayscale(img, cp.simd()) }},
		{"blur-sigma0.5", func() { bp.apply(img, 112, 112, 0.5) }},
		{"blur-sigma1.5", func() { bp.apply(img, 112, 112, 1.5) }},
		{"lowres-0.5", func() { w.lowres(img, 0.5) }},
		// A 250×250 photo decoded at 1/2, cropped and shrunk by the multi-tap kernel.
		{"shrink-125", func() { r.resize(img, 112, 112, src125, 125, 125, box{3, 2, 120, 121}, true) }},
		{"erase", func() { erase(img, 112, 20, 30, 40, 50, 0) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			copy(img, src)
			for b.Loop() {
				c.run()
			}
			reportRate(b)
		})
	}
}

// BenchmarkDecode times decoding alone, 112×112 JPEG to RGB: compare with
// `tjbench FILE -rgb` on the same files (bench/peer/augment_compare.sh does both).
func BenchmarkDecode(b *testing.B) {
	jpegs := benchJPEGs(b, 64)
	if tj := newJPEGDecoder(); tj != nil {
		defer tj.close()
		b.Run("turbojpeg", func(b *testing.B) {
			buf := make([]byte, 112*112*3)
			i := 0
			for b.Loop() {
				if _, _, _, err := tj.decode(jpegs[i%len(jpegs)], 112, 112, 1, buf); err != nil {
					b.Fatal(err)
				}
				i++
			}
			reportRate(b)
		})
	}
	b.Run("image-jpeg", func(b *testing.B) {
		var buf []byte
		i := 0
		for b.Loop() {
			img, err := DecodeImage(jpegs[i%len(jpegs)])
			if err != nil {
				b.Fatal(err)
			}
			buf = toRGB(img, buf)
			i++
		}
		reportRate(b)
	})
}

// BenchmarkProcess times Worker.Process (decode and augment) to 112×112 per profile, on one
// core: from 112×112 JPEGs, and from 250×250 and 500×500 photos at quality 85, which TurboJPEG
// decodes at 1/2 and 1/4 and the resampler shrinks from there.
func BenchmarkProcess(b *testing.B) {
	type jpegSet struct {
		name  string // the sub-benchmarks' prefix
		jpegs [][]byte
	}
	sets := []jpegSet{{"", benchJPEGs(b, 64)}}
	for _, size := range []int{250, 500} {
		jpegs := make([][]byte, 32)
		for i := range jpegs {
			jpegs[i] = encodeJPEG(b, face(uint64(i), size, size), 85)
		}
		sets = append(sets, jpegSet{fmt.Sprintf("%dx%d/", size, size), jpegs})
	}
	for _, set := range sets {
		for _, name := range ProfileNames() {
			b.Run(set.name+name, func(b *testing.B) {
				w := NewWorker(mustBuiltin(b, name), 112, 112)
				dst := make([]byte, 112*112*3)
				pos := int64(0)
				for b.Loop() {
					if err := w.Process(set.jpegs[pos%int64(len(set.jpegs))], 1, 0, pos, dst); err != nil {
						b.Fatal(err)
					}
					pos++
				}
				reportRate(b)
			})
		}
	}
}
