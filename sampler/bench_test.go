package sampler

import (
	"flag"
	"fmt"
	"math"
	"runtime"
	"testing"
)

var large = flag.Bool("sampler.large", false, "benchmark at Glint360K and WebFace42M sizes (GBs of memory, minutes)")

// benchSize is a dataset size to benchmark at.
type benchSize struct {
	name             string
	rows, identities int
}

func benchSizes() []benchSize {
	if !*large {
		return []benchSize{{"small", 1_000_000, 50_000}}
	}
	return []benchSize{
		{"glint360k", 17_100_000, 360_000},
		{"webface42m", 42_500_000, 2_060_000},
	}
}

// longTailedPopulation makes rows grouped by identity (as datasets are written)
// with Pareto-distributed identity sizes (shape 1.6, at least one photo each),
// identity sizes in scrambled label order, and class-balancing weights
// 1/size. At WebFace42M size the largest identity has tens of thousands of
// photos and the median about a dozen.
func longTailedPopulation(rows, identities int) *Population {
	const shape = 1.6
	raw := make([]float64, identities)
	sum := 0.0
	for c := range raw {
		rank := c * 1_000_003 % identities // scramble sizes over labels
		raw[c] = math.Pow(float64(rank+1)/float64(identities), -1/shape)
		sum += raw[c]
	}
	sizes := make([]int, identities)
	left := rows
	for c, w := range raw {
		sizes[c] = 1 + int(w/sum*float64(rows-identities))
		left -= sizes[c]
	}
	for c := 0; left > 0; c, left = c+1, left-1 {
		sizes[c]++
	}
	pop := &Population{Labels: make([]int32, 0, rows), NumClasses: identities, Weights: make([]float32, 0, rows), Fingerprint: 0x5eed}
	for c, n := range sizes {
		for range n {
			pop.Labels = append(pop.Labels, int32(c))
			pop.Weights = append(pop.Weights, 1/float32(n))
		}
	}
	return pop
}

// BenchmarkBuild measures building one epoch plan (run it with -cpu 1: Build
// uses one core). Metrics:
// s/build, alloc-B/sample (bytes Build allocates per dataset row: its peak
// memory at most) and held-B/sample (the epoch's order per row).
func BenchmarkBuild(b *testing.B) {
	for _, size := range benchSizes() {
		pop := longTailedPopulation(size.rows, size.identities)
		for _, spec := range []Spec{
			{Mode: Uniform},
			{Mode: Balanced},
			{Mode: Weighted},
			{Mode: PK, P: 64, K: 4},
		} {
			b.Run(fmt.Sprintf("%s/%s", size.name, spec.Mode), func(b *testing.B) {
				benchmarkBuild(b, pop, spec)
			})
		}
		// Balanced on rows not grouped by identity pays for a row index.
		scattered := *pop
		scattered.Labels = make([]int32, len(pop.Labels))
		for i := range scattered.Labels {
			scattered.Labels[i] = pop.Labels[i*7919%len(pop.Labels)]
		}
		b.Run(size.name+"/balanced-scattered", func(b *testing.B) {
			benchmarkBuild(b, &scattered, Spec{Mode: Balanced})
		})
	}
}

func benchmarkBuild(b *testing.B, pop *Population, spec Spec) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var e *Epoch
	for b.Loop() {
		spec.Epoch++
		var err error
		if e, err = Build(pop, spec); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	rows := float64(len(pop.Labels))
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/build")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/rows, "alloc-B/sample")
	b.ReportMetric(float64(4*e.Len())/rows, "held-B/sample")
	b.ReportMetric(float64(e.Len()), "draws")
}

// BenchmarkRankFill measures ids per second through a rank's plan, read a
// batch at a time as a server does.
func BenchmarkRankFill(b *testing.B) {
	const world, batch = 8, 256
	pop := &Population{Labels: make([]int32, 4_000_000), NumClasses: 1}
	e, err := Build(pop, Spec{Mode: Uniform})
	if err != nil {
		b.Fatal(err)
	}
	for _, pad := range []bool{false, true} {
		b.Run(fmt.Sprintf("pad=%v", pad), func(b *testing.B) {
			p, err := e.Rank(world, 3, batch, pad)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]int32, batch)
			pos := 0
			for b.Loop() {
				if p.Fill(pos, buf) < batch {
					pos = 0
					continue
				}
				pos += batch
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "ids/s")
		})
	}
}

// BenchmarkRankAt measures random access to single positions.
func BenchmarkRankAt(b *testing.B) {
	pop := &Population{Labels: make([]int32, 4_000_000), NumClasses: 1}
	e, err := Build(pop, Spec{Mode: Uniform})
	if err != nil {
		b.Fatal(err)
	}
	p, err := e.Rank(8, 3, 256, true)
	if err != nil {
		b.Fatal(err)
	}
	sum, pos := int32(0), 0
	for b.Loop() {
		sum += p.At(pos)
		if pos += 1; pos == p.Len() {
			pos = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ids/s")
	_ = sum
}
