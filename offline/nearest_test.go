package offline

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randomSelection returns n unit embeddings of dim d in classes identities, each near its
// identity's centre, and the centres: the shape of S2's nearest-centre check.
func randomSelection(n, classes, d int, seed uint64) (*embeddings, *selection) {
	r := rand.New(rand.NewPCG(seed, 1))
	s := &selection{dim: d, centers: make([]float32, classes*d)}
	for c := range classes {
		for j := range d {
			s.centers[c*d+j] = float32(r.NormFloat64())
		}
		normalize(s.center(c))
	}
	e := &embeddings{dim: d, ids: make([]int64, n), labels: make([]int32, n), emb: make([]float32, n*d)}
	for i := range n {
		e.ids[i], e.labels[i] = int64(i), int32(r.IntN(classes))
		c := s.center(int(e.labels[i]))
		for j := range d {
			e.emb[i*d+j] = c[j] + float32(0.12*r.NormFloat64()) // about cosine 0.5 to its centre at d = 128
		}
		normalize(e.row(i))
	}
	s.cosine = make([]float32, n)
	for i := range n {
		s.cosine[i] = dot(e.row(i), s.center(int(e.labels[i])))
	}
	return e, s
}

// BenchmarkNearerElsewhere times the nearest-centre check: photos × identities dot products.
func BenchmarkNearerElsewhere(b *testing.B) {
	const n, classes, d = 2000, 20000, 128
	e, s := randomSelection(n, classes, d, 1)
	for b.Loop() {
		s.nearerElsewhere(e, func(int) bool { return true })
	}
	b.ReportMetric(float64(b.N)*n*classes/b.Elapsed().Seconds()/1e9, "Gdot/s")
}

// TestNearerElsewhere plants photos under the wrong identity and checks the marks of both kernels
// against float64 dot products, photo by photo; only a near-tie may go either way.
func TestNearerElsewhere(t *testing.T) {
	for _, d := range []int{128, 36} { // 36: not a multiple of 8, the portable path
		e, s := randomSelection(700, 203, d, 2) // 203 identities: not a multiple of four
		r := rand.New(rand.NewPCG(3, 3))
		planted := map[int]bool{}
		for len(planted) < 70 {
			i := r.IntN(e.len())
			e.labels[i] = (e.labels[i] + 1 + int32(r.IntN(202))) % 203
			planted[i] = true
		}
		for _, scalar := range []bool{false, true} {
			s.scalar = scalar
			got := s.nearerElsewhere(e, func(i int) bool { return i%5 != 0 }) // every fifth photo unchecked
			for i := range e.len() {
				own := float64(dot(e.row(i), s.center(int(e.labels[i]))))
				other := math.Inf(-1)
				for c := range 203 {
					if c != int(e.labels[i]) {
						other = max(other, float64(dot(e.row(i), s.center(c))))
					}
				}
				want := i%5 != 0 && other > own
				if got[i] != want && (i%5 == 0 || math.Abs(other-own) > 1e-5) {
					t.Fatalf("d=%d scalar=%v photo %d (planted %v): marked %v, own %.6f, best other %.6f", d, scalar, i, planted[i], got[i], own, other)
				}
				if planted[i] && i%5 != 0 && !got[i] {
					t.Errorf("d=%d scalar=%v: planted photo %d not marked (own %.3f, other %.3f)", d, scalar, i, own, other)
				}
			}
		}
	}
}
