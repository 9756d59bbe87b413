package synth

import "math"

// rgb is a linear-ish colour in 0..255 per channel, kept as float32 so that
// blending, lighting and noise accumulate without rounding.
type rgb [3]float32

func (c rgb) scale(f float32) rgb { return rgb{c[0] * f, c[1] * f, c[2] * f} }

func mix(a, b rgb, t float32) rgb {
	return rgb{a[0] + (b[0]-a[0])*t, a[1] + (b[1]-a[1])*t, a[2] + (b[2]-a[2])*t}
}

// shape is a signed distance field in face coordinates (canonical 112×112
// pixels): negative inside, positive outside. Exactness is not needed far
// from the edge; near it the value drives anti-aliasing.
type shape interface {
	dist(x, y float32) float32
}

// box is an axis-aligned bounding box in face coordinates.
type box struct{ x0, y0, x1, y1 float32 }

// canvas rasterises shapes into a float RGB buffer through an affine map
// from face coordinates to image pixels (pose shift, rotation, scale).
type canvas struct {
	size int
	pix  []float32 // size*size*3, RGB
	// image = m·face + t; inv is the inverse map.
	m, inv    [4]float32
	t, invT   [2]float32
	pxPerUnit float32
}

func newCanvas(size int) *canvas {
	return &canvas{size: size, pix: make([]float32, size*size*3)}
}

// setTransform maps face coordinates to the image: rotate by theta (radians)
// and scale by s about the face point (cx, cy), then shift by (dx, dy) face
// units, all scaled from the canonical 112 pixels to the canvas size.
func (c *canvas) setTransform(theta, s, cx, cy, dx, dy float32) {
	k := float32(c.size) / canonicalSize
	sin, cos := math.Sincos(float64(theta))
	a, b := float32(cos)*s*k, float32(sin)*s*k
	c.m = [4]float32{a, -b, b, a}
	c.t = [2]float32{
		(cx+dx)*k - (a*cx - b*cy),
		(cy+dy)*k - (b*cx + a*cy),
	}
	det := a*a + b*b
	c.inv = [4]float32{a / det, b / det, -b / det, a / det}
	c.invT = [2]float32{
		-(c.inv[0]*c.t[0] + c.inv[1]*c.t[1]),
		-(c.inv[2]*c.t[0] + c.inv[3]*c.t[1]),
	}
	c.pxPerUnit = s * k
}

// fill paints the whole canvas with a vertical gradient from top to bottom.
func (c *canvas) fill(top, bottom rgb) {
	for y := 0; y < c.size; y++ {
		col := mix(top, bottom, float32(y)/float32(c.size))
		row := c.pix[y*c.size*3 : (y+1)*c.size*3]
		for x := 0; x < len(row); x += 3 {
			row[x], row[x+1], row[x+2] = col[0], col[1], col[2]
		}
	}
}

// draw blends colour col into the pixels covered by sh, restricted to the
// image of bounds. soft widens the edge (face units) for shadows and blushes;
// alpha scales the coverage.
func (c *canvas) draw(sh shape, bounds box, col rgb, soft, alpha float32) {
	// Coverage reaches zero half a soft edge outside the shape.
	g := soft / 2
	x0, y0, x1, y1 := c.imageBox(box{bounds.x0 - g, bounds.y0 - g, bounds.x1 + g, bounds.y1 + g})
	invEdge := 1 / (1/c.pxPerUnit + soft)
	for py := y0; py < y1; py++ {
		// Face coordinates of the row's first pixel centre, then one step per pixel.
		fx, fy := float32(x0)+0.5, float32(py)+0.5
		u := c.inv[0]*fx + c.inv[1]*fy + c.invT[0]
		v := c.inv[2]*fx + c.inv[3]*fy + c.invT[1]
		for px := x0; px < x1; px, u, v = px+1, u+c.inv[0], v+c.inv[2] {
			cov := 0.5 - sh.dist(u, v)*invEdge
			if cov <= 0 {
				continue
			}
			if cov > 1 {
				cov = 1
			}
			cov *= alpha
			i := (py*c.size + px) * 3
			p := c.pix[i : i+3 : i+3]
			p[0] += (col[0] - p[0]) * cov
			p[1] += (col[1] - p[1]) * cov
			p[2] += (col[2] - p[2]) * cov
		}
	}
}

// imageBox returns the pixel rectangle covering the image of b, clipped.
func (c *canvas) imageBox(b box) (x0, y0, x1, y1 int) {
	minX, minY := float32(math.MaxFloat32), float32(math.MaxFloat32)
	maxX, maxY := -minX, -minY
	for _, p := range [4][2]float32{{b.x0, b.y0}, {b.x1, b.y0}, {b.x0, b.y1}, {b.x1, b.y1}} {
		x := c.m[0]*p[0] + c.m[1]*p[1] + c.t[0]
		y := c.m[2]*p[0] + c.m[3]*p[1] + c.t[1]
		minX, maxX = min(minX, x), max(maxX, x)
		minY, maxY = min(minY, y), max(maxY, y)
	}
	clip := func(v float32) int { return int(max(0, min(float32(c.size), v))) }
	return clip(minX - 2), clip(minY - 2), clip(maxX + 3), clip(maxY + 3)
}

// ellipse is an axis-aligned ellipse; its distance is the usual first-order
// approximation f/|∇f|, good near the edge.
type ellipse struct {
	cx, cy, rx, ry float32
	irx, iry       float32 // reciprocals: dist runs per pixel
}

func ell(cx, cy, rx, ry float32) ellipse { return ellipse{cx, cy, rx, ry, 1 / rx, 1 / ry} }

func (e ellipse) dist(x, y float32) float32 {
	dx, dy := (x-e.cx)*e.irx, (y-e.cy)*e.iry
	f := dx*dx + dy*dy - 1
	gx, gy := dx*e.irx, dy*e.iry
	g := 2 * float32(math.Sqrt(float64(gx*gx+gy*gy)))
	if g < 1e-6 {
		return -min(e.rx, e.ry)
	}
	return f / g
}

func (e ellipse) bounds() box { return box{e.cx - e.rx, e.cy - e.ry, e.cx + e.rx, e.cy + e.ry} }

// roundBox is a rectangle of half-size (hx, hy) with corner radius r.
type roundBox struct{ cx, cy, hx, hy, r float32 }

func (b roundBox) dist(x, y float32) float32 {
	qx := abs32(x-b.cx) - b.hx + b.r
	qy := abs32(y-b.cy) - b.hy + b.r
	out := float32(math.Hypot(float64(max(qx, 0)), float64(max(qy, 0))))
	return out + min(max(qx, qy), 0) - b.r
}

func (b roundBox) bounds() box { return box{b.cx - b.hx, b.cy - b.hy, b.cx + b.hx, b.cy + b.hy} }

// capsule is a segment from a to b thickened by radius r.
type capsule struct{ ax, ay, bx, by, r float32 }

func (c capsule) dist(x, y float32) float32 {
	px, py := x-c.ax, y-c.ay
	vx, vy := c.bx-c.ax, c.by-c.ay
	h := (px*vx + py*vy) / (vx*vx + vy*vy + 1e-9)
	h = max(0, min(1, h))
	dx, dy := px-vx*h, py-vy*h
	return float32(math.Sqrt(float64(dx*dx+dy*dy))) - c.r
}

func (c capsule) bounds() box {
	return box{min(c.ax, c.bx) - c.r, min(c.ay, c.by) - c.r, max(c.ax, c.bx) + c.r, max(c.ay, c.by) + c.r}
}

// outline turns a filled shape into its stroke of width w (glasses frames).
type outline struct {
	s shape
	w float32
}

func (o outline) dist(x, y float32) float32 { return abs32(o.s.dist(x, y)) - o.w/2 }

// intersect is the part of a inside b.
type intersect struct{ a, b shape }

func (s intersect) dist(x, y float32) float32 { return max(s.a.dist(x, y), s.b.dist(x, y)) }

// subtract is the part of a outside b.
type subtract struct{ a, b shape }

func (s subtract) dist(x, y float32) float32 { return max(s.a.dist(x, y), -s.b.dist(x, y)) }

// above is the region above the parabola y = y0 + k·(x-cx)²: a hairline
// that comes down at the temples when k > 0.
type above struct{ cx, y0, k float32 }

func (a above) dist(x, y float32) float32 {
	dx := x - a.cx
	return y - (a.y0 + a.k*dx*dx)
}

// bend curves a shape vertically by k·(x-cx)², for smiles and brows.
type bend struct {
	s     shape
	cx, k float32
}

func (b bend) dist(x, y float32) float32 {
	dx := x - b.cx
	return b.s.dist(x, y-b.k*dx*dx)
}

// taper narrows a shape below cy (a chin): x is stretched by 1/(1-k·v²) with
// v the normalised height below cy.
type taper struct {
	s         shape
	cx, cy, h float32
	k         float32
}

func (t taper) dist(x, y float32) float32 {
	v := max(0, min(1, (y-t.cy)/t.h))
	w := 1 - t.k*v*v
	return t.s.dist(t.cx+(x-t.cx)/w, y)
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
