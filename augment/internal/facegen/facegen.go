// Package facegen draws deterministic face-like test images: a skin-toned oval with eyes, brows,
// nose and mouth over a textured background. Tests and benchmarks use them as stand-ins for
// aligned face crops, with enough detail that JPEG sizes and decode costs resemble real ones.
package facegen

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
)

// Face returns a w×h face-like image drawn from rng.
func Face(rng *rand.Rand, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := [3]float64{40 + 180*rng.Float64(), 40 + 180*rng.Float64(), 40 + 180*rng.Float64()}
	skin := [3]float64{150 + 90*rng.Float64(), 100 + 70*rng.Float64(), 70 + 60*rng.Float64()}
	hair := [3]float64{20 + 100*rng.Float64(), 15 + 70*rng.Float64(), 10 + 50*rng.Float64()}
	cx := 0.5 + 0.04*(rng.Float64()-0.5)
	cy := 0.52 + 0.04*(rng.Float64()-0.5)
	rx, ry := 0.30+0.06*rng.Float64(), 0.40+0.06*rng.Float64()
	eyeDX, eyeY := 0.11+0.03*rng.Float64(), cy-0.08
	mouthY := cy + 0.2 + 0.03*rng.Float64()
	freq := 6 + 10*rng.Float64()
	for y := range h {
		v := (float64(y) + 0.5) / float64(h)
		for x := range w {
			u := (float64(x) + 0.5) / float64(w)
			// Background: a diagonal gradient with a ripple so it is not flat.
			shade := 0.75 + 0.25*math.Sin(freq*(u+0.7*v))
			c := [3]float64{bg[0] * shade, bg[1] * shade, bg[2] * (2 - shade) / 1.25}
			du, dv := (u-cx)/rx, (v-cy)/ry
			d := du*du + dv*dv
			switch {
			case d < 1 && v < cy-0.7*ry+0.08*math.Cos(9*u):
				c = hair
			case d < 1:
				light := 1 - 0.35*d + 0.1*(u-cx)
				c = [3]float64{skin[0] * light, skin[1] * light, skin[2] * light}
				switch {
				case ellipse(u, v, cx-eyeDX, eyeY, 0.05, 0.025) || ellipse(u, v, cx+eyeDX, eyeY, 0.05, 0.025):
					c = [3]float64{240, 240, 235}
					if ellipse(u, v, cx-eyeDX, eyeY, 0.02, 0.02) || ellipse(u, v, cx+eyeDX, eyeY, 0.02, 0.02) {
						c = [3]float64{30, 25, 20}
					}
				case ellipse(u, v, cx-eyeDX, eyeY-0.06, 0.06, 0.012) || ellipse(u, v, cx+eyeDX, eyeY-0.06, 0.06, 0.012):
					c = hair
				case ellipse(u, v, cx, mouthY, 0.09, 0.022):
					c = [3]float64{170, 60, 70}
				case math.Abs(u-cx) < 0.015 && v > eyeY && v < mouthY-0.06:
					c = [3]float64{c[0] * 0.8, c[1] * 0.8, c[2] * 0.8}
				}
			}
			n := 12 * (rng.Float64() - 0.5) // sensor-like noise
			img.SetRGBA(x, y, color.RGBA{clamp(c[0] + n), clamp(c[1] + n), clamp(c[2] + n), 255})
		}
	}
	return img
}

func ellipse(u, v, cx, cy, rx, ry float64) bool {
	du, dv := (u-cx)/rx, (v-cy)/ry
	return du*du+dv*dv < 1
}

func clamp(v float64) uint8 {
	return uint8(math.Round(math.Max(0, math.Min(255, v))))
}
