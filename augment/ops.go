package augment

import (
	"math"
	"unsafe"

	"github.com/facestream/facestream/internal/avx2"
)

// colorParams are the drawn parameters of the fused colour pass, in gift's terms (the gift
// reference applies ColorBalance, Contrast, Saturation, Hue, Grayscale in this order).
type colorParams struct {
	brightness float64 // ColorBalance percentage, applied to all three channels
	contrast   float64 // Contrast percentage
	saturation float64 // Saturation percentage
	hue        float64 // Hue shift in degrees
	gray       bool    // Grayscale after the jitter
}

// colorPass is the fused colour-jitter and grayscale pass: brightness and contrast act per
// channel and become one lookup table; saturation, hue and grayscale act per pixel. Values are
// carried as integers in units of 1/256 of a level (0..unitMax) between the steps.
type colorPass struct {
	lut    [256]uint32 // brightness and contrast, in units (unsigned: it loads in one instruction)
	scaled [256]uint32 // 2*sat*lut[v], for saturateUnclipped: a load is cheaper than a multiply
	scalar bool        // use the scalar loop even where AVX2 runs (tests compare the two)
}

// unitMax is full scale in the colour pass's units: 255 levels of 256 units.
const unitMax = 255 * 256

// apply runs the pass over img (packed RGB) in place.
func (c *colorPass) apply(img []byte, p colorParams) {
	if p.brightness == 0 && p.contrast == 0 && p.saturation == 0 && p.hue == 0 {
		if p.gray {
			grayscale(img, c.simd())
		}
		return
	}
	c.buildLUT(p.brightness, p.contrast)
	// Saturation factor in Q12; gift clamps the percentage to [-100, 500].
	sat := int(math.Round((1 + min(max(p.saturation, -100), 500)/100) * 4096))
	hueShift := normalizeHue(float32(p.hue / 360))
	if hueShift == 0 && !p.gray {
		// The common case (the face profile draws no hue and no grayscale) has a loop of its own.
		c.saturatePixels(img, sat)
		return
	}
	lut := &c.lut
	for i := 0; i+2 < len(img); i += 3 {
		px := (*[3]byte)(img[i : i+3])
		r, g, b := int(lut[px[0]]), int(lut[px[1]]), int(lut[px[2]])
		if sat != 4096 {
			r, g, b = saturate(r, g, b, sat)
		}
		if hueShift != 0 {
			r, g, b = rotateHue(r, g, b, hueShift)
		}
		if p.gray {
			y := (lumaR*r + lumaG*g + lumaB*b + 1<<15) >> 16
			r, g, b = y, y, y
		}
		px[0], px[1], px[2] = unitToByte(r), unitToByte(g), unitToByte(b)
	}
}

// simd reports whether the AVX2 kernels serve this pass.
func (c *colorPass) simd() bool { return !c.scalar && avx2.Available() }

// buildLUT maps each byte through gift's ColorBalance (a product) and Contrast (about mid-grey,
// steeper than linear above 0 percent), clamping after each as gift's intermediate images do.
func (c *colorPass) buildLUT(brightness, contrast float64) {
	factor := 1 + min(max(brightness, -100), 500)/100
	slope := 1 + min(max(contrast, -100), 100)/100
	if slope > 1 {
		slope = 1 / (2 - slope)
	}
	for v := range c.lut {
		x := min(max(float64(v)/255*factor, 0), 1)
		if contrast != 0 {
			x = min(max(0.5+float64((x-0.5)*slope), 0), 1)
		}
		c.lut[v] = uint32(math.Round(x * unitMax))
	}
}

// saturate scales HSL saturation by sat/4096, clipped at 1. With hue and lightness fixed, every
// channel is linear in the saturation about the lightness, so this needs no HSL round trip, and
// the clip test s*f > 1 is d*f > denominator: the common case needs no division.
func saturate(r, g, b, sat int) (int, int, int) {
	hi, lo := max(r, g, b), min(r, g, b)
	d := hi - lo
	if d == 0 {
		return r, g, b
	}
	l2 := hi + lo // twice the lightness
	denom := l2   // saturation s = d / denom
	if l2 > unitMax {
		denom = 2*unitMax - l2
	}
	if d*sat > denom*4096 { // clipped at s = 1: the factor is denom/d
		return l2/2 + denom*(2*r-l2)/(2*d), l2/2 + denom*(2*g-l2)/(2*d), l2/2 + denom*(2*b-l2)/(2*d)
	}
	// l + f*(c - l) in Q12 with rounding: (2*sat*c + (4096-sat)*l2 + 4096) >> 13.
	t := (4096-sat)*l2 + 4096
	sat2 := 2 * sat
	return (sat2*r + t) >> 13, (sat2*g + t) >> 13, (sat2*b + t) >> 13
}

// unitRound is saturate's rounding to 1/256 level (4096 before >> 13) plus unitToByte's to a level
// (128 units before >> 8): saturateUnclipped folds the two shifts into one, as
// floor(floor(x/a)/b) = floor(x/(a*b)).
const unitRound = 4096 + 128<<13

// saturatePixels is apply's loop without hue or grayscale. The pixels whose saturation clips
// (rare: none in typical faces at the profile's +-20 percent) go through saturate one at a time;
// the runs between them go through the AVX2 kernel, eight pixels a step, or saturateUnclipped,
// whose loop holds no call and no division, and so keeps everything in registers.
func (c *colorPass) saturatePixels(img []byte, sat int) {
	for v, u := range c.lut {
		c.scaled[v] = uint32(2*sat*int(u) + unitRound) // at most 2*6*4096*unitMax + unitRound < 1<<32
	}
	simd := c.simd() && sat <= maxSIMDSat
	n := len(img) / 3
	for k := 0; k < n; {
		end := n
		if simd {
			k += avx2.Saturate(img[3*k:], &c.lut, int32(2*sat), int32(4096-sat), unitRound, unclippedTop)
			end = min(n, k+8) // the block where a pixel clips, or the last few pixels
		}
		// The block (or, without AVX2, everything) pixel by pixel, to its end: clipped pixels
		// come in runs (a saturated background), and each return to the kernel costs a call.
		for k < end {
			if k = c.saturateUnclipped(img, k, end, sat); k < end {
				px := (*[3]byte)(img[3*k:])
				r, g, b := saturate(int(c.lut[px[0]]), int(c.lut[px[1]]), int(c.lut[px[2]]), sat)
				px[0], px[1], px[2] = unitToByte(r), unitToByte(g), unitToByte(b)
				k++
			}
		}
	}
}

// maxSIMDSat is the largest saturation factor (Q12: 2.0) for which the AVX2 kernel's 32-bit
// sums stay exact: |2*sat*unitMax + (sat-4096)*2*unitMax| + unitRound < 1<<31.
const maxSIMDSat = 8192

// unclippedTop bounds saturate's unclipped results: less unitRound, they lie in [0, unclippedTop]
// exactly when the saturation does not clip (see saturateUnclipped).
const unclippedTop = 8192 * unitMax

// saturateUnclipped saturates pixels from, from+1, ..., end-1 of img in place with saturate's
// arithmetic, and returns the index of the first pixel whose saturation clips (end when none
// does), leaving that one unchanged.
func (c *colorPass) saturateUnclipped(img []byte, from, end, sat int) int {
	lut, scaled, keep := &c.lut, &c.scaled, 4096-sat
	// Pixels are read through a pointer: the compiler keeps bounds checks on the index forms of
	// a stride-3 loop that were tried.
	if end > len(img)/3 {
		panic("augment: saturateUnclipped past the image")
	}
	base := unsafe.Pointer(unsafe.SliceData(img))
	for k := from; k < end; k++ {
		px := (*[3]byte)(unsafe.Add(base, 3*k))
		rb, gb, bb := px[0], px[1], px[2]
		r, g, b := int(lut[rb]), int(lut[gb]), int(lut[bb])
		t := keep * (max(r, g, b) + min(r, g, b)) // (4096-sat) times twice the lightness
		// saturate's unclipped result, 8192 times the channel, plus unitRound.
		yr, yg, yb := int(scaled[rb])+t, int(scaled[gb])+t, int(scaled[bb])+t
		// Less unitRound, the extremes of these (at the lo and hi channels) are
		// 4096*l2 -/+ sat*(hi-lo), so saturate's clip test, sat*(hi-lo) > 4096*min(l2,
		// 2*unitMax-l2), is one of them leaving [0, unclippedTop]; inside it each output is in [0, 255].
		if uint(yr-unitRound) > unclippedTop || uint(yg-unitRound) > unclippedTop || uint(yb-unitRound) > unclippedTop {
			return k
		}
		px[0], px[1], px[2] = uint8(yr>>21), uint8(yg>>21), uint8(yb>>21)
	}
	return end
}

// unitToByte rounds a value in 1/256 levels to a byte, clamped.
func unitToByte(u int) uint8 {
	return uint8(min(max((u+128)>>8, 0), 255))
}

// rotateHue shifts the HSL hue by shift turns (in [0, 1)), in float32 as gift does.
func rotateHue(r, g, b int, shift float32) (int, int, int) {
	h, s, l := rgbToHSL(float32(r)/unitMax, float32(g)/unitMax, float32(b)/unitMax)
	rf, gf, bf := hslToRGB(normalizeHue(h+shift), s, l)
	return int(float32(rf*unitMax) + 0.5), int(float32(gf*unitMax) + 0.5), int(float32(bf*unitMax) + 0.5)
}

// rgbToHSL and hslToRGB follow gift's conversions exactly.
func rgbToHSL(r, g, b float32) (h, s, l float32) {
	hi, lo := max(r, g, b), min(r, g, b)
	l = (hi + lo) / 2
	if hi == lo {
		return 0, 0, l
	}
	d := hi - lo
	if l > 0.5 {
		s = d / (2 - hi - lo)
	} else {
		s = d / (hi + lo)
	}
	switch hi {
	case r:
		h = (g - b) / d
		if g < b {
			h += 6
		}
	case g:
		h = (b-r)/d + 2
	default:
		h = (r-g)/d + 4
	}
	return h / 6, s, l
}

func hslToRGB(h, s, l float32) (float32, float32, float32) {
	if s == 0 {
		return l, l, l
	}
	var q float32
	if l < 0.5 {
		q = l * (1 + s)
	} else {
		q = l + s - float32(l*s)
	}
	p := 2*l - q
	return hueToChannel(p, q, h+1.0/3), hueToChannel(p, q, h), hueToChannel(p, q, h-1.0/3)
}

func hueToChannel(p, q, t float32) float32 {
	if t < 0 {
		t++
	}
	if t > 1 {
		t--
	}
	switch {
	case t < 1.0/6:
		return p + float32((q-p)*6*t)
	case t < 1.0/2:
		return q
	case t < 2.0/3:
		return p + float32((q-p)*(2.0/3-t)*6)
	}
	return p
}

func normalizeHue(h float32) float32 {
	h -= float32(int(h))
	if h < 0 {
		h++
	}
	return h
}

// Rec. 601 luma weights (0.299, 0.587, 0.114, as gift's Grayscale) times 65536, summing to 65536.
const (
	lumaR = 19595
	lumaG = 38470
	lumaB = 7471
)

// grayscale replaces each pixel by its luma, in 16-bit fixed point (within one level of gift),
// eight pixels a step with simd (callers pass avx2.Available()).
func grayscale(img []byte, simd bool) {
	done := 0
	if simd {
		done = 3 * avx2.Grayscale(img, lumaR, lumaG, lumaB)
	}
	for i := done; i+2 < len(img); i += 3 {
		px := img[i : i+3 : i+3]
		y := uint8((lumaR*uint32(px[0]) + lumaG*uint32(px[1]) + lumaB*uint32(px[2]) + 1<<15) >> 16)
		px[0], px[1], px[2] = y, y, y
	}
}

// blurPass is a separable gaussian blur with gift's kernel (radius ceil(3 sigma), normalized,
// edges replicated), run by weightedRows with 8-bit weights; its buffers are kept between calls.
type blurPass struct {
	kernel []uint64  // weights of offsets 0..radius (the kernel is symmetric), summing to 256 over -radius..radius
	fk     []float64 // the float kernel before quantization
	padded []byte    // one source row with radius replicated pixels at each end
	tmp    []byte    // the horizontally blurred image
	w      []uint64  // the kernel as weightedRows takes it: offset 0, then -d and +d for each d
	offs   []int     // the source rows (or pixels, horizontally) of those taps, as byte offsets
	scalar bool      // use the SWAR kernels even where AVX2 runs (tests compare the two)
}

// apply blurs img (w×h packed RGB) in place.
func (bp *blurPass) apply(img []byte, w, h int, sigma float64) {
	radius := int(math.Ceil(3 * sigma))
	if radius < 1 {
		return
	}
	k := bp.buildKernel(radius, sigma)
	// The outer taps of gift's kernel (3 sigma) often round to zero weight: dropping them
	// changes no output byte and saves up to half the work at small sigmas.
	for len(k) > 1 && k[len(k)-1] == 0 {
		k = k[:len(k)-1]
	}
	if radius = len(k) - 1; radius == 0 {
		return
	}
	simd := !bp.scalar && avx2.Available()
	bp.w = append(bp.w[:0], k[0])
	for _, kd := range k[1:] {
		bp.w = append(bp.w, kd, kd)
	}
	rowLen := w * 3
	bp.padded = grow(bp.padded, (w+2*radius)*3)
	bp.tmp = grow(bp.tmp, h*rowLen)
	pad := bp.padded
	bp.taps(func(d int) int { return 3 * (radius + d) }, radius)
	for y := range h {
		row := img[y*rowLen : (y+1)*rowLen]
		for x := range radius {
			copy(pad[3*x:3*x+3], row[:3])
			copy(pad[3*(w+radius+x):3*(w+radius+x)+3], row[rowLen-3:])
		}
		copy(pad[3*radius:], row)
		weightedRows(bp.tmp[y*rowLen:(y+1)*rowLen], pad, bp.offs, bp.w, simd)
	}
	for y := range h {
		bp.taps(func(d int) int { return min(max(y+d, 0), h-1) * rowLen }, radius)
		weightedRows(img[y*rowLen:(y+1)*rowLen], bp.tmp, bp.offs, bp.w, simd)
	}
}

// taps fills bp.offs with at(0), then at(-d) and at(+d) for d = 1..radius, bp.w's order.
func (bp *blurPass) taps(at func(d int) int, radius int) {
	bp.offs = append(bp.offs[:0], at(0))
	for d := 1; d <= radius; d++ {
		bp.offs = append(bp.offs, at(-d), at(d))
	}
}

// buildKernel returns the half kernel 0..radius as 8-bit weights summing to 256 over the full
// symmetric kernel. Each weight is rounded down, then the units left over go to the side weights
// with the largest remainders (two units each, one per side) and the rest to the centre: this
// keeps every weight within about half a unit of exact, and flat areas exactly flat.
func (bp *blurPass) buildKernel(radius int, sigma float64) []uint64 {
	bp.fk = bp.fk[:0]
	sum := 0.0
	for d := 0; d <= radius; d++ {
		v := fixedExp(-float64(d*d) / float64(2*sigma*sigma))
		bp.fk = append(bp.fk, v)
		if d == 0 {
			sum += v
		} else {
			sum += 2 * v
		}
	}
	bp.kernel = bp.kernel[:0]
	left := 256
	for d, v := range bp.fk {
		exact := float64(v / sum * 256)
		q := math.Floor(exact)
		bp.fk[d] = exact - q // keep the remainder
		bp.kernel = append(bp.kernel, uint64(q))
		if d == 0 {
			left -= int(q)
		} else {
			left -= 2 * int(q)
		}
	}
	for left >= 2 {
		best := 0
		for d := 1; d <= radius; d++ {
			if bp.fk[d] > bp.fk[best] || best == 0 {
				best = d
			}
		}
		if best == 0 || bp.fk[best] < bp.fk[0] {
			break
		}
		bp.kernel[best]++
		bp.fk[best] = -1
		left -= 2
	}
	bp.kernel[0] += uint64(left)
	return bp.kernel
}

// erase fills the rectangle (x, y, rw, rh) of img (w pixels wide) with value.
func erase(img []byte, w, x, y, rw, rh int, value uint8) {
	for yy := y; yy < y+rh; yy++ {
		row := img[(yy*w+x)*3 : (yy*w+x+rw)*3]
		for i := range row {
			row[i] = value
		}
	}
}
