package sampler

import (
	"math/rand/v2"
	"testing"
)

// TestShapeMatchesBuild: ShapeOf and RankBatches answer what Build and Rank do, errors included,
// on random populations, modes and rank layouts.
func TestShapeMatchesBuild(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for range 400 {
		pop := randomPopulation(r)
		for _, mode := range Modes() {
			spec := randomSpec(r, mode)
			if r.IntN(10) == 0 { // parameters Build refuses
				spec.P, spec.EpochLen = 0, -1
			}
			shape, serr := ShapeOf(pop, spec)
			ep, berr := Build(pop, spec)
			if (serr != nil) != (berr != nil) {
				t.Fatalf("%s %+v: ShapeOf error %v, Build error %v", mode, spec, serr, berr)
			}
			if berr != nil {
				continue
			}
			if shape.Len != ep.Len() {
				t.Fatalf("%s %+v: ShapeOf length %d, Build %d", mode, spec, shape.Len, ep.Len())
			}
			for range 5 {
				world := 1 + r.IntN(4)
				rank, batch, pad := r.IntN(world), 1+r.IntN(12), r.IntN(2) == 0
				if mode == PK && r.IntN(3) > 0 {
					batch = spec.P * spec.K
				}
				n, nerr := shape.RankBatches(world, rank, batch, pad)
				plan, perr := ep.Rank(world, rank, batch, pad)
				if (nerr != nil) != (perr != nil) || perr == nil && n != plan.Batches() {
					t.Fatalf("%s len %d, world %d rank %d batch %d pad %v: RankBatches %d, %v; Rank %v",
						mode, shape.Len, world, rank, batch, pad, n, nerr, perr)
				}
			}
		}
	}
}
