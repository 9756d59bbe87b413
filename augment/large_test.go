package augment

import (
	"fmt"
	"image"
	"image/color"
	"testing"

	"github.com/disintegration/gift"

	"github.com/facestream/facestream/internal/imagetest"
)

// Photos larger than the output: TurboJPEG decodes them scaled down by a power of two, and the
// resampler shrinks the crop from there by less than two, through the multi-tap kernels.

// TestShrinkMatchesGift holds the resampling of large sources to gift's within the resampling
// tolerance (2 levels, 40 dB), on both kernel sets: the crops a scaled decode leaves (shrinking
// by 1 to 2), stronger shrinks, odd and non-square sizes, flipped or not.
func TestShrinkMatchesGift(t *testing.T) {
	cases := []struct {
		sw, sh int
		crop   image.Rectangle
		dw, dh int
	}{
		{125, 125, image.Rect(0, 0, 125, 125), 112, 112},   // a 250×250 photo at 1/2, whole
		{125, 125, image.Rect(4, 2, 123, 124), 112, 112},   // ... a face-profile crop of it
		{126, 94, image.Rect(3, 1, 124, 93), 112, 87},      // odd, non-square
		{94, 126, image.Rect(0, 5, 94, 126), 81, 111},      // portrait
		{250, 250, image.Rect(7, 9, 244, 247), 112, 112},   // shrink by 2.1
		{500, 333, image.Rect(0, 0, 500, 333), 112, 75},    // by 4.5
		{251, 187, image.Rect(10, 3, 250, 185), 112, 112},  // different factors across and down
		{640, 480, image.Rect(100, 20, 560, 470), 112, 96}, // by 4
	}
	for _, c := range cases {
		src := face(uint64(c.sw*c.sh), c.sw, c.sh)
		pix := toRGB(src, nil)
		for _, flip := range []bool{false, true} {
			g := gift.New(gift.Crop(c.crop), gift.Resize(c.dw, c.dh, gift.LinearResampling))
			if flip {
				g.Add(gift.FlipHorizontal())
			}
			want, _, _ := runGift(g, src)
			b := box{float64(c.crop.Min.X), float64(c.crop.Min.Y), float64(c.crop.Dx()), float64(c.crop.Dy())}
			for _, scalar := range []bool{false, true} {
				r := resampler{scalar: scalar}
				got := make([]byte, c.dw*c.dh*3)
				r.resize(got, c.dw, c.dh, pix, c.sw, c.sh, b, flip)
				checkClose(t, fmt.Sprintf("%dx%d crop %v to %dx%d flip %v scalar %v", c.sw, c.sh, c.crop, c.dw, c.dh, flip, scalar),
					got, want, 2, 40)
			}
		}
	}
}

// geometryProfile is the face profile's geometry alone: what a scaled decode changes.
const geometryProfile = `
name: geometry
ops:
  - {op: flip, p: 0.5}
  - {op: crop, scale: [0.9, 1.0], ratio: [0.95, 1.05]}
`

// TestLargeJPEGMatchesGift runs large JPEGs (several sizes, odd, non-square, grayscale) through
// the worker, decoded at a reduced scale, against gift cropping and resizing Go's full-size
// decode with the same plan: within TestScaledDecode's tolerance (PSNR >= 30 dB), since scaling
// in the DCT domain differs from a bilinear shrink.
func TestLargeJPEGMatchesGift(t *testing.T) {
	if JPEGDecoder != "turbojpeg" {
		t.Skip("no scaled decode in the pure-Go build")
	}
	p, err := ParseProfile([]byte(geometryProfile), "")
	if err != nil {
		t.Fatal(err)
	}
	gray := func(w, h int) image.Image {
		img := image.NewGray(image.Rect(0, 0, w, h))
		f := face(7, w, h)
		for y := range h {
			for x := range w {
				img.SetGray(x, y, color.GrayModel.Convert(f.At(x, y)).(color.Gray))
			}
		}
		return img
	}
	cases := []struct {
		name  string
		img   image.Image
		denom int // the scale TurboJPEG decodes at, for a face-profile crop to 112
	}{
		{"250x250", face(1, 250, 250), 2},
		{"500x500", face(2, 500, 500), 4},
		{"251x187 odd", face(3, 251, 187), 1}, // crops under 224 high: full size
		{"333x500 portrait", face(4, 333, 500), 2},
		{"1000x750", face(5, 1000, 750), 4},
		{"300x300 gray", gray(300, 300), 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := encodeJPEG(t, c.img, 90)
			full, err := DecodeImage(enc)
			if err != nil {
				t.Fatal(err)
			}
			b := c.img.Bounds()
			w := NewWorker(p, 112, 112)
			dst := make([]byte, 112*112*3)
			for pos := range int64(8) {
				if err := w.Process(enc, 3, 0, pos, dst); err != nil {
					t.Fatal(err)
				}
				scaled := w.plan.crop
				w.draw(&sampleKey{3, 0, pos}, b.Dx(), b.Dy()) // the plan in full-size pixels
				crop := w.plan.crop
				if denom := crop.w / scaled.w; denom != float64(c.denom) || w.DecodeScale() != c.denom {
					t.Errorf("pos %d: crop %gx%g decoded at 1/%g (DecodeScale 1/%d), want 1/%d", pos, crop.w, crop.h, denom, w.DecodeScale(), c.denom)
				}
				g := gift.New(gift.Crop(image.Rect(int(crop.x), int(crop.y), int(crop.x+crop.w), int(crop.y+crop.h))),
					gift.Resize(112, 112, gift.LinearResampling))
				if w.plan.flip {
					g.Add(gift.FlipHorizontal())
				}
				want, _, _ := runGift(g, full)
				d, psnr := imagetest.Compare(dst, want)
				t.Logf("pos %d: max diff %d, PSNR %.1f", pos, d, psnr)
				if psnr < 30 {
					t.Errorf("pos %d, crop %+v: max diff %d, PSNR %.1f dB (limit 30)", pos, crop, d, psnr)
				}
				if _, ok := c.img.(*image.Gray); ok {
					for i := 0; i < len(dst); i += 3 {
						if dst[i] != dst[i+1] || dst[i] != dst[i+2] {
							t.Fatalf("pos %d: pixel %d of a grayscale photo is not gray: %v", pos, i/3, dst[i:i+3])
						}
					}
				}
			}
		})
	}
}
