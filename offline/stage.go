package offline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/facestream/facestream/arrowio"
)

// record is the small JSON a stage writes beside its outputs once they are all in place: what it
// was computed from and what it wrote. A stage whose record matches its inputs and whose outputs
// still hash as recorded is skipped.
type record struct {
	Stage       string             `json:"stage"`
	Fingerprint string             `json:"fingerprint"`
	Inputs      []string           `json:"inputs"` // fingerprints of what the stage read
	Params      any                `json:"params"`
	Model       string             `json:"model,omitempty"`
	Root        string             `json:"root"`    // folder the outputs are relative to
	Outputs     []arrowio.FileInfo `json:"outputs"` // Rows unused
	Seconds     float64            `json:"seconds"`
	Stats       json.RawMessage    `json:"stats,omitempty"`
}

// stageSpec says what a stage is computed from; its fingerprint decides whether it reruns.
type stageSpec struct {
	name   string   // record name, e.g. "select" or "embed-00000-of-00001"
	inputs []string // fingerprints of the inputs (dataset, upstream outputs)
	params any      // everything that changes the output
	model  string   // sha256 of the model, if the stage uses one
	root   string   // folder the outputs are written under
}

// stageVersion is bumped when a stage's code changes what it writes, so that outputs of the old
// code are not taken for current.
func stageVersion(kind string) int {
	switch kind {
	case "select":
		return 5 // every photo against every centre, t: auto, relabel, weak-model guard, cosine.arrow columns
	case "equalize":
		return 2 // relabeled photos, the report's per-kind truth and impostor distribution
	default:
		return 1
	}
}

func (s *stageSpec) fingerprint() (string, error) {
	kind := stageKind(s.name)
	data, err := json.Marshal(struct {
		Stage   string   `json:"stage"`
		Version int      `json:"version"`
		Inputs  []string `json:"inputs"`
		Params  any      `json:"params"`
		Model   string   `json:"model"`
	}{kind, stageVersion(kind), s.inputs, s.params, s.model})
	if err != nil {
		return "", fmt.Errorf("fingerprint stage %s: %w", s.name, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// stageKind is a record name without its part suffix.
func stageKind(name string) string {
	kind, _, _ := strings.Cut(name, "-")
	return kind
}

// stages keeps the records of one work folder.
type stages struct {
	dir string // work/stages
	log *slog.Logger
}

func (st *stages) path(name string) string { return filepath.Join(st.dir, name+".json") }

// load reads a stage's record; nil when there is none.
func (st *stages) load(name string) (*record, error) {
	data, err := os.ReadFile(st.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read stage record: %w", err)
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("stage record %s: %w", st.path(name), err)
	}
	return &rec, nil
}

// current returns the record of a stage when it matches spec and every output is intact, else the
// reason it is stale.
func (st *stages) current(spec *stageSpec) (*record, string, error) {
	fp, err := spec.fingerprint()
	if err != nil {
		return nil, "", err
	}
	rec, err := st.load(spec.name)
	switch {
	case err != nil:
		return nil, "", err
	case rec == nil:
		return nil, "not run yet", nil
	case rec.Fingerprint != fp:
		return nil, "inputs or parameters changed", nil
	case rec.Root != spec.root:
		return nil, "output folder changed", nil
	}
	for _, out := range rec.Outputs {
		got, err := arrowio.HashFile(filepath.Join(rec.Root, out.File))
		if errors.Is(err, os.ErrNotExist) {
			return nil, out.File + " is missing", nil
		}
		if err != nil {
			return nil, "", err
		}
		if got.Bytes != out.Bytes || got.SHA256 != out.SHA256 {
			return nil, out.File + " differs from what the stage wrote", nil
		}
	}
	return rec, "", nil
}

// run runs a stage unless its record is current. work writes the outputs (atomically, under
// spec.root) and returns their paths relative to spec.root with the stage's statistics.
func (st *stages) run(ctx context.Context, spec *stageSpec, work func() (outputs []string, stats any, err error)) (*record, error) {
	rec, stale, err := st.current(spec)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		st.log.Info("stage up to date, skipped", "stage", spec.name)
		return rec, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("stage %s: %w", spec.name, err)
	}
	st.log.Info("stage running", "stage", spec.name, "why", stale)
	// A record must never outlive the outputs it vouches for.
	if err := os.Remove(st.path(spec.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("stage %s: %w", spec.name, err)
	}
	start := time.Now()
	outputs, stats, err := work()
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", spec.name, err)
	}
	fp, err := spec.fingerprint()
	if err != nil {
		return nil, err
	}
	rec = &record{Stage: spec.name, Fingerprint: fp, Inputs: spec.inputs, Params: spec.params, Model: spec.model,
		Root: spec.root, Seconds: time.Since(start).Seconds()}
	slices.Sort(outputs)
	for _, out := range outputs {
		info, err := arrowio.HashFile(filepath.Join(spec.root, out))
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", spec.name, err)
		}
		info.File = out
		rec.Outputs = append(rec.Outputs, info)
	}
	if rec.Stats, err = json.Marshal(stats); err != nil {
		return nil, fmt.Errorf("stage %s: encode statistics: %w", spec.name, err)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("stage %s: encode record: %w", spec.name, err)
	}
	if err := arrowio.WriteFileAtomic(st.path(spec.name), append(data, '\n')); err != nil {
		return nil, fmt.Errorf("stage %s: %w", spec.name, err)
	}
	st.log.Info("stage done", "stage", spec.name, "seconds", fmt.Sprintf("%.2f", rec.Seconds))
	return rec, nil
}

// outputsFingerprint identifies what a stage wrote, for the stages that read it: its outputs, and
// also its own fingerprint and statistics, because later stages read those too (the resolved t,
// the parameters the report shows) and a changed parameter may leave the files as they were.
func (r *record) outputsFingerprint() string {
	h := sha256.New()
	var stats bytes.Buffer // compact: a record read back from disk has them indented
	if len(r.Stats) > 0 {
		if err := json.Compact(&stats, r.Stats); err != nil {
			stats.Write(r.Stats)
		}
	}
	fmt.Fprintf(h, "%s\n%s\n", r.Fingerprint, stats.Bytes())
	for _, o := range r.Outputs {
		fmt.Fprintf(h, "%s %d %s\n", o.File, o.Bytes, o.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// stats decodes the record's statistics into v.
func (r *record) stats(v any) error {
	if err := json.Unmarshal(r.Stats, v); err != nil {
		return fmt.Errorf("stage %s: decode statistics: %w", r.Stage, err)
	}
	return nil
}
