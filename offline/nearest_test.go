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
	s := &selection{dim: d, centers: make([]float32, classes*d), nearest: make([]int32, n), nearestCos: make([]float32, n)}
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

// BenchmarkNearestOther times the nearest-centre check: photos × identities dot products.
func BenchmarkNearestOther(b *testing.B) {
	const n, classes, d = 2000, 20000, 128
	e, s := randomSelection(n, classes, d, 1)
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	for b.Loop() {
		s.nearestOther(e, rows)
	}
	b.ReportMetric(float64(b.N)*n*classes/b.Elapsed().Seconds()/1e9, "Gdot/s")
}

// TestNearestOther plants photos under the wrong identity and checks both kernels' nearest other
// identity and own cosine against float64 dot products, photo by photo; only a near-tie may go
// either way.
func TestNearestOther(t *testing.T) {
	for _, d := range []int{128, 36} { // 36: not a multiple of 8, the portable path
		e, s := randomSelection(700, 203, d, 2) // 203 identities: not a multiple of four
		r := rand.New(rand.NewPCG(3, 3))
		planted := map[int]bool{}
		for len(planted) < 70 {
			i := r.IntN(e.len())
			e.labels[i] = (e.labels[i] + 1 + int32(r.IntN(202))) % 203
			planted[i] = true
		}
		var rows []int // every fifth photo unchecked
		for i := range e.len() {
			if i%5 != 0 {
				rows = append(rows, i)
			}
		}
		for _, scalar := range []bool{false, true} {
			s.scalar = scalar
			for i := range s.nearest {
				s.nearest[i], s.nearestCos[i] = -1, 0
			}
			own := s.nearestOther(e, rows)
			for i := range e.len() {
				if i%5 == 0 {
					if s.nearest[i] != -1 {
						t.Fatalf("unchecked photo %d got nearest %d", i, s.nearest[i])
					}
					continue
				}
				wantOwn := float64(dot(e.row(i), s.center(int(e.labels[i]))))
				other, which := math.Inf(-1), -1
				for c := range 203 {
					if v := float64(dot(e.row(i), s.center(c))); c != int(e.labels[i]) && v > other {
						other, which = v, c
					}
				}
				if math.Abs(float64(own[i])-wantOwn) > 1e-5 || math.Abs(float64(s.nearestCos[i])-other) > 1e-5 {
					t.Fatalf("d=%d scalar=%v photo %d: own %.6f nearest %.6f, want %.6f and %.6f", d, scalar, i, own[i], s.nearestCos[i], wantOwn, other)
				}
				if int(s.nearest[i]) != which && math.Abs(float64(dot(e.row(i), s.center(int(s.nearest[i]))))-other) > 1e-5 {
					t.Fatalf("d=%d scalar=%v photo %d: nearest %d, want %d", d, scalar, i, s.nearest[i], which)
				}
				if planted[i] && !(s.nearestCos[i] > own[i]) {
					t.Errorf("d=%d scalar=%v: planted photo %d not nearer another identity (own %.3f, other %.3f)", d, scalar, i, own[i], other)
				}
			}
		}
	}
}
