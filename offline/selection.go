package offline

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// selection is what S2 decides: each identity's centre, each photo's cosine to it, and the base.
type selection struct {
	dim     int
	centers []float32 // classes × dim, L2-normalised (zero for an identity without photos)
	cosine  []float32 // per embeddings row
	base    []bool    // per embeddings row
	t       float64   // the threshold t resolved to an absolute cosine
}

// selectBase computes S2 on embeddings e of photos of classes identities.
func selectBase(e *embeddings, classes int, cfg SelectConfig) (*selection, error) {
	for i, l := range e.labels {
		if l < 0 || int(l) >= classes {
			return nil, fmt.Errorf("photo %d has label %d outside 0..%d", e.ids[i], l, classes-1)
		}
	}
	byClass := rowsByClass(e.labels, classes)
	s := &selection{dim: e.dim, cosine: make([]float32, e.len()), base: make([]bool, e.len())}
	s.centers = centres(e, byClass, nil)
	if err := s.score(e, byClass, cfg); err != nil {
		return nil, err
	}
	if cfg.Robust {
		// The first centre is pulled towards whatever noise the identity holds; its base is mostly
		// clean, so a centre of the base alone sits nearer the true identity.
		s.centers = centres(e, byClass, s.base)
		if err := s.score(e, byClass, cfg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// score computes every cosine to the current centres, resolves t on their distribution, and
// marks the base: cosine > t, plus each identity's keep_min best photos. With cfg.Nearest, the
// photos the centre cannot vouch for, those keep_min would rescue and all photos of an identity of
// at most keep_min photos (whose centre an intruder pulls halfway to itself), must also be nearer
// their own centre than any other identity's; an identity keeps at least its best photo.
func (s *selection) score(e *embeddings, byClass [][]int, cfg SelectConfig) error {
	for i := range e.len() {
		s.cosine[i] = dot(e.row(i), s.center(int(e.labels[i])))
	}
	t, err := cfg.T.Resolve(sortedFloat64(s.cosine), nil)
	if err != nil {
		return fmt.Errorf("t: %w", err)
	}
	s.t = t
	var foreign []bool
	if cfg.Nearest {
		foreign = s.nearerElsewhere(e, func(i int) bool {
			return float64(s.cosine[i]) <= t || len(byClass[e.labels[i]]) <= cfg.KeepMin
		})
	}
	for _, rows := range byClass {
		slices.SortStableFunc(rows, func(a, b int) int { return cmp.Compare(s.cosine[b], s.cosine[a]) })
		small := len(rows) <= cfg.KeepMin
		kept := 0
		for _, i := range rows {
			pass := float64(s.cosine[i]) > t
			s.base[i] = pass || kept < cfg.KeepMin
			if s.base[i] && cfg.Nearest && (small || !pass) && foreign[i] {
				s.base[i] = false
			}
			if s.base[i] {
				kept++
			}
		}
		if kept == 0 && cfg.KeepMin > 0 && len(rows) > 0 {
			s.base[rows[0]] = true // the check never empties an identity keep_min protects
		}
	}
	return nil
}

func (s *selection) center(c int) []float32 { return s.centers[c*s.dim : (c+1)*s.dim] }

// nearerElsewhere marks, among the photos check selects, those nearer another identity's centre
// than their own: the mark of a photo filed under the wrong identity. It costs one dot product per
// photo checked and identity, spread over every core.
func (s *selection) nearerElsewhere(e *embeddings, check func(i int) bool) []bool {
	const chunk = 64
	out := make([]bool, e.len())
	classes := len(s.centers) / s.dim
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				start := int(next.Add(chunk)) - chunk
				if start >= e.len() {
					return
				}
				for i := start; i < min(start+chunk, e.len()); i++ {
					if !check(i) {
						continue
					}
					own, row := int(e.labels[i]), e.row(i)
					for c := range classes {
						if c != own && dot(row, s.center(c)) > s.cosine[i] {
							out[i] = true
							break
						}
					}
				}
			}
		})
	}
	wg.Wait()
	return out
}

// centres are the L2-normalised means of each class's rows, of those in keep when keep is non-nil.
func centres(e *embeddings, byClass [][]int, keep []bool) []float32 {
	out := make([]float32, len(byClass)*e.dim)
	sum := make([]float64, e.dim)
	for c, rows := range byClass {
		clear(sum)
		for _, i := range rows {
			if keep != nil && !keep[i] {
				continue
			}
			for j, v := range e.row(i) {
				sum[j] += float64(v)
			}
		}
		var norm float64
		for _, v := range sum {
			norm += v * v
		}
		if norm == 0 {
			continue
		}
		norm = math.Sqrt(norm)
		for j, v := range sum {
			out[c*e.dim+j] = float32(v / norm)
		}
	}
	return out
}

// rowsByClass lists the rows of each label in row order.
func rowsByClass(labels []int32, classes int) [][]int {
	out := make([][]int, classes)
	for i, l := range labels {
		out[l] = append(out[l], i)
	}
	return out
}

func dot(a, b []float32) float32 {
	var s float64
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return float32(s)
}

func sortedFloat64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	slices.Sort(out)
	return out
}
