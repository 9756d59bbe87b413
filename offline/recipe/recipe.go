// Package recipe is the offline augmentation of stage S3: recipes of a few ops (crop, rotate,
// colour jitter, grayscale, occlusion, blur, low resolution, JPEG) drawn per candidate, applied
// with gift, and stored as text in the equalized dataset's recipe column.
package recipe

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/disintegration/gift"

	"github.com/facestream/facestream/augment"
)

// Offline recipe op names (stage S3), in the order a recipe applies them: geometry first, then
// colour, occlusion, optical degradations, and JPEG compression last as in a real capture.
const (
	Crop      = "crop"      // (scale, fx, fy): keep scale of the area at relative position (fx, fy), resize back
	Rotate    = "rotate"    // (degrees): rotate about the centre, ±15°, black corners
	Jitter    = "jitter"    // (brightness, contrast, saturation): each in [-0.5, 0.5]
	Grayscale = "grayscale" // ()
	Occlude   = "occlude"   // (fraction): black band over the lower 33–40 % of the face
	Blur      = "blur"      // (sigma): gaussian blur, 0.5–2 pixels
	Lowres    = "lowres"    // (factor): shrink to 0.25–0.5 and enlarge back
	JPEG      = "jpeg"      // (quality): re-encode at quality 30–80
)

// opOrder lists the recipe ops in the order they apply.
func opOrder() []string {
	return []string{Crop, Rotate, Jitter, Grayscale, Occlude, Blur, Lowres, JPEG}
}

// Op is one offline op with its drawn parameters (rounded to the precision String prints,
// so that Parse(r.String()) applies exactly the same recipe).
type Op struct {
	Name   string
	Params []float64
}

// Recipe is an offline augmentation: ops applied in order.
type Recipe struct{ Ops []Op }

// Random draws minOps..maxOps distinct ops (clamped to 1..8) with their parameters.
func Random(rng *rand.Rand, minOps, maxOps int) Recipe {
	order := opOrder()
	minOps = min(max(minOps, 1), len(order))
	maxOps = min(max(maxOps, minOps), len(order))
	n := minOps + rng.IntN(maxOps-minOps+1)
	picked := rng.Perm(len(order))[:n]
	slices.Sort(picked)
	r := Recipe{Ops: make([]Op, 0, n)}
	for _, i := range picked {
		r.Ops = append(r.Ops, drawOp(rng, order[i]))
	}
	return r
}

// drawOp draws the parameters of op name, rounded as String prints them.
func drawOp(rng *rand.Rand, name string) Op {
	u := func(lo, hi float64, decimals int) float64 { return round(lo+float64((hi-lo)*rng.Float64()), decimals) }
	var p []float64
	switch name {
	case Crop:
		p = []float64{u(0.6, 1, 2), u(0, 1, 2), u(0, 1, 2)}
	case Rotate:
		p = []float64{u(-15, 15, 1)}
	case Jitter:
		p = []float64{u(-0.5, 0.5, 2), u(-0.5, 0.5, 2), u(-0.5, 0.5, 2)}
	case Occlude:
		p = []float64{u(0.33, 0.40, 2)}
	case Blur:
		p = []float64{u(0.5, 2, 2)}
	case Lowres:
		p = []float64{u(0.25, 0.5, 2)}
	case JPEG:
		p = []float64{float64(30 + rng.IntN(51))}
	}
	return Op{Name: name, Params: p}
}

func round(v float64, decimals int) float64 {
	scale := math.Pow10(decimals)
	return math.Round(v*scale) / scale
}

// String writes the recipe as stored in the dataset's recipe column, e.g. "rotate(7.3)+jpeg(42)".
func (r Recipe) String() string {
	var b strings.Builder
	for i, op := range r.Ops {
		if i > 0 {
			b.WriteByte('+')
		}
		b.WriteString(op.Name)
		b.WriteByte('(')
		for j, p := range op.Params {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(p, 'g', -1, 64))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Parse reads a recipe written by String, checking op names, parameter counts and ranges.
func Parse(s string) (Recipe, error) {
	var r Recipe
	if s == "" {
		return r, nil
	}
	for _, part := range strings.Split(s, "+") {
		name, args, ok := strings.Cut(part, "(")
		if !ok || !strings.HasSuffix(args, ")") {
			return Recipe{}, fmt.Errorf("recipe %q: op %q is not name(params)", s, part)
		}
		op := Op{Name: name}
		if args = strings.TrimSuffix(args, ")"); args != "" {
			for _, a := range strings.Split(args, ",") {
				v, err := strconv.ParseFloat(a, 64)
				if err != nil {
					return Recipe{}, fmt.Errorf("recipe %q: op %s: %w", s, name, err)
				}
				op.Params = append(op.Params, v)
			}
		}
		if err := op.validate(); err != nil {
			return Recipe{}, fmt.Errorf("recipe %q: %w", s, err)
		}
		r.Ops = append(r.Ops, op)
	}
	return r, nil
}

// validate checks the op name, the parameter count and each parameter's range.
func (op Op) validate() error {
	type bounds struct{ lo, hi float64 }
	var want []bounds
	switch op.Name {
	case Crop:
		want = []bounds{{0.01, 1}, {0, 1}, {0, 1}}
	case Rotate:
		want = []bounds{{-180, 180}}
	case Jitter:
		want = []bounds{{-1, 1}, {-1, 1}, {-1, 1}}
	case Grayscale:
	case Occlude:
		want = []bounds{{0, 1}}
	case Blur:
		want = []bounds{{0, 20}}
	case Lowres:
		want = []bounds{{0.01, 1}}
	case JPEG:
		want = []bounds{{1, 100}}
	default:
		return fmt.Errorf("unknown recipe op %q (known: %s)", op.Name, strings.Join(opOrder(), ", "))
	}
	if len(op.Params) != len(want) {
		return fmt.Errorf("op %s takes %d parameters, got %d", op.Name, len(want), len(op.Params))
	}
	for i, b := range want {
		if p := op.Params[i]; !(p >= b.lo && p <= b.hi) {
			return fmt.Errorf("op %s: parameter %d (%g) is outside [%g, %g]", op.Name, i+1, p, b.lo, b.hi)
		}
	}
	return nil
}

// Apply returns src with the recipe applied; the size is unchanged. src is not modified.
func (r Recipe) Apply(src image.Image) image.Image {
	img := src
	for _, op := range r.Ops {
		img = op.apply(img)
	}
	return img
}

// apply runs one op with gift (or image/jpeg for the re-encode).
func (op Op) apply(src image.Image) image.Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	p := op.Params
	var g *gift.GIFT
	switch op.Name {
	case Crop:
		scale := math.Sqrt(p[0])
		cw, ch := max(1, int(math.Round(float64(w)*scale))), max(1, int(math.Round(float64(h)*scale)))
		x := b.Min.X + int(math.Round(p[1]*float64(w-cw)))
		y := b.Min.Y + int(math.Round(p[2]*float64(h-ch)))
		g = gift.New(gift.Crop(image.Rect(x, y, x+cw, y+ch)), gift.Resize(w, h, gift.LinearResampling))
	case Rotate:
		g = gift.New(gift.Rotate(float32(p[0]), color.Black, gift.LinearInterpolation), gift.CropToSize(w, h, gift.CenterAnchor))
	case Jitter:
		bright := float32(100 * p[0])
		g = gift.New(gift.ColorBalance(bright, bright, bright), gift.Contrast(float32(100*p[1])), gift.Saturation(float32(100*p[2])))
	case Grayscale:
		g = gift.New(gift.Grayscale())
	case Occlude:
		return occlude(src, p[0])
	case Blur:
		g = gift.New(gift.GaussianBlur(float32(p[0])))
	case Lowres:
		dw, dh := augment.LowresSize(w, h, p[0])
		g = gift.New(gift.Resize(dw, dh, gift.LinearResampling), gift.Resize(w, h, gift.LinearResampling))
	case JPEG:
		return recompress(src, int(p[0]))
	default:
		panic(fmt.Sprintf("recipe: unknown recipe op %q (Random and Parse make only known ones)", op.Name))
	}
	dst := image.NewRGBA(g.Bounds(b))
	g.Draw(dst, src)
	return dst
}

// occlude copies src with a black band over the lower fraction of its height.
func occlude(src image.Image, fraction float64) image.Image {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
	top := b.Dy() - int(math.Round(fraction*float64(b.Dy())))
	draw.Draw(dst, image.Rect(0, top, b.Dx(), b.Dy()), image.Black, image.Point{}, draw.Src)
	return dst
}

// recompress encodes src as JPEG at quality and decodes it again. JPEG cannot hold an image with
// a side of 65536 or more; such an image is returned unchanged.
func recompress(src image.Image, quality int) image.Image {
	b := src.Bounds()
	if b.Dx() >= 1<<16 || b.Dy() >= 1<<16 {
		return src
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: quality}); err != nil {
		panic(fmt.Sprintf("recipe: JPEG-encode a %dx%d image in memory: %v", b.Dx(), b.Dy(), err))
	}
	img, err := jpeg.Decode(&buf)
	if err != nil {
		panic(fmt.Sprintf("recipe: decode a JPEG just encoded: %v", err))
	}
	return img
}
