package augment

import (
	"bytes"
	"image"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestRandomRecipe(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	order := recipeOrder()
	seen := map[string]bool{}
	for range 500 {
		r := RandomRecipe(rng, 1, 3)
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
		back, err := ParseRecipe(r.String())
		if err != nil || back.String() != r.String() {
			t.Fatalf("ParseRecipe(%q) = %q, %v", r, back, err)
		}
	}
	if len(seen) != len(order) {
		t.Errorf("500 recipes used only %d of the %d ops", len(seen), len(order))
	}
	if r := RandomRecipe(rng, 5, 2); len(r.Ops) != 5 {
		t.Errorf("minOps 5 > maxOps 2: %d ops, want 5", len(r.Ops))
	}
}

func TestRecipeDeterministic(t *testing.T) {
	src := face(1, 112, 112)
	a := RandomRecipe(rand.New(rand.NewPCG(7, 7)), 3, 3)
	b := RandomRecipe(rand.New(rand.NewPCG(7, 7)), 3, 3)
	if a.String() != b.String() {
		t.Fatalf("same seed: %s and %s", a, b)
	}
	if !bytes.Equal(toRGB(a.Apply(src), nil), toRGB(b.Apply(src), nil)) {
		t.Error("same recipe, different pixels")
	}
}

func TestRecipeOps(t *testing.T) {
	src := face(2, 120, 100)
	before := toRGB(src, nil)
	for _, s := range []string{
		"crop(0.6,0,1)", "rotate(-15)", "rotate(7.3)", "jitter(0.5,-0.5,0.3)", "grayscale()",
		"occlude(0.37)", "blur(1.5)", "lowres(0.25)", "jpeg(30)", "rotate(3)+grayscale()+jpeg(80)",
	} {
		r, err := ParseRecipe(s)
		if err != nil {
			t.Fatal(err)
		}
		out := r.Apply(src)
		if b := out.Bounds(); b.Dx() != 120 || b.Dy() != 100 {
			t.Errorf("%s: size %v, want 120x100", s, b.Size())
		}
		got := toRGB(out, nil)
		if _, psnr := compare(got, before); psnr > 60 {
			t.Errorf("%s: output is nearly the input (PSNR %.1f dB)", s, psnr)
		}
		if !bytes.Equal(toRGB(src, nil), before) {
			t.Fatalf("%s modified its input", s)
		}
	}
	occluded := toRGB(Recipe{Ops: []RecipeOp{{RecipeOcclude, []float64{0.4}}}}.Apply(src), nil)
	for y := range 100 {
		black := !bytes.ContainsFunc(occluded[y*360:(y+1)*360], func(r rune) bool { return r != 0 })
		if want := y >= 60; black != want {
			t.Fatalf("occlude(0.4): row %d black = %v, want %v", y, black, want)
		}
	}
}

func TestParseRecipeErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"spin(3)", "unknown recipe op"},
		{"rotate", "not name(params)"},
		{"rotate(1,2)", "takes 1 parameters"},
		{"jpeg(0)", "outside"},
		{"blur(x)", "invalid syntax"},
		{"grayscale()+", "not name(params)"},
	} {
		if _, err := ParseRecipe(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRecipe(%q) error %v, want %q", c.in, err, c.want)
		}
	}
}

func FuzzParseRecipe(f *testing.F) {
	for _, s := range []string{"", "rotate(7.3)+jpeg(42)", "crop(0.6,0.1,0.9)", "grayscale()", "blur(1e309)", "jitter(,,)"} {
		f.Add(s)
	}
	src := image.NewRGBA(image.Rect(0, 0, 8, 8))
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecipe(s)
		if err != nil {
			return
		}
		back, err := ParseRecipe(r.String())
		if err != nil || back.String() != r.String() {
			t.Fatalf("round trip of %q: %q, %v", s, back, err)
		}
		if b := r.Apply(src).Bounds(); b.Dx() != 8 || b.Dy() != 8 {
			t.Fatalf("%q changed the size to %v", s, b.Size())
		}
	})
}
