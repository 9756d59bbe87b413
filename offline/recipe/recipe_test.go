package recipe

import (
	"bytes"
	"image"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/facestream/facestream/internal/imagetest"
	"github.com/facestream/facestream/internal/testdataset"
)

// rgb packs an image's pixels as RGB bytes.
func rgb(img image.Image, dst []byte) []byte {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			dst = append(dst, byte(r>>8), byte(g>>8), byte(bl>>8))
		}
	}
	return dst
}

func TestRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	order := opOrder()
	seen := map[string]bool{}
	for range 500 {
		r := Random(rng, 1, 3)
		if n := len(r.Ops); n < 1 || n > 3 {
			t.Fatalf("%s: %d ops, want 1..3", r, n)
		}
		last := -1
		for _, op := range r.Ops {
			i := strings.Index(strings.Join(order, " ")+" ", op.Name+" ")
			if i <= last {
				t.Fatalf("%s: ops repeated or out of order", r)
			}
			last = i
			if err := op.validate(); err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			seen[op.Name] = true
		}
		back, err := Parse(r.String())
		if err != nil || back.String() != r.String() {
			t.Fatalf("Parse(%q) = %q, %v", r, back, err)
		}
	}
	if len(seen) != len(order) {
		t.Errorf("500 recipes used only %d of the %d ops", len(seen), len(order))
	}
	if r := Random(rng, 5, 2); len(r.Ops) != 5 {
		t.Errorf("minOps 5 > maxOps 2: %d ops, want 5", len(r.Ops))
	}
}

func TestRecipeDeterministic(t *testing.T) {
	src := testdataset.Gradient(112, 112, 1, 0)
	a := Random(rand.New(rand.NewPCG(7, 7)), 3, 3)
	b := Random(rand.New(rand.NewPCG(7, 7)), 3, 3)
	if a.String() != b.String() {
		t.Fatalf("same seed: %s and %s", a, b)
	}
	if !bytes.Equal(rgb(a.Apply(src), nil), rgb(b.Apply(src), nil)) {
		t.Error("same recipe, different pixels")
	}
}

func TestOps(t *testing.T) {
	src := testdataset.Gradient(120, 100, 2, 3)
	before := rgb(src, nil)
	for _, s := range []string{
		"crop(0.6,0,1)", "rotate(-15)", "rotate(7.3)", "jitter(0.5,-0.5,0.3)", "grayscale()",
		"occlude(0.37)", "blur(1.5)", "lowres(0.25)", "jpeg(30)", "rotate(3)+grayscale()+jpeg(80)",
	} {
		r, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out := r.Apply(src)
		if b := out.Bounds(); b.Dx() != 120 || b.Dy() != 100 {
			t.Errorf("%s: size %v, want 120x100", s, b.Size())
		}
		got := rgb(out, nil)
		if _, p := imagetest.Compare(got, before); p > 60 {
			t.Errorf("%s: output is nearly the input (PSNR %.1f dB)", s, p)
		}
		if !bytes.Equal(rgb(src, nil), before) {
			t.Fatalf("%s modified its input", s)
		}
	}
	occluded := rgb(Recipe{Ops: []Op{{Occlude, []float64{0.4}}}}.Apply(src), nil)
	for y := range 100 {
		black := !bytes.ContainsFunc(occluded[y*360:(y+1)*360], func(r rune) bool { return r != 0 })
		if want := y >= 60; black != want {
			t.Fatalf("occlude(0.4): row %d black = %v, want %v", y, black, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"spin(3)", "unknown recipe op"},
		{"rotate", "not name(params)"},
		{"rotate(1,2)", "takes 1 parameters"},
		{"jpeg(0)", "outside"},
		{"blur(x)", "invalid syntax"},
		{"grayscale()+", "not name(params)"},
	} {
		if _, err := Parse(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) error %v, want %q", c.in, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "rotate(7.3)+jpeg(42)", "crop(0.6,0.1,0.9)", "grayscale()", "blur(1e309)", "jitter(,,)"} {
		f.Add(s)
	}
	src := image.NewRGBA(image.Rect(0, 0, 8, 8))
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(r.String())
		if err != nil || back.String() != r.String() {
			t.Fatalf("round trip of %q: %q, %v", s, back, err)
		}
		if b := r.Apply(src).Bounds(); b.Dx() != 8 || b.Dy() != 8 {
			t.Fatalf("%q changed the size to %v", s, b.Size())
		}
	})
}
