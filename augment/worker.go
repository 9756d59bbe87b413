package augment

import (
	"fmt"
	"image"
	"math"
	"runtime"
)

// Worker decodes and augments one image at a time into caller memory. Not goroutine-safe: one per goroutine.
// Steady state allocates nothing per image for JPEG decoded by TurboJPEG; Go's decoders (other
// formats, the pure-Go build) allocate inside the standard library.
type Worker struct {
	profile *Profile
	height  int
	width   int
	jpeg    jpegDecoder // nil: decode JPEG with Go's image/jpeg
	// maxPixels bounds the decoded size (after a scaled JPEG decode); see SetMaxPixels.
	maxPixels int64
	rng       sampleRNG
	plan      plan
	denom     int    // the last decode's scale: 1/denom
	src       []byte // the decoded image, packed RGB
	small     []byte // the low-resolution intermediate
	resize    resampler
	color     colorPass
	blur      blurPass
}

// NewWorker returns a worker that writes height×width RGB images augmented by p (not nil).
func NewWorker(p *Profile, height, width int) *Worker {
	if p == nil {
		panic("augment: NewWorker without a profile (NewDecoder makes a decode-only worker)")
	}
	return newWorker(p, height, width)
}

// SetMaxPixels sets the most pixels a photo may decode to (n ≤ 0: MaxPixels). A JPEG counts at the
// scale TurboJPEG decodes it at; other formats decode whole. A photo over it fails to decode, so
// a worker holds at most n × DecodeBytesPerPixel bytes for one photo.
func (w *Worker) SetMaxPixels(n int64) {
	if n <= 0 || n > MaxPixels {
		n = MaxPixels
	}
	w.maxPixels = n
}

// checkDecoded refuses a decode to width×height over the worker's pixel limit.
func (w *Worker) checkDecoded(format string, width, height int) error {
	if px := int64(width) * int64(height); px > w.maxPixels {
		return fmt.Errorf("%s image decodes to %dx%d, over the limit of %d pixels (--max-pixels)", format, width, height, w.maxPixels)
	}
	return nil
}

// NewDecoder returns a worker for DecodeRGB alone: the decoding the server does (TurboJPEG,
// then Go's decoders), with its buffers reused from image to image. Its Process fails.
func NewDecoder() *Worker { return newWorker(nil, 0, 0) }

func newWorker(p *Profile, height, width int) *Worker {
	w := &Worker{profile: p, height: height, width: width, jpeg: newJPEGDecoder(), maxPixels: DefaultMaxPixels}
	if w.jpeg != nil {
		runtime.AddCleanup(w, func(d jpegDecoder) { d.close() }, w.jpeg) // frees the C decompressor
	}
	return w
}

// plan holds every random draw for one sample. It is drawn from the source size alone, before
// decoding, because the crop decides how far TurboJPEG may scale the decode down.
type plan struct {
	crop   box // in source pixels
	flip   bool
	jitter colorParams
	gray   bool
	blur   float64 // sigma; 0 for none
	lowres float64 // factor; 0 for none
	erase  bool
	eraseR [4]int // x, y, width, height in output pixels
	eraseV uint8
}

// Process decodes encoded (JPEG/PNG/BMP/GIF/WebP, any size, grayscale ok), applies the profile with randomness seeded
// by (seed, epoch, pos) only, and writes height*width*3 bytes of RGB NHWC into dst (len(dst) must be h*w*3).
func (w *Worker) Process(encoded []byte, seed uint64, epoch int, pos int64, dst []byte) error {
	if w.height <= 0 || w.width <= 0 {
		return fmt.Errorf("output size %dx%d is empty", w.width, w.height)
	}
	if len(dst) != w.height*w.width*3 {
		return fmt.Errorf("output buffer has %d bytes, want %d (%dx%dx3)", len(dst), w.height*w.width*3, w.height, w.width)
	}
	sw, sh, err := w.decode(encoded, &sampleKey{seed, epoch, pos})
	if err != nil {
		return err
	}
	w.apply(dst, sw, sh)
	return nil
}

// DecodeRGB decodes encoded at full size, without augmenting, into the worker's own buffer and
// returns it as packed RGB (valid until the worker's next call) with its size. It is the decode
// step of Process alone: for decode benchmarks and previews.
func (w *Worker) DecodeRGB(encoded []byte) (rgb []byte, width, height int, err error) {
	width, height, err = w.decode(encoded, nil)
	if err != nil {
		return nil, 0, 0, err
	}
	return w.src[:width*height*3], width, height, nil
}

// DecodeScale returns the scale of the worker's last decode as 1/denom: TurboJPEG scales a JPEG
// down by up to 8 when the sample's crop is large enough; other decodes are whole (1).
func (w *Worker) DecodeScale() (denom int) { return w.denom }

// maxKeptDecode bounds the decode buffer a worker keeps from one image to the next (a 2,364²
// photo), so that one very large photo does not pin its pixels for the worker's lifetime.
const maxKeptDecode = 16 << 20

// sampleKey identifies the random stream of one sample.
type sampleKey struct {
	seed  uint64
	epoch int
	pos   int64
}

// decode decodes encoded into w.src. With a sample key it draws the sample's plan as soon as
// the source size is known and lets TurboJPEG scale the decode down to what the crop needs;
// it returns the decoded size, smaller than the source's after a scaled decode.
func (w *Worker) decode(encoded []byte, key *sampleKey) (int, int, error) {
	if cap(w.src) > maxKeptDecode { // the last photo was huge: let its pixels go
		w.src = nil
	}
	format, err := sniffFormat(encoded)
	if err != nil {
		return 0, 0, err
	}
	w.denom = 1
	var turboErr error
	if format == FormatJPEG && w.jpeg != nil {
		sw, sh, err := w.decodeJPEG(encoded, key)
		if err == nil {
			return sw, sh, nil
		}
		// TurboJPEG refuses a few files Go's decoder reads (CMYK, some recoverable
		// corruption): try that before giving up.
		turboErr = err
	}
	img, err := w.decodeGo(encoded)
	if err != nil {
		if turboErr != nil {
			return 0, 0, fmt.Errorf("%w (Go's decoder: %v)", turboErr, err)
		}
		return 0, 0, err
	}
	w.src = toRGB(img, w.src)
	b := img.Bounds()
	if key != nil {
		w.draw(key, b.Dx(), b.Dy())
	}
	return b.Dx(), b.Dy(), nil
}

// decodeGo decodes with Go's decoders, after checking the header against the pixel limit.
func (w *Worker) decodeGo(encoded []byte) (image.Image, error) {
	format, width, height, err := DecodeConfig(encoded)
	if err != nil {
		return nil, err
	}
	if err := w.checkDecoded(format, width, height); err != nil {
		return nil, err
	}
	return DecodeImage(encoded)
}

// decodeJPEG decodes with TurboJPEG. For a sample it scales down by the largest power of two
// that keeps the crop at least as large as the output.
func (w *Worker) decodeJPEG(encoded []byte, key *sampleKey) (int, int, error) {
	ow, oh, err := w.jpeg.header(encoded)
	if err != nil {
		return 0, 0, err
	}
	if err := checkSize(ow, oh); err != nil {
		return 0, 0, fmt.Errorf("jpeg image: %w", err)
	}
	denom := 1
	if key != nil {
		w.draw(key, ow, oh)
		for denom < 8 && w.plan.crop.w >= float64(2*denom*w.width) && w.plan.crop.h >= float64(2*denom*w.height) {
			denom *= 2
		}
	}
	if err := w.checkDecoded(FormatJPEG, (ow+denom-1)/denom, (oh+denom-1)/denom); err != nil {
		return 0, 0, err
	}
	var sw, sh int
	w.src, sw, sh, err = w.jpeg.decode(encoded, ow, oh, denom, w.src)
	if err != nil {
		return 0, 0, err
	}
	w.denom = denom
	d := float64(denom)
	c := w.plan.crop
	w.plan.crop = box{c.x / d, c.y / d, c.w / d, c.h / d}
	return sw, sh, nil
}

// draw makes every random draw of the sample, in profile order, from the (seed, epoch, pos) stream.
func (w *Worker) draw(key *sampleKey, sw, sh int) {
	r := &w.rng
	r.reset(key.seed, key.epoch, key.pos)
	w.plan = plan{crop: box{0, 0, float64(sw), float64(sh)}}
	pl := &w.plan
	for _, o := range w.profile.ops {
		apply := r.chance(o.p)
		switch o.kind {
		case kindFlip:
			pl.flip = apply
		case kindCrop:
			if apply {
				pl.crop = randomResizedCrop(r, sw, sh, o.scale, o.ratio)
			}
		case kindJitter:
			if apply {
				pl.jitter = colorParams{
					brightness: 100 * r.uniform(span{-o.brightness, o.brightness}),
					contrast:   100 * r.uniform(span{-o.contrast, o.contrast}),
					saturation: 100 * r.uniform(span{-o.saturation, o.saturation}),
					hue:        360 * r.uniform(span{-o.hue, o.hue}),
				}
			}
		case kindGrayscale:
			pl.gray = apply
		case kindBlur:
			if apply {
				pl.blur = r.uniform(o.sigma)
			}
		case kindLowres:
			if apply {
				pl.lowres = r.uniform(o.scale)
			}
		case kindErase:
			if apply {
				pl.eraseR, pl.erase = randomErase(r, w.width, w.height, o.scale, o.ratio)
				pl.eraseV = o.value
			}
		}
	}
}

// apply runs the plan: crop, resize and flip fused into dst, then the pixel ops in profile order,
// with jitter and a grayscale right after it fused into one colour pass.
func (w *Worker) apply(dst []byte, sw, sh int) {
	pl := &w.plan
	w.resize.resize(dst, w.width, w.height, w.src, sw, sh, pl.crop, pl.flip)
	ops := w.profile.ops
	for i := 0; i < len(ops); i++ {
		switch ops[i].kind {
		case kindJitter:
			c := pl.jitter
			if i+1 < len(ops) && ops[i+1].kind == kindGrayscale {
				c.gray = pl.gray
				i++
			}
			w.color.apply(dst, c)
		case kindGrayscale:
			if pl.gray {
				grayscale(dst, w.color.simd())
			}
		case kindBlur:
			if pl.blur > 0 {
				w.blur.apply(dst, w.width, w.height, pl.blur)
			}
		case kindLowres:
			if pl.lowres > 0 {
				w.lowres(dst, pl.lowres)
			}
		case kindErase:
			if pl.erase {
				erase(dst, w.width, pl.eraseR[0], pl.eraseR[1], pl.eraseR[2], pl.eraseR[3], pl.eraseV)
			}
		}
	}
}

// lowres shrinks dst by factor and enlarges it back, both bilinear.
func (w *Worker) lowres(dst []byte, factor float64) {
	dw, dh := LowresSize(w.width, w.height, factor)
	if dw == w.width && dh == w.height {
		return
	}
	w.small = grow(w.small, dw*dh*3)
	full := box{0, 0, float64(w.width), float64(w.height)}
	w.resize.resize(w.small, dw, dh, dst, w.width, w.height, full, false)
	w.resize.resize(dst, w.width, w.height, w.small, dw, dh, box{0, 0, float64(dw), float64(dh)}, false)
}

// LowresSize is the intermediate size of the low-resolution op: at least one pixel (S3's offline
// recipe shrinks to the same size).
func LowresSize(width, height int, factor float64) (int, int) {
	return max(1, int(math.Round(float64(width)*factor))), max(1, int(math.Round(float64(height)*factor)))
}

// randomResizedCrop draws torchvision's RandomResizedCrop box: an area fraction in scale and a
// log-uniform aspect ratio in ratio, ten tries, then the central crop with the ratio clamped.
func randomResizedCrop(r *sampleRNG, w, h int, scale, ratio span) box {
	area := float64(w * h)
	for range 10 {
		target := area * r.uniform(scale)
		aspect := r.logUniform(ratio)
		cw := int(math.Round(math.Sqrt(target * aspect)))
		ch := int(math.Round(math.Sqrt(target / aspect)))
		if cw > 0 && ch > 0 && cw <= w && ch <= h {
			x := r.intn(w - cw + 1)
			y := r.intn(h - ch + 1)
			return box{float64(x), float64(y), float64(cw), float64(ch)}
		}
	}
	cw, ch := w, h
	if in := float64(w) / float64(h); in < ratio.lo {
		ch = int(math.Round(float64(cw) / ratio.lo))
	} else if in > ratio.hi {
		cw = int(math.Round(float64(ch) * ratio.hi))
	}
	return box{float64((w - cw) / 2), float64((h - ch) / 2), float64(cw), float64(ch)}
}

// randomErase draws torchvision's RandomErasing rectangle on a w×h image; ok is false when ten
// tries found none that fits.
func randomErase(r *sampleRNG, w, h int, scale, ratio span) (rect [4]int, ok bool) {
	area := float64(w * h)
	for range 10 {
		target := area * r.uniform(scale)
		aspect := r.logUniform(ratio)
		eh := int(math.Round(math.Sqrt(target * aspect)))
		ew := int(math.Round(math.Sqrt(target / aspect)))
		if eh > 0 && ew > 0 && eh < h && ew < w {
			y := r.intn(h - eh + 1)
			x := r.intn(w - ew + 1)
			return [4]int{x, y, ew, eh}, true
		}
	}
	return rect, false
}
