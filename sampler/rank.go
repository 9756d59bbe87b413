package sampler

import "fmt"

// RankPlan is one rank's share of an epoch: the epoch is cut into batches and
// rank r of world W takes batches r, r+W, r+2W, ...; every rank gets the same
// number of batches. Positions count the rank's own draws from 0.
type RankPlan struct {
	order   []int32 // the epoch's order, shared
	world   int
	rank    int
	batch   int
	batches int
	pad     bool
}

// Rank returns rank's share of the epoch for world ranks and the given batch
// size. The remainder that does not give every rank a full batch is dropped;
// with pad, the last batches wrap around to the start of the epoch instead, so
// every draw is served at least once.
func (e *Epoch) Rank(world, rank, batch int, pad bool) (*RankPlan, error) {
	batches, err := Shape{Mode: e.mode, Len: len(e.order), Batch: e.batch}.RankBatches(world, rank, batch, pad)
	if err != nil {
		return nil, err
	}
	return &RankPlan{order: e.order, world: world, rank: rank, batch: batch, batches: batches, pad: pad}, nil
}

// Len is the number of positions of the rank: Batches()*batch.
func (p *RankPlan) Len() int { return p.batches * p.batch }

// Batches is the number of batches every rank gets.
func (p *RankPlan) Batches() int { return p.batches }

// Batch is the batch size.
func (p *RankPlan) Batch() int { return p.batch }

// global maps a position of the rank to its position in the epoch.
func (p *RankPlan) global(pos int) int {
	b := pos / p.batch
	g := (b*p.world+p.rank)*p.batch + pos - b*p.batch
	if p.pad {
		g %= len(p.order)
	}
	return g
}

// At is the row at the rank's position pos, 0 <= pos < Len().
func (p *RankPlan) At(pos int) int32 {
	if pos < 0 || pos >= p.Len() {
		panic(fmt.Sprintf("sampler: position %d outside the rank's 0..%d", pos, p.Len()-1))
	}
	return p.order[p.global(pos)]
}

// Fill copies the rows from the rank's position start on into dst and returns
// how many it copied: min(len(dst), Len()-start), or 0 when start is out of range.
func (p *RankPlan) Fill(start int, dst []int32) int {
	if start < 0 || start >= p.Len() {
		return 0
	}
	done := 0
	for pos := start; done < len(dst) && pos < p.Len(); {
		run := min(p.batch-pos%p.batch, len(dst)-done, p.Len()-pos) // up to the batch's end
		g := p.global(pos)
		for run > 0 { // a padded batch may wrap around the epoch's end
			k := copy(dst[done:done+run], p.order[g:])
			done, pos, run, g = done+k, pos+k, run-k, 0
		}
	}
	return done
}
