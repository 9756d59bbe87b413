package augment

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/gift"

	"github.com/facestream/facestream/augment/internal/facegen"
	"github.com/facestream/facestream/internal/imagetest"
)

// face returns a deterministic face-like test image.
func face(seed uint64, w, h int) *image.RGBA {
	return facegen.Face(rand.New(rand.NewPCG(seed, 42)), w, h)
}

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatalf("encode jpeg: %v", err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatalf("encode png: %v", err)
	}
	return buf.Bytes()
}

// rgbToImage wraps packed RGB as an opaque *image.RGBA (gift's input and output type here).
func rgbToImage(pix []byte, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		copy(img.Pix[4*i:4*i+3], pix[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	return img
}

// runGift applies g to src and returns the result as packed RGB.
func runGift(g *gift.GIFT, src image.Image) ([]byte, int, int) {
	dst := image.NewRGBA(g.Bounds(src.Bounds()))
	g.Draw(dst, src)
	b := dst.Bounds()
	return toRGB(dst, nil), b.Dx(), b.Dy()
}

// checkClose fails when got and want differ by more than maxDiff levels anywhere or have a
// PSNR under minPSNR.
func checkClose(t *testing.T, what string, got, want []byte, maxDiff int, minPSNR float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, reference has %d", what, len(got), len(want))
	}
	d, p := imagetest.Compare(got, want)
	t.Logf("%s: max diff %d, PSNR %.1f", what, d, p)
	if d > maxDiff || p < minPSNR {
		t.Errorf("%s: max diff %d (limit %d), PSNR %.1f dB (limit %.0f)", what, d, maxDiff, p, minPSNR)
	}
}
