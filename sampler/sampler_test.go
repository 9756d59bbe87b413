package sampler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

const propertyCases = 300

func TestParseMode(t *testing.T) {
	for _, m := range Modes() {
		got, err := ParseMode(" " + strings.ToUpper(string(m)) + " ")
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	if _, err := ParseMode("random"); err == nil || !strings.Contains(err.Error(), "balanced") {
		t.Errorf("ParseMode(random) error %v, want one listing the modes", err)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	labels := []int32{0, 0, 1, 1, 2}
	nan := float32(math.NaN())
	tests := []struct {
		name string
		pop  *Population
		spec Spec
		want string
	}{
		{"nil population", nil, Spec{Mode: Uniform}, "nil"},
		{"no rows", &Population{NumClasses: 1}, Spec{Mode: Uniform}, "no rows"},
		{"no classes", &Population{Labels: []int32{0}}, Spec{Mode: Uniform}, "classes"},
		{"label too large", &Population{Labels: []int32{0, 3}, NumClasses: 3}, Spec{Mode: Uniform}, "row 1 has label 3"},
		{"negative label", &Population{Labels: []int32{-1}, NumClasses: 3}, Spec{Mode: Balanced}, "label -1"},
		{"unknown mode", &Population{Labels: labels, NumClasses: 3}, Spec{Mode: "zigzag"}, "unknown sampling mode"},
		{"negative epoch", &Population{Labels: labels, NumClasses: 3}, Spec{Mode: Uniform, Epoch: -1}, "negative"},
		{"quotas short", &Population{Labels: labels, NumClasses: 3, Quotas: []int32{1, 1}}, Spec{Mode: Balanced}, "2 quotas for 3 classes"},
		{"negative quota", &Population{Labels: labels, NumClasses: 3, Quotas: []int32{1, -1, 1}}, Spec{Mode: Balanced}, "negative quota"},
		{"quota without rows", &Population{Labels: labels, NumClasses: 4, Quotas: []int32{1, 1, 1, 1}}, Spec{Mode: PK, P: 1, K: 1}, "class 3 has quota 1 but no rows"},
		{"all quotas zero", &Population{Labels: labels, NumClasses: 3, Quotas: []int32{0, 0, 0}}, Spec{Mode: Balanced}, "zero"},
		{"weights short", &Population{Labels: labels, NumClasses: 3, Weights: []float32{1}}, Spec{Mode: Weighted}, "1 weights for 5 rows"},
		{"negative weight", &Population{Labels: labels, NumClasses: 3, Weights: []float32{1, 1, -1, 1, 1}}, Spec{Mode: Weighted}, "row 2 has weight -1"},
		{"NaN weight", &Population{Labels: labels, NumClasses: 3, Weights: []float32{1, nan, 1, 1, 1}}, Spec{Mode: Weighted}, "NaN"},
		{"infinite weight", &Population{Labels: labels, NumClasses: 3, Weights: []float32{1, float32(math.Inf(1)), 1, 1, 1}}, Spec{Mode: Weighted}, "Inf"},
		{"all weights zero", &Population{Labels: labels, NumClasses: 3, Weights: make([]float32, 5)}, Spec{Mode: Weighted}, "every weight is zero"},
		{"negative epoch length", &Population{Labels: labels, NumClasses: 3}, Spec{Mode: Weighted, EpochLen: -5}, "epoch length"},
		{"pk without P", &Population{Labels: labels, NumClasses: 3}, Spec{Mode: PK, K: 2}, "P=0"},
		{"pk too few identities", &Population{Labels: labels, NumClasses: 3}, Spec{Mode: PK, P: 4, K: 1}, "too few identities"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.pop, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRankRejectsBadInput(t *testing.T) {
	pop := &Population{Labels: []int32{0, 0, 1, 1, 2, 2, 0, 1}, NumClasses: 3}
	uniform := mustBuild(t, pop, Spec{Mode: Uniform})
	pk := mustBuild(t, pop, Spec{Mode: PK, P: 2, K: 2})
	tests := []struct {
		name               string
		epoch              *Epoch
		world, rank, batch int
		pad                bool
		want               string
	}{
		{"world 0", uniform, 0, 0, 1, false, "world size 0"},
		{"rank = world", uniform, 2, 2, 1, false, "rank 2 outside 0..1"},
		{"negative rank", uniform, 2, -1, 1, false, "rank -1"},
		{"batch 0", uniform, 1, 0, 0, false, "batch size 0"},
		{"batch beyond epoch", uniform, 1, 0, 9, false, "exceeds the epoch's 8 draws"},
		{"no full round", uniform, 3, 0, 3, false, "no full batch"},
		{"pk batch not P*K", pk, 1, 0, 2, false, "P*K=4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.epoch.Rank(tt.world, tt.rank, tt.batch, tt.pad)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Rank error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := uniform.Rank(3, 2, 3, true); err != nil {
		t.Errorf("padded Rank with less than one round: %v", err)
	}
}

func TestUniformDrawsEveryRowOncePerEpoch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range propertyCases {
		pop := randomPopulation(r)
		spec := randomSpec(r, Uniform)
		got := order(mustBuild(t, pop, spec))
		slices.Sort(got)
		for i, row := range got {
			if row != int32(i) {
				t.Fatalf("%s: sorted epoch[%d] = %d, want every row once", describe(pop, spec), i, row)
			}
		}
	}
}

func TestBalancedGivesEveryClassItsQuota(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range propertyCases {
		pop := randomPopulation(r)
		spec := randomSpec(r, Balanced)
		quotas := effectiveQuotas(pop)
		got := make([]int, pop.NumClasses)
		for _, row := range order(mustBuild(t, pop, spec)) {
			got[pop.Labels[row]]++
		}
		if !slices.Equal(got, quotas) {
			t.Fatalf("%s: draws per class %v, want quotas %v", describe(pop, spec), got, quotas)
		}
	}
}

// TestBalancedCoverage checks the chain from the first epoch on: after any
// number of epochs the counts of an identity's photos differ by at most one
// (no photo is drawn twice before all of them have been), and within
// ceil(n_c/quota_c) epochs every photo has been drawn.
func TestBalancedCoverage(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range propertyCases / 3 {
		pop := randomPopulation(r)
		spec := randomSpec(r, Balanced)
		sizes, quotas := classSizes(pop), effectiveQuotas(pop)
		full := 0 // epochs until every photo of every class with a quota is drawn
		for c, q := range quotas {
			if q > 0 {
				full = max(full, (sizes[c]+q-1)/q)
			}
		}
		counts := make([]int, len(pop.Labels))
		for spec.Epoch = 0; spec.Epoch < full+2; spec.Epoch++ {
			for _, row := range order(mustBuild(t, pop, spec)) {
				counts[row]++
			}
			lo, hi := make([]int, pop.NumClasses), make([]int, pop.NumClasses)
			for c := range lo {
				lo[c] = math.MaxInt
			}
			for row, n := range counts {
				c := pop.Labels[row]
				lo[c], hi[c] = min(lo[c], n), max(hi[c], n)
			}
			for c, q := range quotas {
				if q == 0 {
					continue
				}
				if hi[c]-lo[c] > 1 {
					t.Fatalf("%s: class %d photo counts range %d..%d after epoch %d", describe(pop, spec), c, lo[c], hi[c], spec.Epoch)
				}
				if spec.Epoch+1 >= (sizes[c]+q-1)/q && lo[c] == 0 {
					t.Fatalf("%s: class %d (%d photos, quota %d) has an undrawn photo after %d epochs", describe(pop, spec), c, sizes[c], q, spec.Epoch+1)
				}
			}
		}
	}
}

func TestPKBatchesHoldPDistinctIdentitiesOfKPhotos(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	built := 0
	for range propertyCases {
		pop := randomPopulation(r)
		spec := randomSpec(r, PK)
		e, err := Build(pop, spec)
		if err != nil {
			if !strings.Contains(err.Error(), "too few identities") {
				t.Fatalf("%s: %v", describe(pop, spec), err)
			}
			continue
		}
		built++
		checkPKBatches(t, pop, spec, order(e))
	}
	if built < propertyCases/3 {
		t.Fatalf("only %d of %d random populations could fill a P×K batch", built, propertyCases)
	}
}

func checkPKBatches(t *testing.T, pop *Population, spec Spec, rows []int32) {
	t.Helper()
	batch := spec.P * spec.K
	if len(rows) == 0 || len(rows)%batch != 0 {
		t.Fatalf("%s: epoch of %d draws is not whole batches of %d", describe(pop, spec), len(rows), batch)
	}
	for b := 0; b < len(rows); b += batch {
		seen := map[int32]bool{}
		for g := b; g < b+batch; g += spec.K {
			c := pop.Labels[rows[g]]
			if seen[c] {
				t.Fatalf("%s: batch %d repeats identity %d: %v", describe(pop, spec), b/batch, c, rows[b:b+batch])
			}
			seen[c] = true
			for _, row := range rows[g : g+spec.K] {
				if pop.Labels[row] != c {
					t.Fatalf("%s: batch %d mixes identities within a group: %v", describe(pop, spec), b/batch, rows[b:b+batch])
				}
			}
		}
	}
}

// TestPKBatchCountFixedPerPopulation checks that a pk epoch's length depends
// on the population, P and K alone: the server announces the first epoch's
// batch count for a whole multi-epoch stream, and clients switch epochs after
// that many batches.
func TestPKBatchCountFixedPerPopulation(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	fixed := 0
	for range propertyCases / 3 {
		pop := randomPopulation(r)
		spec := randomSpec(r, PK)
		want := -1
		for trial := range 20 {
			spec.Seed, spec.Epoch = r.Uint64(), trial*7
			e, err := Build(pop, spec)
			if err != nil {
				if want > 0 || !strings.Contains(err.Error(), "too few identities") {
					t.Fatalf("%s: %v", describe(pop, spec), err)
				}
				want = 0 // too few identities must hold for every seed and epoch
				continue
			}
			if trial == 0 {
				want = e.Len()
			}
			if e.Len() != want {
				t.Fatalf("%s: epoch of %d draws, want %d as for the first seed and epoch", describe(pop, spec), e.Len(), want)
			}
		}
		if want > 0 {
			fixed++
		}
	}
	if fixed < propertyCases/9 {
		t.Fatalf("only %d of %d random populations could fill a P×K batch", fixed, propertyCases/3)
	}
}

// TestPKEvenQuotasEvenGroups checks a population whose quotas are not a
// multiple of K (51 identities of quota 5, K=4: 63.75 groups for 7 batches
// of 8): every epoch has the same length, and over many epochs identities of
// equal quota get about the same number of groups.
func TestPKEvenQuotasEvenGroups(t *testing.T) {
	const identities, quota, P, K, epochs = 51, 5, 8, 4, 400
	pop := &Population{NumClasses: identities, Quotas: make([]int32, identities), Fingerprint: 51}
	for c := range identities {
		for range 2 * quota {
			pop.Labels = append(pop.Labels, int32(c))
		}
		pop.Quotas[c] = quota
	}
	groups := make([]int, identities)
	for epoch := range epochs {
		spec := Spec{Mode: PK, P: P, K: K, Epoch: epoch, Seed: 3}
		rows := order(mustBuild(t, pop, spec))
		if len(rows) != 7*P*K {
			t.Fatalf("epoch %d: %d batches, want 7", epoch, len(rows)/(P*K))
		}
		checkPKBatches(t, pop, spec, rows)
		for g := 0; g < len(rows); g += K {
			groups[pop.Labels[rows[g]]]++
		}
	}
	mean := float64(epochs*7*P) / identities // about 439
	for c, n := range groups {
		if math.Abs(float64(n)-mean) > 5*math.Sqrt(mean) {
			t.Errorf("identity %d got %d groups in %d epochs, want about %.0f", c, n, epochs, mean)
		}
	}
}

// TestPKFollowsQuotas checks that identities get groups in proportion to
// their quotas when every quota is a multiple of K.
func TestPKFollowsQuotas(t *testing.T) {
	const P, K = 4, 3
	pop := &Population{NumClasses: 12, Quotas: make([]int32, 12)}
	for c := range 12 {
		for range 2 + c {
			pop.Labels = append(pop.Labels, int32(c))
		}
		pop.Quotas[c] = int32(K * (1 + c%3))
	}
	for epoch := range 5 {
		spec := Spec{Mode: PK, P: P, K: K, Epoch: epoch, Seed: 42}
		rows := order(mustBuild(t, pop, spec))
		checkPKBatches(t, pop, spec, rows)
		got := make([]int32, pop.NumClasses)
		for _, row := range rows {
			got[pop.Labels[row]]++
		}
		if !slices.Equal(got, pop.Quotas) { // 24 groups fill 6 batches of 4 exactly
			t.Fatalf("epoch %d: draws per identity %v, want %v", epoch, got, pop.Quotas)
		}
	}
}

func TestWeightedFrequenciesFollowWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for trial := range 20 {
		rows := 2 + r.IntN(60)
		pop := &Population{Labels: make([]int32, rows), NumClasses: 1, Weights: make([]float32, rows), Fingerprint: r.Uint64()}
		for i := range pop.Weights {
			if r.IntN(6) > 0 {
				pop.Weights[i] = float32(r.ExpFloat64())
			}
		}
		pop.Weights[0] = 0.5
		spec := Spec{Mode: Weighted, Seed: r.Uint64(), Epoch: trial, EpochLen: 200_000}
		counts := make([]int, rows)
		for _, row := range order(mustBuild(t, pop, spec)) {
			counts[row]++
		}
		sum := 0.0
		for _, w := range pop.Weights {
			sum += float64(w)
		}
		chi2, df := 0.0, -1
		for row, w := range pop.Weights {
			want := float64(spec.EpochLen) * float64(w) / sum
			if w == 0 {
				if counts[row] != 0 {
					t.Fatalf("trial %d: row %d has weight 0 but was drawn %d times", trial, row, counts[row])
				}
				continue
			}
			d := float64(counts[row]) - want
			chi2 += d * d / want
			df++
		}
		if bound := chiSquareBound(df); chi2 > bound {
			t.Fatalf("trial %d: chi-square %.1f with %d degrees of freedom exceeds %.1f", trial, chi2, df, bound)
		}
	}
}

// chiSquareBound is the chi-square quantile with z = 4.75 (p ≈ 1e-6) by the
// Wilson–Hilferty approximation.
func chiSquareBound(df int) float64 {
	k := float64(max(df, 1))
	a := 2 / (9 * k)
	return k * math.Pow(1-a+4.75*math.Sqrt(a), 3)
}

// TestAliasTableIsExact checks that the table's implied probabilities equal
// the normalised weights, to fixed-point precision.
func TestAliasTableIsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range propertyCases {
		n := 1 + r.IntN(200)
		weights := make([]float32, n)
		for i := range weights {
			switch r.IntN(4) {
			case 0: // zero
			case 1:
				weights[i] = float32(r.IntN(1000)) // heavy
			default:
				weights[i] = r.Float32()
			}
		}
		weights[r.IntN(n)] = 0.25
		sum, err := checkWeights(weights, n)
		if err != nil {
			t.Fatal(err)
		}
		table := newAliasTable(weights, sum)
		mass := make([]float64, n)
		for col, e := range table {
			keep := float64(uint32(e>>aliasShift)) / float64(aliasOne)
			mass[col] += keep
			mass[e&aliasRow] += 1 - keep
		}
		for row, w := range weights {
			want := float64(w) / sum
			if got := mass[row] / float64(n); math.Abs(got-want) > 1e-7 {
				t.Fatalf("n=%d weights %v: row %d has probability %g, want %g", n, weights, row, got, want)
			}
		}
	}
}

func TestWeightedWithoutWeightsEqualsEqualWeights(t *testing.T) {
	pop := &Population{Labels: make([]int32, 1000), NumClasses: 1, Fingerprint: 7}
	spec := Spec{Mode: Weighted, Seed: 3, Epoch: 2}
	without := order(mustBuild(t, pop, spec))
	pop.Weights = slices.Repeat([]float32{0.3}, 1000)
	if with := order(mustBuild(t, pop, spec)); !slices.Equal(without, with) {
		t.Fatal("nil weights and equal weights give different epochs")
	}
}

// TestRanksPartitionTheEpoch checks that the ranks' batches, interleaved
// round by round, are exactly the epoch's batches in order: ranks are
// disjoint, their union is the epoch (less the dropped remainder, or plus the
// wrapped padding), and every rank has the same number of batches.
func TestRanksPartitionTheEpoch(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for range propertyCases {
		pop := randomPopulation(r)
		mode := Modes()[r.IntN(len(Modes()))]
		spec := randomSpec(r, mode)
		e, err := Build(pop, spec)
		if err != nil {
			continue // pk with too few identities, covered elsewhere
		}
		world, pad := 1+r.IntN(5), r.IntN(2) == 0
		batch := spec.P * spec.K
		if mode != PK {
			batch = 1 + r.IntN(min(e.Len(), 7))
		}
		if !pad && e.Len() < world*batch {
			pad = true // nothing to partition otherwise
		}
		plans := make([]*RankPlan, world)
		for rank := range world {
			plans[rank] = mustRank(t, e, world, rank, batch, pad)
		}
		batches := plans[0].Batches()
		var interleaved []int32
		for b := range batches {
			for _, p := range plans {
				if p.Batches() != batches || p.Len() != batches*batch {
					t.Fatalf("%s: ranks have unequal batches", describe(pop, spec))
				}
				for pos := b * batch; pos < (b+1)*batch; pos++ {
					interleaved = append(interleaved, p.At(pos))
				}
			}
		}
		full := order(e)
		var want []int32
		if pad {
			for len(want) < batches*world*batch {
				want = append(want, full...)
			}
			want = want[:batches*world*batch]
			if len(want)-len(full) >= world*batch {
				t.Fatalf("%s: padding added a whole round", describe(pop, spec))
			}
		} else if want = full[:batches*world*batch]; len(full)-len(want) >= world*batch {
			t.Fatalf("%s: dropped a whole round", describe(pop, spec))
		}
		if !slices.Equal(interleaved, want) {
			t.Fatalf("%s world=%d batch=%d pad=%v: interleaved ranks\n%v\nwant epoch\n%v", describe(pop, spec), world, batch, pad, interleaved, want)
		}
	}
}

// TestResume checks that a rank's plan read from any position equals the
// tail of its full plan, whatever the chunking.
func TestResume(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for range propertyCases {
		pop := randomPopulation(r)
		spec := randomSpec(r, Modes()[r.IntN(3)])
		e := mustBuild(t, pop, spec)
		batch := 1 + r.IntN(min(e.Len(), 9))
		world := 1 + r.IntN(4)
		pad := e.Len() < world*batch || r.IntN(2) == 0
		p := mustRank(t, e, world, r.IntN(world), batch, pad)
		full := make([]int32, p.Len()+5)
		if n := p.Fill(0, full); n != p.Len() {
			t.Fatalf("Fill(0) copied %d of %d", n, p.Len())
		}
		full = full[:p.Len()]
		for pos, row := range full {
			if p.At(pos) != row {
				t.Fatalf("At(%d) = %d, Fill gave %d", pos, p.At(pos), row)
			}
		}
		start := r.IntN(p.Len())
		var resumed []int32
		buf := make([]int32, 1+r.IntN(2*batch))
		for pos := start; ; {
			n := p.Fill(pos, buf)
			if n == 0 {
				break
			}
			resumed = append(resumed, buf[:n]...)
			pos += n
		}
		if !slices.Equal(resumed, full[start:]) {
			t.Fatalf("%s: resumed from %d in chunks of %d:\n%v\nwant\n%v", describe(pop, spec), start, len(buf), resumed, full[start:])
		}
	}
	pop := &Population{Labels: make([]int32, 10), NumClasses: 1}
	p := mustRank(t, mustBuild(t, pop, Spec{Mode: Uniform}), 1, 0, 2, false)
	if n := p.Fill(p.Len(), make([]int32, 4)); n != 0 {
		t.Errorf("Fill past the end copied %d", n)
	}
	if n := p.Fill(-1, make([]int32, 4)); n != 0 {
		t.Errorf("Fill(-1) copied %d", n)
	}
}

func TestBuildIsPure(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for range propertyCases / 3 {
		pop := randomPopulation(r)
		mode := Modes()[r.IntN(len(Modes()))]
		spec := randomSpec(r, mode)
		a, err := Build(pop, spec)
		if err != nil {
			continue
		}
		labels := slices.Clone(pop.Labels)
		b := mustBuild(t, pop, spec)
		if !slices.Equal(order(a), order(b)) {
			t.Fatalf("%s: two builds differ", describe(pop, spec))
		}
		if !slices.Equal(labels, pop.Labels) {
			t.Fatalf("%s: Build modified the labels", describe(pop, spec))
		}
	}
}

// TestSeedsChangeThePlan checks that seed, epoch and fingerprint each select
// a different plan.
func TestSeedsChangeThePlan(t *testing.T) {
	pop := &Population{NumClasses: 50}
	for c := range 50 {
		for range 20 {
			pop.Labels = append(pop.Labels, int32(c))
		}
	}
	for _, mode := range Modes() {
		spec := Spec{Mode: mode, Seed: 1, Epoch: 1, P: 4, K: 4}
		base := order(mustBuild(t, pop, spec))
		variants := map[string]func(*Population, *Spec){
			"seed":        func(_ *Population, s *Spec) { s.Seed++ },
			"epoch":       func(_ *Population, s *Spec) { s.Epoch++ },
			"fingerprint": func(p *Population, _ *Spec) { p.Fingerprint++ },
		}
		for name, change := range variants {
			p, s := *pop, spec
			change(&p, &s)
			if slices.Equal(base, order(mustBuild(t, &p, s))) {
				t.Errorf("%s: changing the %s kept the plan", mode, name)
			}
		}
	}
}

func TestBucketShuffleIsUniform(t *testing.T) {
	const n, bins, seeds = 3*bucketValues + 5, 16, 24 // four buckets
	var table [bins][bins]float64
	dst := make([]int32, n)
	for seed := range uint64(seeds) {
		sh := newBucketShuffle(dst, seed)
		if len(sh.next) != 4 {
			t.Fatalf("%d values use %d buckets, want 4", n, len(sh.next))
		}
		for v := range int32(n) {
			sh.put(v)
		}
		sh.finish()
		seen := make([]bool, n)
		for pos, v := range dst {
			if seen[v] {
				t.Fatalf("seed %d: value %d twice", seed, v)
			}
			seen[v] = true
			table[int(v)*bins/n][pos*bins/n]++
		}
	}
	// Every value bin spreads evenly over the position bins.
	chi2, want := 0.0, float64(n)*seeds/(bins*bins)
	for _, row := range table {
		for _, got := range row {
			chi2 += (got - want) * (got - want) / want
		}
	}
	if bound := chiSquareBound((bins - 1) * (bins - 1)); chi2 > bound {
		t.Fatalf("value×position chi-square %.1f exceeds %.1f", chi2, bound)
	}
}

func TestEpochIsSafeForConcurrentReaders(t *testing.T) {
	pop := &Population{Labels: make([]int32, 5000), NumClasses: 1}
	e := mustBuild(t, pop, Spec{Mode: Uniform, Seed: 9})
	const world, batch, readers = 4, 10, 16
	read := func(r int) ([]int32, error) { // reader r: rank r%world, padded when r is odd
		p, err := e.Rank(world, r%world, batch, r%2 == 1)
		if err != nil {
			return nil, err
		}
		rows := make([]int32, p.Len())
		p.Fill(0, rows)
		for pos, row := range rows {
			if p.At(pos) != row {
				return nil, fmt.Errorf("At(%d) = %d, Fill gave %d", pos, p.At(pos), row)
			}
		}
		return rows, nil
	}
	want := make([][]int32, readers)
	for r := range readers {
		var err error
		if want[r], err = read(r); err != nil {
			t.Fatal(err)
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	got := make([][]int32, readers)
	errs := make([]error, readers)
	for r := range readers {
		wg.Go(func() {
			<-start // all at once, for the race detector to see them overlap
			got[r], errs[r] = read(r)
		})
	}
	close(start)
	wg.Wait()
	for r := range readers {
		if errs[r] != nil || !slices.Equal(got[r], want[r]) {
			t.Errorf("reader %d read concurrently differs from the same read alone (err %v)", r, errs[r])
		}
	}
}
