// Package offline runs the offline stages of the method on a raw dataset: S2 embeds every photo
// with the pre-model and keeps each identity's base (cosine to its centre above t), S3 augments
// the base and keeps candidates whose cosine lies in (a, b), S4 sets quotas and weights and writes
// the equalized dataset with its report. A stage runner records a fingerprint of each stage's
// inputs and parameters beside its outputs, so a rerun skips what is done and redoes what is not.
package offline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/offline/embed"
	"github.com/facestream/facestream/offline/evaluate"
)

// Pipeline runs the offline stages of one raw dataset into one equalized dataset.
type Pipeline struct {
	Dataset string       // raw dataset folder
	Out     string       // equalized dataset folder
	Work    string       // stage outputs and records; "" → Out/.work
	Config  Config       // every parameter
	Log     *slog.Logger // nil → slog.Default()
	// Progress, when set, is told how far a long step has gone: done of total units (unit) of
	// task ("S2 embed", "S3 augment"). It is called from one goroutine at a time.
	Progress func(task, unit string, done, total int)
	Force    bool // replace a dataset in Out that an offline run of Dataset did not write
	// DatasetName is how the outputs name the raw dataset (its s3:// location when Dataset is a
	// local copy of it); "" → Dataset's absolute path.
	DatasetName string
}

// Run runs every stage on the whole dataset, skipping those already done. Every stage function
// takes a context: a cancelled one stops the run before the next stage (or S3's next chunk of
// identities) begins; what is written stays valid, as a killed run's does.
func (p *Pipeline) Run(ctx context.Context) error {
	return p.session(ctx, func(s *session) error {
		if _, err := s.embed(ctx, Part{0, 1}); err != nil {
			return err
		}
		if _, err := s.selectStage(ctx, 1); err != nil {
			return err
		}
		if _, err := s.augment(ctx, Part{0, 1}, 1); err != nil {
			return err
		}
		return s.equalize(ctx, 1)
	})
}

// Embed runs S2's embedding of one part of the identities.
func (p *Pipeline) Embed(ctx context.Context, part Part) error {
	return p.session(ctx, func(s *session) error { _, err := s.embed(ctx, part); return err })
}

// Select runs S2's selection over every embedded part.
func (p *Pipeline) Select(ctx context.Context) error {
	return p.session(ctx, func(s *session) error { _, err := s.selectStage(ctx, 0); return err })
}

// SelectPart runs one part of S2's nearest-centre check, for select to merge.
func (p *Pipeline) SelectPart(ctx context.Context, part Part) error {
	return p.session(ctx, func(s *session) error { return s.selectPart(ctx, part) })
}

// Augment runs S3 on one part of the identities.
func (p *Pipeline) Augment(ctx context.Context, part Part) error {
	return p.session(ctx, func(s *session) error { _, err := s.augment(ctx, part, 0); return err })
}

// Equalize runs S4 over every augmented part and writes the equalized dataset and its report.
func (p *Pipeline) Equalize(ctx context.Context) error {
	return p.session(ctx, func(s *session) error { return s.equalize(ctx, 0) })
}

// session is one invocation: the open raw dataset, the stage records, the embedder when needed.
type session struct {
	cfg       Config
	ds        *arrowio.Dataset
	dataset   string // raw dataset folder, absolute
	source    string // how the outputs name it: Pipeline.DatasetName or dataset
	out, work string // absolute
	stages    *stages
	log       *slog.Logger
	progress  func(task, unit string, done, total int)
	rawFP     string // the raw dataset's fingerprint
	modelFP   string // sha256 of the model file; "" until needed
	embedder  *embed.Embedder
	truth     *evaluate.Truth // the planted noise's truth that matches the dataset, for the report; nil: none
}

func (p *Pipeline) session(ctx context.Context, fn func(s *session) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Config.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if p.Out == "" {
		return errors.New("no output folder")
	}
	s := &session{cfg: p.Config, log: p.Log, progress: p.Progress}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.out, err = filepath.Abs(p.Out); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	s.work = filepath.Join(s.out, ".work")
	if p.Work != "" {
		if s.work, err = filepath.Abs(p.Work); err != nil {
			return fmt.Errorf("work folder: %w", err)
		}
	}
	if s.dataset, err = filepath.Abs(p.Dataset); err != nil {
		return fmt.Errorf("dataset folder: %w", err)
	}
	s.source = cmp.Or(p.DatasetName, s.dataset)
	if s.dataset == s.out {
		return fmt.Errorf("output folder %s is the raw dataset itself", p.Out)
	}
	if err := checkWorkFolder(s.work, s.out, s.dataset); err != nil {
		return fmt.Errorf("%w: give another (the default is %s)", err, filepath.Join(p.Out, ".work"))
	}
	if err := checkOutput(s.out, s.source, p.Force); err != nil {
		return err
	}
	s.ds, err = arrowio.Open(s.dataset)
	if err != nil {
		return fmt.Errorf("open raw dataset: %w", err)
	}
	defer s.ds.Close()
	if kind := s.ds.Manifest().Kind; kind != arrowio.KindRaw {
		return fmt.Errorf("dataset %s is %s; the offline stages start from a raw dataset", p.Dataset, kind)
	}
	if s.ds.Len() == 0 {
		return fmt.Errorf("dataset %s has no photos", p.Dataset)
	}
	if s.truth, err = s.findTruth(); err != nil {
		return err
	}
	s.rawFP = strconv.FormatUint(s.ds.Fingerprint(), 16)
	s.stages = &stages{dir: filepath.Join(s.work, "stages"), log: s.log}
	defer func() {
		if s.embedder != nil {
			if cerr := s.embedder.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("close embedder: %w", cerr)
			}
		}
	}()
	return fn(s)
}

// model returns the sha256 of the model file, which every stage that embeds records.
func (s *session) model() (string, error) {
	if s.modelFP != "" {
		return s.modelFP, nil
	}
	if s.cfg.Model == "" {
		return "", errors.New("no model: give --model M.onnx or model: in the config")
	}
	info, err := arrowio.HashFile(s.cfg.Model)
	if err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	s.modelFP = info.SHA256
	return s.modelFP, nil
}

// embedderFor opens the ONNX Runtime session on first use: a stage that is skipped never loads it.
func (s *session) embedderFor() (*embed.Embedder, error) {
	if s.embedder != nil {
		return s.embedder, nil
	}
	c := s.cfg.Embed
	e, err := embed.Open(embed.Options{Model: s.cfg.Model, Library: s.cfg.OrtLib, Batch: c.Batch, Mean: c.Mean,
		Std: c.Std, BGR: c.BGR, Threads: c.Threads, Workers: c.Workers})
	if err != nil {
		return nil, fmt.Errorf("open model %s: %w", s.cfg.Model, err)
	}
	s.embedder = e
	return e, nil
}

// progressOf returns the callback reporting task's progress over total units to the Pipeline's
// Progress, or nil when there is none to report to.
func (s *session) progressOf(task, unit string, total int) func(done int) {
	if s.progress == nil || total == 0 {
		return nil
	}
	return func(done int) { s.progress(task, unit, done, total) }
}

// embedParams are the embedding settings that change an embedding (threads and workers do not).
type embedParams struct {
	Batch int        `json:"batch"`
	Mean  [3]float32 `json:"mean"`
	Std   [3]float32 `json:"std"`
	BGR   bool       `json:"bgr"`
}

func (s *session) embedParams() embedParams {
	c := s.cfg.Embed
	return embedParams{Batch: c.Batch, Mean: c.Mean, Std: c.Std, BGR: c.BGR}
}

// partName is a stage's record name for one part.
func partName(kind string, p Part) string { return kind + "-" + p.String() }

// completeParts finds the records of every part of a split stage (kind "embed" or "augment") and
// returns them in part order. count 0 accepts any split that is complete and current, the newest
// when several are; a stage that is incomplete names the parts still to run.
func (s *session) completeParts(kind string, count int, spec func(Part) (*stageSpec, error)) ([]*record, error) {
	entries, err := os.ReadDir(s.stages.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list stage records: %w", err)
	}
	counts := map[int]bool{}
	if count > 0 {
		counts[count] = true
	}
	for _, e := range entries {
		var p Part
		if _, err := fmt.Sscanf(e.Name(), kind+"-%05d-of-%05d.json", &p.Index, &p.Count); err == nil && count == 0 {
			counts[p.Count] = true
		}
	}
	var best []*record
	var bestTime int64
	var missing []string
	for _, n := range slices.Sorted(maps.Keys(counts)) {
		recs, newest, absent, err := s.partRecords(kind, n, spec)
		if err != nil {
			return nil, err
		}
		if len(absent) > 0 {
			missing = append(missing, absent...)
			continue
		}
		if best == nil || newest > bestTime {
			best, bestTime = recs, newest
		}
	}
	if best == nil {
		if len(missing) == 0 {
			missing = []string{kind}
		}
		return nil, fmt.Errorf("stage %s is not done: run `facestream offline %s` (for a split run, every --part i/N); missing or stale: %s",
			kind, kind, strings.Join(missing, ", "))
	}
	return best, nil
}

// partRecords checks the n records of a split stage, returning them, the newest record's time and
// the names of the parts that are missing or stale.
func (s *session) partRecords(kind string, n int, spec func(Part) (*stageSpec, error)) ([]*record, int64, []string, error) {
	var recs []*record
	var newest int64
	var absent []string
	for i := range n {
		sp, err := spec(Part{i, n})
		if err != nil {
			return nil, 0, nil, err
		}
		rec, stale, err := s.stages.current(sp)
		if err != nil {
			return nil, 0, nil, err
		}
		if rec == nil {
			absent = append(absent, sp.name+" ("+stale+")")
			continue
		}
		if fi, err := os.Stat(s.stages.path(sp.name)); err == nil {
			newest = max(newest, fi.ModTime().UnixNano())
		}
		recs = append(recs, rec)
	}
	return recs, newest, absent, nil
}

// fingerprints lists the output fingerprints of records, the inputs of the stage that reads them.
func fingerprints(recs ...*record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.outputsFingerprint()
	}
	return out
}

// checkWorkFolder refuses a work folder that S4 would delete or that would write into a dataset:
// the output itself, a folder of it that S4 clears, or the raw dataset or anything in it.
func checkWorkFolder(work, out, dataset string) error {
	inside := func(dir, root string) bool { // dir is root or below it
		rel, err := filepath.Rel(root, dir)
		return err == nil && filepath.IsLocal(rel)
	}
	if work == out {
		return fmt.Errorf("work folder %s is the output folder", work)
	}
	if inside(work, dataset) {
		return fmt.Errorf("work folder %s is inside the raw dataset %s", work, dataset)
	}
	for _, name := range arrowio.ClearedNames() {
		if cleared := filepath.Join(out, name); inside(work, cleared) {
			return fmt.Errorf("work folder %s is inside %s, which S4 clears", work, cleared)
		}
	}
	return nil
}

// checkOutput refuses to replace a dataset in out unless an offline run of dataset wrote it (a
// rerun updates its own output) or force is set: S4 writes out from scratch.
func checkOutput(out, dataset string, force bool) error {
	m, err := arrowio.ReadManifest(out)
	if errors.Is(err, arrowio.ErrNotDataset) || force {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output folder %s holds a dataset that cannot be read (use --force to replace it): %w", out, err)
	}
	if m.Kind != arrowio.KindEqualized || m.Source != dataset {
		return fmt.Errorf("output folder %s holds a %s dataset from %s, not an earlier run of %s: use --force to replace it",
			out, m.Kind, m.Source, dataset)
	}
	return nil
}
