package synth

import (
	"math"
	"math/rand/v2"
)

// canonicalSize is the side of the aligned crop the face model is laid out
// in; ArcFace's 112×112 template puts the eyes near (38,52) and (74,52), the
// nose tip near (56,72) and the mouth corners near (42,92) and (71,92).
const canonicalSize = 112

// identity holds everything that makes one synthetic person recognisable.
// Per-photo variation is applied on top of it and is kept smaller than the
// spread of these parameters across identities.
type identity struct {
	faceRX, faceRY, faceCY, chin float32
	skin, hair, iris, lips       rgb
	brow                         rgb
	hairStyle                    int // 0 bald, 1 short, 2 long, 3 fringe, 4 volume
	hairline, hairCurve, hairVol float32
	eyeY, eyeDX, eyeRX, eyeRY    float32
	irisR                        float32
	browGap, browW, browLen      float32
	browSlant, browArch          float32
	noseY, noseW                 float32
	mouthY, mouthW, lipH         float32
	earRX, earRY                 float32
	glasses                      bool
	glassesRound                 bool
	glassesR, frameW             float32
	frame                        rgb
	beard, moustache             bool
	mole                         bool
	moleX, moleY                 float32
	neckW                        float32
}

func uniform(r *rand.Rand, lo, hi float32) float32 { return lo + (hi-lo)*r.Float32() }

// normal draws N(0, sigma) clipped to ±limit.
func normal(r *rand.Rand, sigma, limit float32) float32 {
	return max(-limit, min(limit, float32(r.NormFloat64())*sigma))
}

func jitter(r *rand.Rand, c rgb, amount float32) rgb {
	for i := range c {
		c[i] = max(0, min(255, c[i]+normal(r, amount, 2*amount)))
	}
	return c
}

func newIdentity(r *rand.Rand) identity {
	skinLight, skinMedium, skinDark := rgb{242, 212, 188}, rgb{196, 146, 110}, rgb{96, 64, 46}
	hairColors := [...]rgb{{22, 18, 16}, {58, 38, 26}, {108, 72, 42}, {206, 174, 112}, {150, 66, 32}, {168, 166, 162}, {236, 232, 222}}
	irisColors := [...]rgb{{70, 44, 24}, {40, 26, 16}, {62, 110, 160}, {80, 120, 70}, {110, 100, 60}}
	frameColors := [...]rgb{{15, 15, 15}, {90, 55, 30}, {190, 160, 80}, {150, 30, 40}, {40, 60, 130}}

	var id identity
	id.faceRX = uniform(r, 33, 42)
	id.faceRY = uniform(r, 45, 54)
	id.faceCY = uniform(r, 60, 65)
	id.chin = uniform(r, 0.05, 0.4)

	t := r.Float32()
	if t < 0.5 {
		id.skin = mix(skinLight, skinMedium, t*2)
	} else {
		id.skin = mix(skinMedium, skinDark, (t-0.5)*2)
	}
	id.skin = jitter(r, id.skin, 8)
	id.hair = jitter(r, hairColors[r.IntN(len(hairColors))], 10)
	id.brow = id.hair.scale(0.8)
	if id.hair[0] > 150 { // light hair still has visible brows
		id.brow = mix(id.hair, rgb{80, 60, 40}, 0.5)
	}
	id.iris = jitter(r, irisColors[r.IntN(len(irisColors))], 10)
	id.lips = jitter(r, mix(id.skin, rgb{170, 60, 70}, uniform(r, 0.25, 0.55)), 6)

	id.hairStyle = r.IntN(5)
	id.hairline = uniform(r, 14, 26)
	id.hairCurve = uniform(r, 0, 0.02)
	id.hairVol = uniform(r, 2, 8)

	id.eyeY = uniform(r, 49.5, 54)
	id.eyeDX = uniform(r, 14.5, 19.5)
	id.eyeRX = uniform(r, 4.5, 6.8)
	id.eyeRY = uniform(r, 2.2, 3.6)
	id.irisR = uniform(r, 2, 2.9)

	id.browGap = uniform(r, 6.5, 11)
	id.browW = uniform(r, 1.1, 2.6)
	id.browLen = uniform(r, 9, 14)
	id.browSlant = uniform(r, -0.18, 0.22)
	id.browArch = uniform(r, 0, 0.05)

	id.noseY = uniform(r, 68, 77)
	id.noseW = uniform(r, 3.5, 6.5)
	id.mouthY = uniform(r, 88, 96)
	id.mouthW = uniform(r, 9, 15)
	id.lipH = uniform(r, 1.8, 4.2)
	id.earRX = uniform(r, 4.5, 7.5)
	id.earRY = uniform(r, 9, 13)

	id.glasses = r.Float32() < 0.25
	id.glassesRound = r.IntN(2) == 0
	id.glassesR = uniform(r, 8, 11)
	id.frameW = uniform(r, 0.9, 2.2)
	id.frame = frameColors[r.IntN(len(frameColors))]

	id.beard = r.Float32() < 0.15
	id.moustache = id.beard || r.Float32() < 0.1
	id.mole = r.Float32() < 0.3
	id.moleX = uniform(r, -24, 24)
	id.moleY = uniform(r, 58, 90)
	id.neckW = uniform(r, 15, 22)
	return id
}

// pose is the per-photo variation of one identity's face.
type pose struct {
	dx, dy, theta, scale float32
	yaw                  float32 // shifts the inner features sideways
	gain, lightStrength  float32
	lightDir             [2]float32
	cast                 rgb
	smile, mouthOpen     float32
	eyeOpen, browRaise   float32
	wearsGlasses         bool
	hairShift            float32
	bgTop, bgBottom      rgb
	shirt                rgb
	clutter              int
	noise                float32
	quality              int
}

func newPose(r *rand.Rand, id *identity) pose {
	var p pose
	p.dx = normal(r, 2.2, 6)
	p.dy = normal(r, 2.2, 6)
	p.theta = normal(r, 0.09, 0.25)
	p.scale = 1 + normal(r, 0.045, 0.12)
	p.yaw = normal(r, 2, 5)
	p.gain = uniform(r, 0.72, 1.2)
	p.lightStrength = uniform(r, 0, 0.45)
	a := r.Float64() * 2 * math.Pi
	p.lightDir = [2]float32{float32(math.Cos(a)), float32(math.Sin(a))}
	p.cast = rgb{1 + normal(r, 0.04, 0.1), 1 + normal(r, 0.04, 0.1), 1 + normal(r, 0.04, 0.1)}
	p.smile = uniform(r, -0.01, 0.035)
	if r.Float32() < 0.3 {
		p.mouthOpen = uniform(r, 0.3, 1)
	}
	p.eyeOpen = uniform(r, 0.6, 1.1)
	if r.Float32() < 0.05 {
		p.eyeOpen = 0.1 // a blink
	}
	p.browRaise = normal(r, 1, 2.5)
	p.wearsGlasses = id.glasses && r.Float32() < 0.85
	p.hairShift = normal(r, 1, 2.5)
	p.bgTop = rgb{uniform(r, 20, 240), uniform(r, 20, 240), uniform(r, 20, 240)}
	p.bgBottom = jitter(r, p.bgTop, 40)
	p.shirt = rgb{uniform(r, 10, 230), uniform(r, 10, 230), uniform(r, 10, 230)}
	p.clutter = r.IntN(4)
	p.noise = uniform(r, 0, 7)
	p.quality = 55 + r.IntN(41)
	return p
}

// renderFace draws identity id under pose p into c and applies the photo's
// lighting and sensor noise.
func renderFace(c *canvas, r *rand.Rand, id *identity, p *pose) {
	c.setTransform(0, 1, 0, 0, 0, 0)
	c.fill(p.bgTop, p.bgBottom)
	for range p.clutter {
		e := ell(uniform(r, 0, 112), uniform(r, 0, 112), uniform(r, 5, 30), uniform(r, 5, 30))
		c.draw(e, e.bounds(), jitter(r, p.bgBottom, 50), uniform(r, 0, 6), uniform(r, 0.3, 0.8))
	}

	const cx = 56
	c.setTransform(p.theta, p.scale, cx, 72, p.dx, p.dy)
	skin := id.skin
	shadow := skin.scale(0.8)

	// Neck and shoulders, then long hair behind the head.
	neck := roundBox{cx, id.faceCY + id.faceRY + 6, id.neckW, 22, 6}
	c.draw(neck, neck.bounds(), shadow, 0, 1)
	shoulders := ell(cx, 140, 60, 30)
	c.draw(shoulders, shoulders.bounds(), p.shirt, 0, 1)
	if id.hairStyle == 2 {
		back := roundBox{cx, id.faceCY + 5, id.faceRX + id.hairVol + 3, id.faceRY + 6, 22}
		c.draw(back, back.bounds(), id.hair.scale(0.85), 0, 1)
	}

	// Ears, face, chin shadow.
	for _, side := range [2]float32{-1, 1} {
		ear := ell(cx+side*(id.faceRX-1)-p.yaw*0.3, id.eyeY+8, id.earRX, id.earRY)
		c.draw(ear, ear.bounds(), shadow, 0, 1)
	}
	oval := ell(cx, id.faceCY, id.faceRX, id.faceRY)
	face := taper{oval, cx, id.faceCY, id.faceRY, id.chin}
	c.draw(face, oval.bounds(), skin, 0, 1)
	cheek := ell(cx+p.yaw, id.faceCY+18, id.faceRX*0.6, 8)
	c.draw(cheek, cheek.bounds(), mix(skin, rgb{200, 90, 90}, 0.5), 6, 0.18)

	// Hair on top.
	if id.hairStyle != 0 {
		top := ell(cx, id.faceCY-6, id.faceRX+id.hairVol, id.faceRY+id.hairVol*0.6)
		line := id.hairline + p.hairShift
		if id.hairStyle == 3 {
			line += 10 // a fringe over the forehead
		}
		if id.hairStyle == 4 {
			top = ell(top.cx, top.cy, top.rx+6, top.ry+4)
		}
		cap := intersect{top, above{cx, line, id.hairCurve}}
		b := top.bounds()
		b.y1 = min(b.y1, line+id.hairCurve*top.rx*top.rx+1) // the hairline's lowest point
		c.draw(cap, b, id.hair, 0.3, 1)
	}

	fx := cx + p.yaw // features move with a small head turn
	drawEyes(c, id, p, fx)
	drawBrows(c, id, p, fx)

	// Nose: a soft shadow down the bridge, a tip and the nostrils.
	nx := cx + p.yaw*1.5
	bridge := capsule{fx - 2, id.eyeY + 3, nx - 2, id.noseY - 3, 1.4}
	c.draw(bridge, bridge.bounds(), shadow, 1.5, 0.5)
	tip := ell(nx, id.noseY-1, id.noseW, 3.8)
	c.draw(tip, tip.bounds(), shadow, 1.2, 0.55)
	for _, side := range [2]float32{-1, 1} {
		n := ell(nx+side*id.noseW*0.5, id.noseY+0.8, 1.5, 1)
		c.draw(n, n.bounds(), skin.scale(0.45), 0.3, 0.9)
	}

	drawMouth(c, id, p, fx)

	if id.mole {
		m := ell(cx+id.moleX+p.yaw, id.moleY, 1.3, 1.3)
		c.draw(m, m.bounds(), rgb{60, 40, 30}, 0, 0.9)
	}
	if p.wearsGlasses {
		drawGlasses(c, id, fx)
	}
	light(c, r, p)
}

func drawEyes(c *canvas, id *identity, p *pose, fx float32) {
	for _, side := range [2]float32{-1, 1} {
		ex := fx + side*id.eyeDX
		ry := max(0.25, id.eyeRY*p.eyeOpen)
		socket := ell(ex, id.eyeY-0.5, id.eyeRX+2.5, id.eyeRY+2.5)
		c.draw(socket, socket.bounds(), id.skin.scale(0.82), 2, 0.5)
		white := ell(ex, id.eyeY, id.eyeRX, ry)
		c.draw(white, white.bounds(), rgb{235, 232, 225}, 0, 1)
		iris := intersect{ell(ex+p.yaw*0.3, id.eyeY, id.irisR, id.irisR), white}
		c.draw(iris, white.bounds(), id.iris, 0, 1)
		pupil := intersect{ell(ex+p.yaw*0.3, id.eyeY, id.irisR*0.45, id.irisR*0.45), white}
		c.draw(pupil, white.bounds(), rgb{10, 8, 8}, 0, 1)
		lid := outline{white, 0.8}
		c.draw(lid, white.bounds(), id.skin.scale(0.4), 0, 0.8)
	}
}

func drawBrows(c *canvas, id *identity, p *pose, fx float32) {
	y := id.eyeY - id.browGap - p.browRaise
	for _, side := range [2]float32{-1, 1} {
		inner := fx + side*(id.eyeDX-id.browLen*0.45)
		outer := fx + side*(id.eyeDX+id.browLen*0.55)
		mid := (inner + outer) / 2
		b := bend{capsule{inner, y, outer, y - id.browSlant*id.browLen, id.browW}, mid, id.browArch}
		c.draw(b, box{min(inner, outer) - 3, y - 8, max(inner, outer) + 3, y + 6}, id.brow, 0.2, 1)
	}
}

func drawMouth(c *canvas, id *identity, p *pose, fx float32) {
	mx := fx + p.yaw*0.2
	bounds := box{mx - id.mouthW - 3, id.mouthY - 10, mx + id.mouthW + 3, id.mouthY + 10}
	if id.moustache {
		m := bend{ell(mx, id.mouthY-id.lipH-2.5, id.mouthW+1, 2.6), mx, 0.01}
		c.draw(m, bounds, id.hair, 0.4, 0.95)
	}
	if id.beard {
		chin := ell(56, id.faceCY+id.faceRY-10, id.faceRX*0.7, 14)
		beard := subtract{intersect{chin, taper{ell(56, id.faceCY, id.faceRX, id.faceRY), 56, id.faceCY, id.faceRY, id.chin}}, ell(mx, id.mouthY, id.mouthW+1, id.lipH+1)}
		c.draw(beard, chin.bounds(), id.hair, 1, 0.9)
	}
	open := p.mouthOpen * 4
	lips := bend{ell(mx, id.mouthY+open/2, id.mouthW, id.lipH+open/2), mx, -p.smile}
	c.draw(lips, bounds, id.lips, 0, 1)
	if open > 0.5 {
		inner := bend{ell(mx, id.mouthY+open/2, id.mouthW*0.75, open/2), mx, -p.smile}
		c.draw(inner, bounds, rgb{70, 20, 25}, 0, 1)
	} else {
		line := bend{capsule{mx - id.mouthW*0.9, id.mouthY, mx + id.mouthW*0.9, id.mouthY, 0.45}, mx, -p.smile}
		c.draw(line, bounds, id.lips.scale(0.5), 0, 0.9)
	}
}

func drawGlasses(c *canvas, id *identity, fx float32) {
	var lenses [2]shape
	for i, side := range [2]float32{-1, 1} {
		lx := fx + side*id.eyeDX
		if id.glassesRound {
			lenses[i] = ell(lx, id.eyeY, id.glassesR, id.glassesR*0.85)
		} else {
			lenses[i] = roundBox{lx, id.eyeY, id.glassesR, id.glassesR * 0.7, 2.5}
		}
		b := box{lx - id.glassesR - 2, id.eyeY - id.glassesR - 2, lx + id.glassesR + 2, id.eyeY + id.glassesR + 2}
		c.draw(lenses[i], b, rgb{200, 220, 230}, 0, 0.12)
		c.draw(outline{lenses[i], id.frameW}, b, id.frame, 0, 1)
		temple := capsule{lx + side*id.glassesR, id.eyeY - 2, 56 + side*(id.faceRX+1), id.eyeY + 1, id.frameW * 0.5}
		c.draw(temple, temple.bounds(), id.frame, 0, 1)
	}
	gap := id.eyeDX - id.glassesR
	bridge := bend{capsule{fx - gap, id.eyeY - 1, fx + gap, id.eyeY - 1, id.frameW * 0.5}, fx, -0.08}
	c.draw(bridge, box{fx - gap - 2, id.eyeY - 6, fx + gap + 2, id.eyeY + 3}, id.frame, 0, 1)
}

// light applies the photo's exposure, a directional light gradient, a
// colour cast and sensor noise, in image coordinates.
func light(c *canvas, r *rand.Rand, p *pose) {
	half := float32(c.size) / 2
	// Noise is near-Gaussian: the sum of a random word's 8 bytes has mean 1020 and
	// standard deviation 209, at a fraction of NormFloat64's cost.
	scale := p.noise / 209
	for y := 0; y < c.size; y++ {
		for x := 0; x < c.size; x++ {
			g := p.gain * (1 + p.lightStrength*((float32(x)-half)*p.lightDir[0]+(float32(y)-half)*p.lightDir[1])/float32(c.size))
			i := (y*c.size + x) * 3
			for ch := range 3 {
				c.pix[i+ch] = c.pix[i+ch]*g*p.cast[ch] + (byteSum(r.Uint64())-1020)*scale
			}
		}
	}
}

// byteSum adds the eight bytes of v.
func byteSum(v uint64) float32 {
	v = v&0x00ff00ff00ff00ff + v>>8&0x00ff00ff00ff00ff
	v = v&0x0000ffff0000ffff + v>>16&0x0000ffff0000ffff
	return float32(v&0xffffffff + v>>32)
}

// renderJunk draws a non-face picture: coloured blobs, bars and noise.
func renderJunk(c *canvas, r *rand.Rand) {
	c.setTransform(0, 1, 0, 0, 0, 0)
	c.fill(rgb{uniform(r, 0, 255), uniform(r, 0, 255), uniform(r, 0, 255)}, rgb{uniform(r, 0, 255), uniform(r, 0, 255), uniform(r, 0, 255)})
	for range 4 + r.IntN(10) {
		col := rgb{uniform(r, 0, 255), uniform(r, 0, 255), uniform(r, 0, 255)}
		switch r.IntN(3) {
		case 0:
			e := ell(uniform(r, 0, 112), uniform(r, 0, 112), uniform(r, 3, 40), uniform(r, 3, 40))
			c.draw(e, e.bounds(), col, 0, 1)
		case 1:
			b := roundBox{uniform(r, 0, 112), uniform(r, 0, 112), uniform(r, 3, 50), uniform(r, 3, 50), 0}
			c.draw(b, b.bounds(), col, 0, 1)
		default:
			s := capsule{uniform(r, 0, 112), uniform(r, 0, 112), uniform(r, 0, 112), uniform(r, 0, 112), uniform(r, 1, 6)}
			c.draw(s, s.bounds(), col, 0, 1)
		}
	}
	p := pose{gain: 1, cast: rgb{1, 1, 1}, noise: uniform(r, 0, 20)}
	light(c, r, &p)
}
