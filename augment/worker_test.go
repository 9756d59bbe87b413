package augment

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"os"
	"strings"
	"testing"

	"github.com/disintegration/gift"
	"golang.org/x/image/bmp"

	"github.com/facestream/facestream/internal/imagetest"
)

// giftPipeline applies the worker's current plan to src with gift, op by op, and returns the
// output as packed RGB: the reference for the whole fused pipeline.
func giftPipeline(t *testing.T, w *Worker, src image.Image) []byte {
	t.Helper()
	pl := w.plan
	c := pl.crop
	g := gift.New(gift.Crop(image.Rect(int(c.x), int(c.y), int(c.x+c.w), int(c.y+c.h))),
		gift.Resize(w.width, w.height, gift.LinearResampling))
	if pl.flip {
		g.Add(gift.FlipHorizontal())
	}
	out, _, _ := runGift(g, src)
	for _, o := range w.profile.ops {
		var step *gift.GIFT
		switch o.kind {
		case kindJitter:
			step = giftColor(pl.jitter)
		case kindGrayscale:
			if pl.gray {
				step = gift.New(gift.Grayscale())
			}
		case kindBlur:
			if pl.blur > 0 {
				step = gift.New(gift.GaussianBlur(float32(pl.blur)))
			}
		case kindLowres:
			if pl.lowres > 0 {
				dw, dh := LowresSize(w.width, w.height, pl.lowres)
				step = gift.New(gift.Resize(dw, dh, gift.LinearResampling), gift.Resize(w.width, w.height, gift.LinearResampling))
			}
		case kindErase:
			if pl.erase {
				r := pl.eraseR
				out = giftErase(rgbToImage(out, w.width, w.height), image.Rect(r[0], r[1], r[0]+r[2], r[1]+r[3]), pl.eraseV)
			}
		}
		if step != nil {
			out, _, _ = runGift(step, rgbToImage(out, w.width, w.height))
		}
	}
	return out
}

// everyOpProfile turns every op on often, so a few hundred samples exercise all combinations.
const everyOpProfile = `
name: every
ops:
  - {op: flip, p: 0.5}
  - {op: crop, scale: [0.5, 1], ratio: [0.75, 1.33]}
  - {op: jitter, p: 0.7, brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.1}
  - {op: grayscale, p: 0.3}
  - {op: blur, p: 0.5, sigma: [0.5, 1.5]}
  - {op: lowres, p: 0.5, scale: [0.25, 1]}
  - {op: erase, p: 0.5, value: 128}
`

func TestPipelineMatchesGift(t *testing.T) {
	every, err := ParseProfile([]byte(everyOpProfile), "")
	if err != nil {
		t.Fatal(err)
	}
	// Sources no larger than twice the output, so no scaled decode: gift sees the same pixels.
	for _, p := range []*Profile{mustBuiltin(t, "face"), every} {
		for i, size := range []image.Point{{112, 112}, {150, 180}, {90, 100}} {
			enc := encodePNG(t, face(uint64(i), size.X, size.Y))
			w := NewWorker(p, 112, 96)
			dst := make([]byte, 112*96*3)
			for pos := range int64(40) {
				if err := w.Process(enc, 7, 1, pos, dst); err != nil {
					t.Fatal(err)
				}
				want := giftPipeline(t, w, rgbToImage(w.src, size.X, size.Y))
				d, psnr := imagetest.Compare(dst, want)
				// Each op is within 2 levels; chained ops add up to a level more.
				if d > 3 || psnr < 40 {
					t.Errorf("%s %v pos %d plan %+v: max diff %d, PSNR %.1f dB", p.Name, size, pos, w.plan, d, psnr)
				}
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	every, err := ParseProfile([]byte(everyOpProfile), "")
	if err != nil {
		t.Fatal(err)
	}
	enc := encodeJPEG(t, face(9, 200, 220), 90)
	run := func(w *Worker, seed uint64, epoch int, pos int64) []byte {
		dst := make([]byte, 112*112*3)
		if err := w.Process(enc, seed, epoch, pos, dst); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	a, b := NewWorker(every, 112, 112), NewWorker(every, 112, 112)
	first := run(a, 1, 0, 5)
	for pos := range int64(20) { // interleave other samples, as a server would
		run(a, 1, 0, pos)
	}
	if !bytes.Equal(first, run(a, 1, 0, 5)) {
		t.Error("same worker, same (seed, epoch, pos): different bytes")
	}
	if !bytes.Equal(first, run(b, 1, 0, 5)) {
		t.Error("fresh worker (a resumed server), same (seed, epoch, pos): different bytes")
	}
	for _, other := range [][3]int64{{2, 0, 5}, {1, 1, 5}, {1, 0, 6}} {
		if bytes.Equal(first, run(a, uint64(other[0]), int(other[1]), other[2])) {
			t.Errorf("(seed, epoch, pos) = %v gave the same bytes as (1, 0, 5)", other)
		}
	}
}

// TestGoldenOutput pins the bytes for a PNG input (decoded by Go, so independent of the
// libjpeg-turbo build): a change here changes every served sample for a given seed.
func TestGoldenOutput(t *testing.T) {
	every, err := ParseProfile([]byte(everyOpProfile), "")
	if err != nil {
		t.Fatal(err)
	}
	enc := encodePNG(t, face(11, 128, 128))
	w := NewWorker(every, 112, 112)
	dst := make([]byte, 112*112*3)
	h := sha256.New()
	for pos := range int64(16) {
		if err := w.Process(enc, 1234, 3, pos, dst); err != nil {
			t.Fatal(err)
		}
		h.Write(dst)
	}
	const want = "7003ab8d1c220c5b22770994ec1685a2796c28289bb86eb1bc6a105d0f5b3851"
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("output digest %s, want %s", got, want)
	}
}

func TestRNGKnownAnswer(t *testing.T) {
	var r sampleRNG
	r.reset(1, 2, 3)
	got := fmt.Sprintf("%016x %016x", r.next(), r.next())
	const want = "094ed6a14c9e9d0f 7be697e92f9d1dbf"
	if got != want {
		t.Errorf("stream of (1, 2, 3) starts %s, want %s", got, want)
	}
	var sum float64
	r.reset(0, 0, 0)
	for range 10000 {
		sum += r.float()
	}
	if mean := sum / 10000; mean < 0.48 || mean > 0.52 {
		t.Errorf("mean of 10000 uniform draws is %.3f", mean)
	}
}

func TestProcessFormats(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 60, 50))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	var gifBuf, bmpBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, face(1, 64, 64), nil); err != nil {
		t.Fatal(err)
	}
	if err := bmp.Encode(&bmpBuf, face(2, 64, 48)); err != nil {
		t.Fatal(err)
	}
	webp, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	translucent := image.NewNRGBA(image.Rect(0, 0, 20, 20))
	for i := range translucent.Pix {
		translucent.Pix[i] = 200
	}
	cases := []struct {
		name     string
		data     []byte
		format   string
		w, h     int
		grayOnly bool
	}{
		{"jpeg", encodeJPEG(t, face(3, 250, 300), 90), FormatJPEG, 250, 300, false},
		{"gray jpeg", encodeJPEG(t, gray, 90), FormatJPEG, 60, 50, true},
		{"huge jpeg scaled decode", encodeJPEG(t, face(4, 1000, 900), 80), FormatJPEG, 1000, 900, false},
		{"one pixel jpeg", encodeJPEG(t, face(5, 1, 1), 90), FormatJPEG, 1, 1, false},
		{"thin jpeg", encodeJPEG(t, face(6, 3, 500), 90), FormatJPEG, 3, 500, false},
		{"png", encodePNG(t, face(7, 80, 90)), FormatPNG, 80, 90, false},
		{"gray png", encodePNG(t, gray), FormatPNG, 60, 50, true},
		{"translucent png", encodePNG(t, translucent), FormatPNG, 20, 20, false},
		{"gif", gifBuf.Bytes(), FormatGIF, 64, 64, false},
		{"bmp", bmpBuf.Bytes(), FormatBMP, 64, 48, false},
		{"webp", webp, FormatWebP, 150, 100, false},
	}
	face := mustBuiltin(t, "face")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			format, w, h, err := DecodeConfig(c.data)
			if err != nil || format != c.format || w != c.w || h != c.h {
				t.Fatalf("DecodeConfig = %s %dx%d, %v; want %s %dx%d", format, w, h, err, c.format, c.w, c.h)
			}
			worker := NewWorker(face, 112, 112)
			dst := make([]byte, 112*112*3)
			if err := worker.Process(c.data, 1, 0, 0, dst); err != nil {
				t.Fatal(err)
			}
			if c.grayOnly {
				for i := 0; i < len(dst); i += 3 {
					if dst[i] != dst[i+1] || dst[i] != dst[i+2] {
						t.Fatalf("pixel %d of a grayscale image is not gray: %v", i/3, dst[i:i+3])
					}
				}
			}
		})
	}
}

// TestScaledDecode checks the 1/2, 1/4, 1/8 TurboJPEG decode against gift resizing the full
// decode: DCT-domain scaling differs from a bilinear shrink, hence the looser PSNR >= 30 dB.
func TestScaledDecode(t *testing.T) {
	if JPEGDecoder != "turbojpeg" {
		t.Skip("no scaled decode in the pure-Go build")
	}
	src := face(8, 900, 900)
	enc := encodeJPEG(t, src, 95)
	full, err := DecodeImage(enc)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWorker(mustBuiltin(t, "none"), 112, 112)
	dst := make([]byte, 112*112*3)
	if err := w.Process(enc, 1, 0, 0, dst); err != nil {
		t.Fatal(err)
	}
	if w.plan.crop.w != 900.0/8 {
		t.Errorf("900 px to 112 px decoded at width %g, want 1/8 (112.5)", w.plan.crop.w)
	}
	want, _, _ := runGift(gift.New(gift.Resize(112, 112, gift.LinearResampling)), full)
	checkClose(t, "scaled decode", dst, want, 255, 30)
}

// TestTurboMatchesGoDecoder compares the two JPEG decoders. They may differ within JPEG's own
// tolerance: libjpeg-turbo smooths 4:2:0 chroma when upsampling where image/jpeg replicates it,
// and the IDCTs round differently. The test requires the decoders to be closer to each other
// than either is to the original image (PSNR between them >= the worse coding PSNR), and never
// under 33 dB.
func TestTurboMatchesGoDecoder(t *testing.T) {
	if JPEGDecoder != "turbojpeg" {
		t.Skip("pure-Go build: there is only one JPEG decoder")
	}
	tj := newJPEGDecoder()
	defer tj.close()
	for _, q := range []int{50, 75, 95} {
		src := face(uint64(q), 112, 112)
		enc := encodeJPEG(t, src, q)
		got, w, h, err := tj.decode(enc, 112, 112, 1, nil)
		if err != nil || w != 112 || h != 112 {
			t.Fatalf("turbojpeg: %dx%d, %v", w, h, err)
		}
		img, err := DecodeImage(enc)
		if err != nil {
			t.Fatal(err)
		}
		want := toRGB(img, nil)
		orig := toRGB(src, nil)
		d, between := imagetest.Compare(got, want)
		_, turboCoding := imagetest.Compare(got, orig)
		_, goCoding := imagetest.Compare(want, orig)
		t.Logf("quality %d: decoders differ by max %d, PSNR %.1f dB; coding PSNR turbojpeg %.1f, image/jpeg %.1f",
			q, d, between, turboCoding, goCoding)
		if between < min(turboCoding, goCoding) || between < 33 {
			t.Errorf("quality %d: decoders differ more than JPEG's own error: %.1f dB between them, coding %.1f / %.1f dB",
				q, between, turboCoding, goCoding)
		}
	}
}

func TestProcessErrors(t *testing.T) {
	w := NewWorker(mustBuiltin(t, "face"), 112, 112)
	dst := make([]byte, 112*112*3)
	good := encodeJPEG(t, face(1, 64, 64), 90)
	cases := []struct {
		name string
		data []byte
		dst  []byte
		want string
	}{
		{"short dst", good, dst[:10], "output buffer"},
		{"empty", nil, dst, "not a JPEG"},
		{"text", []byte("hello, world"), dst, "not a JPEG"},
		{"truncated jpeg", good[:len(good)/3], dst, "jpeg"},
		{"jpeg bomb", jpegWithSize(t, 60000, 60000), dst, "over the limit"},
		{"png bomb", pngWithSize(t, 10000, 10000), dst, "over the limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := w.Process(c.data, 1, 0, 0, c.dst)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
	// The worker is still usable after errors, and gives the bytes a fresh worker gives.
	if err := w.Process(good, 1, 0, 0, dst); err != nil {
		t.Errorf("after errors: %v", err)
	}
	fresh := make([]byte, len(dst))
	if err := NewWorker(mustBuiltin(t, "face"), 112, 112).Process(good, 1, 0, 0, fresh); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst, fresh) {
		t.Error("a worker that saw bad input gives other bytes than a fresh worker for the same image")
	}
}

// jpegWithSize returns a small JPEG whose frame header claims w×h.
func jpegWithSize(t testing.TB, w, h int) []byte {
	data := encodeJPEG(t, face(1, 16, 16), 90)
	i := bytes.Index(data, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	// FFC0, length (2), precision (1), height (2), width (2).
	data[i+5], data[i+6] = byte(h>>8), byte(h)
	data[i+7], data[i+8] = byte(w>>8), byte(w)
	return data
}

// pngWithSize returns a PNG header (signature and IHDR) claiming w×h.
func pngWithSize(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.White)
	data := encodePNG(t, img)
	ihdr := data[8 : 8+8+13+4]
	ihdr[8], ihdr[9], ihdr[10], ihdr[11] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
	ihdr[12], ihdr[13], ihdr[14], ihdr[15] = byte(h>>24), byte(h>>16), byte(h>>8), byte(h)
	crc := crc32.ChecksumIEEE(ihdr[4 : 8+13])
	ihdr[21], ihdr[22], ihdr[23], ihdr[24] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return data
}

func TestProcessAllocatesNothing(t *testing.T) {
	if JPEGDecoder != "turbojpeg" {
		t.Skip("image/jpeg allocates per image")
	}
	every, err := ParseProfile([]byte(everyOpProfile), "")
	if err != nil {
		t.Fatal(err)
	}
	// A 112×112 JPEG, and a 250×250 one, decoded at 1/2 and shrunk by the multi-tap kernel.
	for _, enc := range [][]byte{encodeJPEG(t, face(1, 112, 112), 90), encodeJPEG(t, face(1, 250, 250), 85)} {
		w := NewWorker(every, 112, 112)
		dst := make([]byte, 112*112*3)
		pos := int64(0)
		for range 50 { // let the buffers grow to their steady size
			if err := w.Process(enc, 1, 0, pos, dst); err != nil {
				t.Fatal(err)
			}
			pos++
		}
		allocs := testing.AllocsPerRun(100, func() {
			if err := w.Process(enc, 1, 0, pos%50, dst); err != nil {
				t.Fatal(err)
			}
			pos++
		})
		if allocs != 0 {
			t.Errorf("Process allocates %.1f times per image in steady state (%d-byte JPEG)", allocs, len(enc))
		}
	}
}

func TestNewDecoder(t *testing.T) {
	d := NewDecoder()
	for name, enc := range map[string][]byte{"jpeg": encodeJPEG(t, face(4, 40, 30), 90), "png": encodePNG(t, face(4, 40, 30))} {
		rgb, w, h, err := d.DecodeRGB(enc)
		if err != nil || w != 40 || h != 30 || len(rgb) != 40*30*3 {
			t.Errorf("%s: %dx%d, %d bytes, %v; want 40x30, 3600 bytes", name, w, h, len(rgb), err)
		}
	}
	if err := d.Process(encodeJPEG(t, face(4, 40, 30), 90), 1, 0, 0, nil); err == nil {
		t.Error("Process on a decode-only worker: no error")
	}
}

// TestLargePhotoBufferReleased: a worker keeps no more than maxKeptDecode bytes of decode buffer
// after a photo larger than that.
func TestLargePhotoBufferReleased(t *testing.T) {
	big := image.NewRGBA(image.Rect(0, 0, 2500, 2500)) // 18.75 MB as RGB
	d := NewDecoder()
	if _, _, _, err := d.DecodeRGB(encodeJPEG(t, big, 50)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := d.DecodeRGB(encodeJPEG(t, face(1, 64, 64), 90)); err != nil {
		t.Fatal(err)
	}
	if c := cap(d.src); c > maxKeptDecode {
		t.Errorf("decode buffer of %d bytes kept after a small photo, limit %d", c, maxKeptDecode)
	}
}

// TestMaxPixels: a photo that would decode to more pixels than the worker's limit fails before
// its pixels are allocated; a JPEG counts at the scale TurboJPEG decodes it at.
func TestMaxPixels(t *testing.T) {
	p, err := BuiltinProfile("none")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 32*32*3)
	w := NewWorker(p, 32, 32)
	w.SetMaxPixels(100 * 100)
	if err := w.Process(encodePNG(t, face(1, 101, 100)), 1, 0, 0, out); err == nil || !strings.Contains(err.Error(), "over the limit of 10000 pixels") {
		t.Errorf("a 101×100 PNG under a 100×100 limit: %v", err)
	}
	if err := w.Process(encodePNG(t, face(1, 100, 100)), 1, 0, 0, out); err != nil {
		t.Errorf("a 100×100 PNG under a 100×100 limit: %v", err)
	}
	big := encodeJPEG(t, face(1, 400, 400), 90)
	if JPEGDecoder == "turbojpeg" {
		if err := w.Process(big, 1, 0, 0, out); err != nil { // decoded at 1/8: 50×50
			t.Errorf("a 400×400 JPEG decoded at 1/8 under a 100×100 limit: %v", err)
		}
	}
	if _, _, _, err := w.DecodeRGB(big); err == nil { // a whole decode is 400×400
		t.Error("a 400×400 JPEG decoded whole under a 100×100 limit")
	}
	w.SetMaxPixels(0) // back to MaxPixels
	if _, _, _, err := w.DecodeRGB(big); err != nil {
		t.Errorf("no limit but MaxPixels: %v", err)
	}
}
