package synth

import (
	"bytes"
	"context"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/facestream/facestream/internal/racedetect"
)

func generate(t testing.TB, opts Options) (string, Summary) {
	t.Helper()
	dir := t.TempDir()
	sum, err := Generate(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return dir, sum
}

// TestDeterministic checks that the bytes depend on the seed and not on the
// number of workers.
func TestDeterministic(t *testing.T) {
	opts := Options{Identities: 30, Seed: 7, Noise: 0.1, Junk: 0.05, Size: 112}
	one := opts
	one.Workers = 1
	many := opts
	many.Workers = 5
	a, sumA := generate(t, one)
	b, sumB := generate(t, many)
	if sumA != sumB {
		t.Fatalf("summaries differ: %+v vs %+v", sumA, sumB)
	}
	truth, err := ReadTruth(filepath.Join(a, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(truth) != sumA.Photos {
		t.Fatalf("truth.csv has %d rows, summary says %d photos", len(truth), sumA.Photos)
	}
	for _, name := range []string{"truth.csv"} {
		assertSameFile(t, filepath.Join(a, name), filepath.Join(b, name))
	}
	for _, p := range truth {
		assertSameFile(t, filepath.Join(a, "images", p.Path), filepath.Join(b, "images", p.Path))
	}

	other := opts
	other.Seed = 8
	c, _ := generate(t, other)
	first := filepath.Join("images", truth[0].Path)
	if sameBytes(t, filepath.Join(a, first), filepath.Join(c, first)) {
		t.Errorf("seeds 7 and 8 gave the same %s", first)
	}
}

func sameBytes(t *testing.T, x, y string) bool {
	t.Helper()
	bx, err := os.ReadFile(x)
	if err != nil {
		t.Fatal(err)
	}
	by, err := os.ReadFile(y)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(bx, by)
}

func assertSameFile(t *testing.T, x, y string) {
	t.Helper()
	if !sameBytes(t, x, y) {
		t.Fatalf("%s and %s differ", x, y)
	}
}

// TestTruth checks the structure of a set: long-tailed counts, planted noise
// at about the requested rates, decodable JPEGs of the requested size.
func TestTruth(t *testing.T) {
	if racedetect.Enabled {
		t.Skip("the set's structure, not concurrency: TestDeterministic runs the workers under -race")
	}
	dir, sum := generate(t, Options{Identities: 400, Seed: 3, Noise: 0.05, Junk: 0.02, Size: 64})
	truth, err := ReadTruth(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	perIdentity := map[string]int{}
	kinds := map[Kind]int{}
	for _, p := range truth {
		folder := filepath.Dir(p.Path)
		perIdentity[folder]++
		kinds[p.Kind]++
		switch p.Kind {
		case Clean:
			if p.TrueIdentity != folder {
				t.Fatalf("clean photo %s says identity %s", p.Path, p.TrueIdentity)
			}
		case Mislabeled:
			if p.TrueIdentity == folder || p.TrueIdentity == "" {
				t.Fatalf("mislabeled photo %s says identity %q", p.Path, p.TrueIdentity)
			}
		case Junk:
			if p.TrueIdentity != "" {
				t.Fatalf("junk photo %s has identity %q", p.Path, p.TrueIdentity)
			}
		default:
			t.Fatalf("photo %s has kind %q", p.Path, p.Kind)
		}
	}
	if len(perIdentity) != 400 || kinds[Mislabeled] != sum.Mislabeled || kinds[Junk] != sum.Junk {
		t.Fatalf("truth does not match summary %+v: %d identities, kinds %v", sum, len(perIdentity), kinds)
	}
	small, large := 0, 0
	for _, n := range perIdentity {
		if n < 2 {
			t.Fatalf("an identity has %d photos", n)
		}
		if n <= 10 {
			small++
		}
		if n >= 100 {
			large++
		}
	}
	if small < 300 || large < 1 || large > 20 {
		t.Errorf("not long-tailed: %d identities with ≤10 photos, %d with ≥100", small, large)
	}
	if rate := float64(sum.Mislabeled) / float64(sum.Photos); rate < 0.03 || rate > 0.07 {
		t.Errorf("mislabeled rate %.3f, want about 0.05", rate)
	}
	f, err := os.Open(filepath.Join(dir, "images", truth[0].Path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
		t.Errorf("image is %v, want 64×64", b)
	}
}

func TestIdentityName(t *testing.T) {
	for _, tt := range []struct {
		i, n int
		want string
	}{{3, 10, "id00003"}, {99999, 100000, "id99999"}, {42, 100001, "id000042"}} {
		if got := IdentityName(tt.i, tt.n); got != tt.want {
			t.Errorf("IdentityName(%d, %d) = %q, want %q", tt.i, tt.n, got, tt.want)
		}
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, o := range []Options{
		{Identities: 1, Size: 112},
		{Identities: 10, Size: 8},
		{Identities: 10, Size: 112, Noise: -0.1},
		{Identities: 10, Size: 112, Noise: 0.6, Junk: 0.5},
	} {
		if _, err := Generate(context.Background(), t.TempDir(), o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	r := newRenderer(Options{Identities: 100, Seed: 1, Noise: 0.05, Junk: 0.01, Size: 112})
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "images", IdentityName(0, 100)), 0o755); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := r.photo(dir, job{0, i % 100}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

// TestIdentitiesLearnable checks that identity dominates per-photo variation
// even for the crudest classifier: nearest class centre (leave-one-out) on
// normalised thumbnails of the face centre. Mislabeled photos must land
// nearest to the identity they really show.
func TestIdentitiesLearnable(t *testing.T) {
	if racedetect.Enabled {
		t.Skip("the set's content, not concurrency: TestDeterministic runs the workers under -race")
	}
	dir, _ := generate(t, Options{Identities: 40, Seed: 9, Noise: 0.1, Size: 112})
	truth, err := ReadTruth(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	features := make([][]float64, len(truth))
	sums := map[string][]float64{}
	counts := map[string]int{}
	for i, p := range truth {
		features[i] = thumbnail(t, filepath.Join(dir, "images", p.Path))
		if p.Kind != Clean {
			continue
		}
		if sums[p.TrueIdentity] == nil {
			sums[p.TrueIdentity] = make([]float64, len(features[i]))
		}
		for j, v := range features[i] {
			sums[p.TrueIdentity][j] += v
		}
		counts[p.TrueIdentity]++
	}
	nearest := func(f []float64, self string) string {
		best, bestD := "", math.Inf(1)
		for id, sum := range sums {
			n := float64(counts[id])
			if id == self {
				n--
			}
			if n == 0 {
				continue
			}
			d := 0.0
			for j, v := range sum {
				if id == self {
					v -= f[j]
				}
				d += (v/n - f[j]) * (v/n - f[j])
			}
			if d < bestD {
				best, bestD = id, d
			}
		}
		return best
	}
	var clean, cleanHit, mis, misHit, misFiled int
	for i, p := range truth {
		switch {
		case p.Kind == Clean && counts[p.TrueIdentity] > 1:
			clean++
			if nearest(features[i], p.TrueIdentity) == p.TrueIdentity {
				cleanHit++
			}
		case p.Kind == Mislabeled:
			mis++
			switch nearest(features[i], "") {
			case p.TrueIdentity:
				misHit++
			case filepath.Dir(p.Path):
				misFiled++
			}
		}
	}
	t.Logf("nearest centre: %d/%d clean photos; of %d mislabeled, %d to their true identity, %d to the one they are filed under",
		cleanHit, clean, mis, misHit, misFiled)
	// Chance is 1 in 40; small identities have noisy centres, hence the margins.
	if float64(cleanHit) < 0.6*float64(clean) || float64(misHit) < 0.4*float64(mis) || float64(misFiled) > 0.1*float64(mis) {
		t.Errorf("identities not separable enough")
	}
}

// thumbnail is the 56×56 face centre averaged to 14×14 RGB, normalised to
// zero mean and unit norm so that exposure matters less.
func thumbnail(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, 14*14*3)
	for y := 28; y < 84; y++ {
		for x := 28; x < 84; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			k := (((y-28)/4)*14 + (x-28)/4) * 3
			out[k] += float64(r)
			out[k+1] += float64(g)
			out[k+2] += float64(b)
		}
	}
	mean, norm := 0.0, 0.0
	for _, v := range out {
		mean += v
	}
	mean /= float64(len(out))
	for i := range out {
		out[i] -= mean
		norm += out[i] * out[i]
	}
	for i := range out {
		out[i] /= math.Sqrt(norm)
	}
	return out
}
