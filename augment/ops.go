package augment

import "math"

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
// channel and become one lookup table; saturation, hue and grayscale act per pixel.
type colorPass struct {
	lut [256]float32
}

// apply runs the pass over img (packed RGB) in place.
func (c *colorPass) apply(img []byte, p colorParams) {
	if p.brightness == 0 && p.contrast == 0 && p.saturation == 0 && p.hue == 0 {
		if p.gray {
			grayscale(img)
		}
		return
	}
	c.buildLUT(p.brightness, p.contrast)
	satFactor := float32(1 + p.saturation/100)
	hueShift := normalizeHue(float32(p.hue / 360))
	lut := &c.lut
	for i := 0; i+2 < len(img); i += 3 {
		px := img[i : i+3 : i+3]
		r, g, b := lut[px[0]], lut[px[1]], lut[px[2]]
		if satFactor != 1 {
			r, g, b = saturate(r, g, b, satFactor)
		}
		if hueShift != 0 {
			r, g, b = rotateHue(r, g, b, hueShift)
		}
		if p.gray {
			y := lumaR*r + lumaG*g + lumaB*b
			r, g, b = y, y, y
		}
		px[0], px[1], px[2] = unitToByte(r), unitToByte(g), unitToByte(b)
	}
}

// buildLUT maps each byte through gift's ColorBalance (a product) and Contrast (about mid-grey,
// steeper than linear above 0 percent), clamping after each as gift's intermediate images do.
func (c *colorPass) buildLUT(brightness, contrast float64) {
	factor := float32(1 + brightness/100)
	slope := float32(1 + contrast/100)
	if slope > 1 {
		slope = 1 / (2 - slope)
	}
	for v := range c.lut {
		x := clampUnit(float32(v) / 255 * factor)
		if contrast != 0 {
			x = clampUnit(0.5 + (x-0.5)*slope)
		}
		c.lut[v] = x
	}
}

// saturate scales HSL saturation by f, clipped at 1. With hue and lightness fixed, every channel
// is linear in the saturation about the lightness, so this needs no HSL round trip.
func saturate(r, g, b, f float32) (float32, float32, float32) {
	hi, lo := max(r, g, b), min(r, g, b)
	if hi == lo {
		return r, g, b
	}
	l := (hi + lo) / 2
	d := hi - lo
	var s float32
	if l > 0.5 {
		s = d / (2 - hi - lo)
	} else {
		s = d / (hi + lo)
	}
	k := f
	if s*f > 1 {
		k = 1 / s
	}
	return l + k*(r-l), l + k*(g-l), l + k*(b-l)
}

// rotateHue shifts the HSL hue by shift turns (in [0, 1)).
func rotateHue(r, g, b, shift float32) (float32, float32, float32) {
	h, s, l := rgbToHSL(r, g, b)
	return hslToRGB(normalizeHue(h+shift), s, l)
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
		q = l + s - l*s
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
		return p + (q-p)*6*t
	case t < 1.0/2:
		return q
	case t < 2.0/3:
		return p + (q-p)*(2.0/3-t)*6
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

// Rec. 601 luma weights, as gift's Grayscale uses them.
const (
	lumaR = 0.299
	lumaG = 0.587
	lumaB = 0.114
)

// grayscale replaces each pixel by its luma, in 16-bit fixed point (within one level of gift).
func grayscale(img []byte) {
	const (
		wr = 19595 // lumaR << 16, rounded
		wg = 38470
		wb = 7471
	)
	for i := 0; i+2 < len(img); i += 3 {
		px := img[i : i+3 : i+3]
		y := uint8((wr*uint32(px[0]) + wg*uint32(px[1]) + wb*uint32(px[2]) + 1<<15) >> 16)
		px[0], px[1], px[2] = y, y, y
	}
}

func clampUnit(x float32) float32 { return min(max(x, 0), 1) }

// unitToByte rounds a [0, 1] value to a byte as gift does (+0.5 and truncate, clamped).
func unitToByte(x float32) uint8 {
	v := x*255 + 0.5
	if v >= 255 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v)
}

// blurPass is a separable gaussian blur with gift's kernel (radius ceil(3 sigma), normalized,
// edges replicated) in Q14 fixed point; its buffers are kept between calls.
type blurPass struct {
	kernel []int32   // weights of offsets 0..radius (the kernel is symmetric)
	fk     []float64 // float kernel before quantization
	padded []byte    // one source row with radius replicated pixels at each end
	tmp    []uint16  // the horizontally blurred image, value << interBits
	acc    []int32
}

// apply blurs img (w×h packed RGB) in place.
func (bp *blurPass) apply(img []byte, w, h int, sigma float64) {
	radius := int(math.Ceil(3 * sigma))
	if radius < 1 {
		return
	}
	bp.buildKernel(radius, sigma)
	k := bp.kernel
	rowLen := w * 3
	bp.padded = grow(bp.padded, (w+2*radius)*3)
	bp.tmp = growUint16(bp.tmp, h*rowLen)
	const shift = weightBits - interBits
	const half = 1 << (shift - 1)
	pad := bp.padded
	for y := range h {
		row := img[y*rowLen : (y+1)*rowLen]
		for x := range radius {
			copy(pad[3*x:3*x+3], row[:3])
			copy(pad[3*(w+radius+x):3*(w+radius+x)+3], row[rowLen-3:])
		}
		copy(pad[3*radius:], row)
		out := bp.tmp[y*rowLen : (y+1)*rowLen]
		for i := range out {
			c := i + 3*radius
			acc := k[0] * int32(pad[c])
			for d := 1; d <= radius; d++ {
				acc += k[d] * (int32(pad[c-3*d]) + int32(pad[c+3*d]))
			}
			out[i] = uint16((acc + half) >> shift)
		}
	}
	bp.acc = growInt32(bp.acc, rowLen)
	acc := bp.acc
	for y := range h {
		center := bp.tmp[y*rowLen : (y+1)*rowLen]
		for i, v := range center {
			acc[i] = k[0] * int32(v)
		}
		for d := 1; d <= radius; d++ {
			up := bp.tmp[max(y-d, 0)*rowLen : max(y-d, 0)*rowLen+rowLen]
			down := bp.tmp[min(y+d, h-1)*rowLen : min(y+d, h-1)*rowLen+rowLen]
			kd := k[d]
			for i := range acc {
				acc[i] += kd * (int32(up[i]) + int32(down[i]))
			}
		}
		out := img[y*rowLen : (y+1)*rowLen]
		for i, v := range acc {
			out[i] = roundOut(v)
		}
	}
}

// buildKernel fills bp.kernel with the half kernel 0..radius in Q14, summing to one over
// the full symmetric kernel.
func (bp *blurPass) buildKernel(radius int, sigma float64) {
	bp.fk = bp.fk[:0]
	sum := 0.0
	for d := 0; d <= radius; d++ {
		v := math.Exp(-float64(d*d) / (2 * sigma * sigma))
		bp.fk = append(bp.fk, v)
		if d == 0 {
			sum += v
		} else {
			sum += 2 * v
		}
	}
	bp.kernel = growInt32(bp.kernel, radius+1)
	total := int32(0)
	for d, v := range bp.fk {
		bp.kernel[d] = int32(math.Round(v / sum * weightOne))
		if d == 0 {
			total += bp.kernel[d]
		} else {
			total += 2 * bp.kernel[d]
		}
	}
	bp.kernel[0] += weightOne - total // keep flat areas exactly flat
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
