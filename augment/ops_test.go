package augment

import (
	"bytes"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/gift"

	"github.com/facestream/facestream/internal/avx2"
)

// Tolerances against gift, the reference formulation of every op:
//   - resampling (crop+resize+flip, low resolution): max abs diff <= 2 levels and PSNR >= 40 dB;
//   - colour jitter, grayscale: max abs diff <= 2 levels;
//   - gaussian blur: PSNR >= 50 dB and max abs diff <= 3 levels (SWAR kernels with 8-bit weights
//     and an 8-bit intermediate image, see swar.go);
//   - erasing: exact.
// The fast paths use fixed point where gift uses float32, hence the level or two.

func TestResizeMatchesGift(t *testing.T) {
	src := face(1, 150, 130)
	pix := toRGB(src, nil)
	cases := []struct {
		name   string
		crop   image.Rectangle
		dw, dh int
		flip   bool
	}{
		{"identity", image.Rect(0, 0, 150, 130), 150, 130, false},
		{"enlarge crop", image.Rect(10, 5, 110, 105), 112, 112, false},
		{"enlarge crop flipped", image.Rect(20, 3, 125, 110), 112, 112, true},
		{"enlarge bottom right corner flipped", image.Rect(60, 40, 150, 130), 112, 112, true},
		{"shrink whole", image.Rect(0, 0, 150, 130), 112, 112, false},
		{"shrink a lot flipped", image.Rect(7, 9, 143, 121), 30, 20, true},
		{"non-square output", image.Rect(0, 0, 140, 120), 96, 112, false},
		{"one pixel crop", image.Rect(40, 40, 41, 41), 8, 8, false},
		{"to one pixel", image.Rect(0, 0, 150, 130), 1, 1, false},
	}
	var r resampler
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := make([]byte, c.dw*c.dh*3)
			b := box{float64(c.crop.Min.X), float64(c.crop.Min.Y), float64(c.crop.Dx()), float64(c.crop.Dy())}
			r.resize(got, c.dw, c.dh, pix, 150, 130, b, c.flip)
			g := gift.New(gift.Crop(c.crop), gift.Resize(c.dw, c.dh, gift.LinearResampling))
			if c.flip {
				g.Add(gift.FlipHorizontal())
			}
			want, _, _ := runGift(g, src)
			checkClose(t, c.name, got, want, 2, 40)
		})
	}
}

func TestColorJitterMatchesGift(t *testing.T) {
	src := face(2, 112, 112)
	pix := toRGB(src, nil)
	cases := []colorParams{
		{brightness: 20},
		{brightness: -20},
		{contrast: 20},
		{contrast: -20},
		{saturation: 20},
		{saturation: -20},
		{saturation: 400}, // clips saturation at 1
		{hue: 30},
		{hue: -100},
		{brightness: 13, contrast: -17, saturation: 8, hue: 12},
		{brightness: -50, contrast: 50, saturation: -50},
		{brightness: 10, contrast: 10, saturation: 10, gray: true},
	}
	var cp colorPass
	for _, c := range cases {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			got := append([]byte(nil), pix...)
			cp.apply(got, c)
			want, _, _ := runGift(giftColor(c), src)
			checkClose(t, "jitter", got, want, 2, 0)
		})
	}
}

// TestSaturatePixelsMatchesSaturate pins the fast paths of the colour pass (no hue, no
// grayscale), the AVX2 kernel and the scalar loop, to saturate, byte for byte, on random pixels
// that clip often at the larger factors.
func TestSaturatePixelsMatchesSaturate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, scalar := range []bool{false, true} {
		cp := colorPass{scalar: scalar}
		for _, p := range []colorParams{
			{brightness: 10, contrast: -12, saturation: 15},
			{brightness: -30, contrast: 40, saturation: -20},
			{contrast: 100, saturation: 80},
			{brightness: 20, saturation: 100}, // the AVX2 kernel's largest factor
			{brightness: 20, saturation: 101},
			{brightness: 60, saturation: 500},
			{brightness: 5},
			{saturation: -100},
		} {
			img := make([]byte, 3*4093) // not a whole number of 8-pixel blocks
			for i := range img {
				img[i] = byte(rng.IntN(256))
			}
			for i := 0; i < 300; i += 3 { // greys
				img[i+1], img[i+2] = img[i], img[i]
			}
			want := append([]byte(nil), img...)
			cp.apply(img, p)
			sat := int(math.Round((1 + min(max(p.saturation, -100), 500)/100) * 4096))
			lut := &cp.lut
			for i := 0; i < len(want); i += 3 {
				r, g, b := saturate(int(lut[want[i]]), int(lut[want[i+1]]), int(lut[want[i+2]]), sat)
				want[i], want[i+1], want[i+2] = unitToByte(r), unitToByte(g), unitToByte(b)
			}
			if !bytes.Equal(img, want) {
				t.Errorf("%+v, scalar %v: the fast path differs from saturate", p, scalar)
			}
		}
	}
}

// giftColor is the gift formulation of the colour pass.
func giftColor(c colorParams) *gift.GIFT {
	b := float32(c.brightness)
	g := gift.New(gift.ColorBalance(b, b, b), gift.Contrast(float32(c.contrast)),
		gift.Saturation(float32(c.saturation)), gift.Hue(float32(c.hue)))
	if c.gray {
		g.Add(gift.Grayscale())
	}
	return g
}

func TestGrayscaleMatchesGift(t *testing.T) {
	src := face(3, 111, 97) // not a whole number of the AVX2 kernel's 8-pixel blocks
	want, _, _ := runGift(gift.New(gift.Grayscale()), src)
	got := toRGB(src, nil)
	grayscale(got, false)
	checkClose(t, "grayscale", got, want, 1, 0)
	if avx2.Available() {
		fast := toRGB(src, nil)
		grayscale(fast, true)
		if !bytes.Equal(fast, got) {
			t.Error("grayscale: AVX2 and scalar differ")
		}
	}
}

func TestBlurMatchesGift(t *testing.T) {
	var bp blurPass
	for i, size := range []image.Point{{112, 112}, {112, 112}, {96, 112}, {37, 5}, {3, 60}} {
		src := face(uint64(4+i), size.X, size.Y)
		for _, sigma := range []float64{0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4, 1.5, 3} {
			got := toRGB(src, nil)
			bp.apply(got, size.X, size.Y, sigma)
			want, _, _ := runGift(gift.New(gift.GaussianBlur(float32(sigma))), src)
			checkClose(t, fmt.Sprintf("blur %v sigma %g", size, sigma), got, want, 3, 50)
		}
	}
}

func TestLowresMatchesGift(t *testing.T) {
	src := face(5, 112, 112)
	w := NewWorker(mustBuiltin(t, "none"), 112, 112)
	for _, f := range []float64{0.25, 0.4, 0.77, 0.999} {
		got := toRGB(src, nil)
		w.lowres(got, f)
		dw, dh := LowresSize(112, 112, f)
		want, _, _ := runGift(gift.New(gift.Resize(dw, dh, gift.LinearResampling), gift.Resize(112, 112, gift.LinearResampling)), src)
		checkClose(t, fmt.Sprintf("lowres %g", f), got, want, 2, 40)
	}
}

func TestEraseMatchesGift(t *testing.T) {
	src := face(6, 112, 112)
	got := toRGB(src, nil)
	rect := image.Rect(30, 40, 30+25, 40+50)
	erase(got, 112, rect.Min.X, rect.Min.Y, rect.Dx(), rect.Dy(), 0)
	want := giftErase(src, rect, 0)
	checkClose(t, "erase", got, want, 0, 0)
}

// giftErase is the gift formulation of random erasing: the rectangle, taken to black by
// Brightness(-100) and up to value by Brightness, drawn back in place.
func giftErase(src image.Image, rect image.Rectangle, value uint8) []byte {
	dst := image.NewRGBA(src.Bounds())
	gift.New().Draw(dst, src)
	fill := gift.New(gift.Crop(rect), gift.Brightness(-100), gift.Brightness(float32(value)/255*100))
	fill.DrawAt(dst, src, rect.Min, gift.CopyOperator)
	return toRGB(dst, nil)
}

func mustBuiltin(t testing.TB, name string) *Profile {
	t.Helper()
	p, err := BuiltinProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoundNonNegativeMatchesMathRound(t *testing.T) {
	cases := []float64{0, 0.25, 0.49999999999999994, 0.5, 1.5, 2.5, 127.49999999999999, 127.5, 255.5, 256}
	for i := range 100000 {
		cases = append(cases, float64(i)/390.625) // steps of 1/390.625 hit many exact halves
	}
	for _, x := range cases {
		if got, want := roundNonNegative(x), int(math.Round(x)); got != want {
			t.Fatalf("roundNonNegative(%v) = %d, math.Round gives %d", x, got, want)
		}
	}
}
