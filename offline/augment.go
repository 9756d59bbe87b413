package offline

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/augment"
	"github.com/facestream/facestream/internal/splitmix"
	"github.com/facestream/facestream/offline/embed"
	"github.com/facestream/facestream/offline/recipe"
	"github.com/facestream/facestream/offline/report"
)

// augmentChunk is how many identities S3 works on at once: enough candidates per round to keep
// the embedder's batches full, few enough decoded photos to bound memory.
const augmentChunk = 256

// Candidate cosines are histogrammed on fixed bins so the parts of a split run add up.
const (
	cosineBins = 200
	cosineLo   = -1.0
	cosineHi   = 1.0
)

func augmentFile(p Part) string { return filepath.Join("augment", "part-"+p.String()+".arrow") }

func augmentSchema(dim int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "label", Type: arrow.PrimitiveTypes.Int32},
		{Name: "parent", Type: arrow.PrimitiveTypes.Int64},
		{Name: "recipe", Type: arrow.BinaryTypes.String},
		{Name: "sim", Type: arrow.PrimitiveTypes.Float32},
		{Name: "image", Type: arrow.BinaryTypes.Binary},
		arrowio.EmbeddingField(dim),
	}, nil)
}

// augmentStats is what S3 records for S4 and the report, per identity of its part.
type augmentStats struct {
	Lo       int              `json:"lo"` // first label of the part
	A        float64          `json:"a"`
	B        float64          `json:"b"`
	Target   int              `json:"target"`
	Wanted   []int            `json:"wanted"`
	Attempts []int            `json:"attempts"`
	Accepted []int            `json:"accepted"`
	Cosine   report.Histogram `json:"cosine"` // every judged candidate's cosine
}

func (s *session) augmentSpec(part Part, selected *record) (*stageSpec, error) {
	model, err := s.model()
	if err != nil {
		return nil, err
	}
	return &stageSpec{name: partName("augment", part), inputs: []string{s.rawFP, selected.outputsFingerprint()},
		model: model, root: s.work,
		params: struct {
			Augment AugmentConfig `json:"augment"`
			Seed    uint64        `json:"seed"`
			Target  Spec          `json:"target"` // n "auto" fills up to S4's target
			Embed   embedParams   `json:"embed"`
			Part    Part          `json:"part"`
		}{s.cfg.Augment, s.cfg.Seed, s.cfg.Equalize.Target, s.embedParams(), part}}, nil
}

// currentSelect returns S2's selection record, which must be up to date with the embedded parts
// (count of them; 0: whichever split is complete), and those parts' records.
func (s *session) currentSelect(count int) (*record, []*record, error) {
	embedded, err := s.completeParts("embed", count, s.embedSpec)
	if err != nil {
		return nil, nil, err
	}
	rec, stale, err := s.stages.current(s.selectSpec(embedded))
	if err != nil {
		return nil, nil, err
	}
	if rec == nil {
		return nil, nil, fmt.Errorf("stage select is not done (%s): run `facestream offline select` first", stale)
	}
	return rec, embedded, nil
}

// augment is S3 on one part of the identities, after S2 over embedCount parts (0: whichever
// split is complete).
func (s *session) augment(ctx context.Context, part Part, embedCount int) (*record, error) {
	selRec, _, err := s.currentSelect(embedCount)
	if err != nil {
		return nil, err
	}
	spec, err := s.augmentSpec(part, selRec)
	if err != nil {
		return nil, err
	}
	return s.stages.run(ctx, spec, func() ([]string, any, error) {
		sel, err := s.readSelection(selRec)
		if err != nil {
			return nil, nil, err
		}
		jobs, st, err := s.augmentJobs(part, sel)
		if err != nil {
			return nil, nil, err
		}
		e, err := s.embedderFor()
		if err != nil {
			return nil, nil, err
		}
		if e.Dim() != sel.dim {
			return nil, nil, fmt.Errorf("the model gives %d-d embeddings, S2's centres are %d-d", e.Dim(), sel.dim)
		}
		progress := s.progressOf("S3 augment", "identities", len(jobs))
		var sims []float32
		for start := 0; start < len(jobs); start += augmentChunk {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			chunk := jobs[start:min(start+augmentChunk, len(jobs))]
			if err := s.augmentChunk(chunk, e, st.A, st.B, &sims); err != nil {
				return nil, nil, err
			}
			for _, j := range chunk {
				j.parents, j.images = nil, nil // the decoded photos are done with
			}
			if progress != nil {
				progress(start + len(chunk))
			}
		}
		for _, j := range jobs {
			st.Attempts = append(st.Attempts, j.attempts)
			st.Accepted = append(st.Accepted, len(j.kept))
		}
		st.Cosine = report.HistogramOf(sims, cosineLo, cosineHi, cosineBins)
		rel := augmentFile(part)
		if err := writeAugmented(filepath.Join(s.work, rel), jobs, sel.dim); err != nil {
			return nil, nil, err
		}
		return []string{rel}, st, nil
	})
}

// augmentJob is S3's work on one identity.
type augmentJob struct {
	label       int
	center      []float32
	parents     []int         // dataset rows of the base, most central first
	images      []image.Image // decoded parents, filled as they are first used
	want        int
	maxAttempts int
	rng         *rand.Rand
	generated   int // candidates made, judged or not
	attempts    int // candidates judged
	round       []candidate
	kept        []candidate
}

type candidate struct {
	parent int64
	recipe string
	image  []byte
	sim    float32
	emb    []float32
}

func (j *augmentJob) active() bool { return len(j.kept) < j.want && j.attempts < j.maxAttempts }

// augmentJobs sets up the identities of a part: their base, how many candidates they want and may try.
func (s *session) augmentJobs(part Part, sel *selected) ([]*augmentJob, *augmentStats, error) {
	classes := s.ds.NumClasses()
	clean := sel.cleanSizes(classes)
	target, err := targetSize(s.cfg.Equalize.Target, clean)
	if err != nil {
		return nil, nil, fmt.Errorf("equalize.target: %w", err)
	}
	baseCos := sel.baseCosines()
	named := map[string]float64{"t": sel.t}
	a, err := s.cfg.Augment.A.Resolve(baseCos, named)
	if err != nil {
		return nil, nil, fmt.Errorf("augment.a: %w", err)
	}
	b, err := s.cfg.Augment.B.Resolve(baseCos, named)
	if err != nil {
		return nil, nil, fmt.Errorf("augment.b: %w", err)
	}
	if a >= b {
		return nil, nil, fmt.Errorf("augment: a = %.4f (%s) is not below b = %.4f (%s): no candidate could be kept", a, s.cfg.Augment.A, b, s.cfg.Augment.B)
	}
	fixed, err := s.cfg.Augment.fixedN()
	if err != nil {
		return nil, nil, err
	}
	lo, hi := part.Labels(classes)
	st := &augmentStats{Lo: lo, A: a, B: b, Target: target}
	jobs := make([]*augmentJob, 0, hi-lo)
	byLabel := rowsByClass(sel.labels, classes)
	for c := lo; c < hi; c++ {
		var base []int // rows of sel
		for _, i := range byLabel[c] {
			if sel.base[i] {
				base = append(base, i)
			}
		}
		slices.SortStableFunc(base, func(x, y int) int { return cmp.Compare(sel.cosine[y], sel.cosine[x]) })
		j := &augmentJob{label: c, center: sel.center(c), rng: labelRand(s.cfg.Seed, c)}
		for _, i := range base {
			row, ok := s.ds.Row(sel.ids[i])
			if !ok {
				return nil, nil, fmt.Errorf("S2's photo %d is not in the dataset", sel.ids[i])
			}
			j.parents = append(j.parents, row)
		}
		j.images = make([]image.Image, len(j.parents))
		if len(base) > 0 {
			j.want = fixed
			if fixed < 0 {
				j.want = max(0, target-len(base))
			}
		}
		j.maxAttempts = s.cfg.Augment.Attempts * j.want
		st.Wanted = append(st.Wanted, j.want)
		jobs = append(jobs, j)
	}
	return jobs, st, nil
}

// labelRand is identity c's random stream: S3's output depends on (seed, label) only, not on
// which part or worker handles the identity.
func labelRand(seed uint64, label int) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix.Step(seed), splitmix.Step(seed^splitmix.Step(uint64(label)+1))))
}

// augmentChunk runs rounds over a chunk of identities until each has what it wants or has spent
// its attempts: make candidates (in parallel, one identity per goroutine), embed them all in one
// call so the batches stay full, judge each identity's candidates in order. sims collects the
// cosine of every judged candidate.
func (s *session) augmentChunk(jobs []*augmentJob, e *embed.Embedder, a, b float64, sims *[]float32) error {
	for {
		var active []*augmentJob
		for _, j := range jobs {
			if j.active() {
				active = append(active, j)
			}
		}
		if len(active) == 0 {
			return nil
		}
		if err := s.generate(active); err != nil {
			return err
		}
		var round []*candidate
		for _, j := range active {
			for i := range j.round {
				round = append(round, &j.round[i])
			}
		}
		out := make([]float32, len(round)*e.Dim())
		if err := e.Embed(len(round), func(i int) []byte { return round[i].image }, out, nil); err != nil {
			return fmt.Errorf("embed augmented candidates: %w", err)
		}
		for i, c := range round {
			c.emb = out[i*e.Dim() : (i+1)*e.Dim()]
		}
		for _, j := range active {
			for _, c := range j.round {
				if !j.active() {
					break // the rest of the round is not needed
				}
				c.sim = dot(c.emb, j.center)
				j.attempts++
				*sims = append(*sims, c.sim)
				if float64(c.sim) > a && float64(c.sim) < b {
					c.emb = slices.Clone(c.emb) // the round's buffer is dropped
					j.kept = append(j.kept, c)
				}
			}
			j.round = nil
		}
	}
}

// generate makes each active identity's next round of candidates: twice what it still needs,
// within its attempts, parents taken in turn from its most central photo on.
func (s *session) generate(active []*augmentJob) error {
	var next atomic.Int64
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(active) || errs[w] != nil {
					return
				}
				errs[w] = s.generateFor(active[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *session) generateFor(j *augmentJob) error {
	cfg := s.cfg.Augment
	k := min(j.maxAttempts-j.attempts, 2*(j.want-len(j.kept)))
	for range k {
		p := j.generated % len(j.parents)
		j.generated++
		row := j.parents[p]
		if j.images[p] == nil {
			img, err := augment.DecodeImage(s.ds.Image(row))
			if err != nil {
				return fmt.Errorf("decode photo %d (%s): %w", s.ds.ID(row), s.ds.Source(row), err)
			}
			j.images[p] = img
		}
		rc := recipe.Random(j.rng, cfg.MinOps, cfg.MaxOps)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, rc.Apply(j.images[p]), &jpeg.Options{Quality: cfg.Quality}); err != nil {
			return fmt.Errorf("encode augmentation of photo %d: %w", s.ds.ID(row), err)
		}
		j.round = append(j.round, candidate{parent: s.ds.ID(row), recipe: rc.String(), image: buf.Bytes()})
	}
	return nil
}

func writeAugmented(path string, jobs []*augmentJob, dim int) error {
	return writeArrow(path, augmentSchema(dim), func(b *array.RecordBuilder) {
		for _, j := range jobs {
			for _, c := range j.kept {
				b.Field(0).(*array.Int32Builder).Append(int32(j.label))
				b.Field(1).(*array.Int64Builder).Append(c.parent)
				b.Field(2).(*array.StringBuilder).Append(c.recipe)
				b.Field(3).(*array.Float32Builder).Append(c.sim)
				b.Field(4).(*array.BinaryBuilder).Append(c.image)
				appendEmbeddings(b.Field(5).(*array.FixedSizeListBuilder), c.emb, dim)
			}
		}
	})
}

// augmented are S3's kept candidates as S4 reads them, in label order.
type augmented struct {
	labels  []int32
	parents []int64
	recipes []string
	sims    []float32
	images  [][]byte
	emb     []float32
}

func readAugmented(path string, into *augmented) error {
	return readArrow(path, func(r arrow.RecordBatch) error {
		dim, err := arrowio.EmbeddingWidth(r.Schema(), 5)
		if err != nil {
			return err
		}
		if want := augmentSchema(dim); !r.Schema().Equal(want) {
			return fmt.Errorf("schema %s, want %s", r.Schema(), want)
		}
		into.labels = append(into.labels, r.Column(0).(*array.Int32).Int32Values()...)
		into.parents = append(into.parents, r.Column(1).(*array.Int64).Int64Values()...)
		recipes, images := r.Column(2).(*array.String), r.Column(4).(*array.Binary)
		for i := range int(r.NumRows()) {
			into.recipes = append(into.recipes, recipes.Value(i))
			into.images = append(into.images, slices.Clone(images.Value(i)))
		}
		into.sims = append(into.sims, r.Column(3).(*array.Float32).Float32Values()...)
		into.emb = append(into.emb, embeddingValues(r.Column(5), dim)...)
		return nil
	})
}
