package offline

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/internal/avx2"
	"github.com/facestream/facestream/internal/npy"
	"github.com/facestream/facestream/offline/report"
)

// Work-folder files of S2.
const (
	cosineArrow = "cosine.arrow"
	removedCSV  = "report/removed.csv"
)

func embeddingsFile(p Part) string { return filepath.Join("embeddings", "part-"+p.String()+".arrow") }

func (s *session) embedSpec(part Part) (*stageSpec, error) {
	model, err := s.model()
	if err != nil {
		return nil, err
	}
	return &stageSpec{name: partName("embed", part), inputs: []string{s.rawFP}, model: model, root: s.work,
		params: struct {
			Embed embedParams `json:"embed"`
			Part  Part        `json:"part"`
		}{s.embedParams(), part}}, nil
}

// embed is S2's first half: the embedding of every photo of one part's identities.
func (s *session) embed(ctx context.Context, part Part) (*record, error) {
	spec, err := s.embedSpec(part)
	if err != nil {
		return nil, err
	}
	return s.stages.run(ctx, spec, func() ([]string, any, error) {
		lo, hi := part.Labels(s.ds.NumClasses())
		var rows []int
		for row, l := range s.ds.Labels() {
			if int(l) >= lo && int(l) < hi {
				rows = append(rows, row)
			}
		}
		e, err := s.embedderFor()
		if err != nil {
			return nil, nil, err
		}
		out := &embeddings{dim: e.Dim(), ids: make([]int64, len(rows)), labels: make([]int32, len(rows)),
			emb: make([]float32, len(rows)*e.Dim())}
		for i, row := range rows {
			out.ids[i], out.labels[i] = s.ds.ID(row), s.ds.Label(row)
		}
		progress := s.progressOf("S2 embed", "img", len(rows))
		skipped, err := e.EmbedOrSkip(len(rows), func(i int) []byte { return s.ds.Image(rows[i]) }, out.emb, progress)
		if err != nil {
			return nil, nil, fmt.Errorf("embed photos of identities %d..%d: %w", lo, hi-1, err)
		}
		// A photo that does not decode (the import checked its header only) keeps a zero
		// embedding, which select removes and lists.
		for _, sk := range skipped {
			s.log.Warn("photo does not decode: select will remove it", "source", s.ds.Source(rows[sk.Index]), "err", sk.Err)
		}
		rel := embeddingsFile(part)
		if err := writeEmbeddings(filepath.Join(s.work, rel), out); err != nil {
			return nil, nil, err
		}
		return []string{rel}, struct{ Photos, Dim, Undecodable int }{len(rows), e.Dim(), len(skipped)}, nil
	})
}

// suspectRemoved is the share of photos S2 removes beyond which it warns that the pre-model may
// be too weak for the data.
const suspectRemoved = 0.35

// selectStats is what S2's selection records for the report.
type selectStats struct {
	T           float64 `json:"t"`
	Kept        int     `json:"kept"`
	Removed     int     `json:"removed"`
	BelowT      int     `json:"below_t"`               // of the removed
	NearerOther int     `json:"nearer_other"`          // of the removed
	Undecodable int     `json:"undecodable,omitempty"` // of the removed
	Relabeled   int     `json:"relabeled,omitempty"`   // of the kept: moved to the identity they are nearer
	// Overlap is the share of impostor cosines above the median genuine one; Weak says it passed
	// select.weak_overlap, so S2 cleaned conservatively.
	Overlap float64 `json:"overlap"`
	Weak    bool    `json:"weak,omitempty"`
	// Impostor is the distribution of photos' cosines to other identities' centres, t: auto's
	// source (a sample of it at scale).
	Impostor report.Histogram `json:"impostor"`
}

func (s *session) selectSpec(embedded []*record) *stageSpec {
	return &stageSpec{name: "select", inputs: fingerprints(embedded...), params: s.cfg.Select, root: s.work}
}

// selectStage is S2's second half over every embedded part (count parts; 0: whichever split is
// complete): centres, cosines, the base, and the audit list of removed photos.
func (s *session) selectStage(ctx context.Context, count int) (*record, error) {
	embedded, err := s.completeParts("embed", count, s.embedSpec)
	if err != nil {
		return nil, err
	}
	return s.stages.run(ctx, s.selectSpec(embedded), func() ([]string, any, error) {
		all, err := s.readEmbedded(embedded)
		if err != nil {
			return nil, nil, err
		}
		sel := newSelection(all)
		if sel.precomputed, err = s.precomputedNearest(all, embedded); err != nil {
			return nil, nil, fmt.Errorf("select: %w", err)
		}
		if sel.precomputed[0] != nil {
			s.log.Info("select: nearest-centre check from the split jobs", "pass_1", true, "pass_2", sel.precomputed[1] != nil)
		}
		if err := sel.run(all, s.ds.NumClasses(), s.cfg.Select, nil); err != nil {
			return nil, nil, fmt.Errorf("select: %w", err)
		}
		if err := s.writeSelection(all, sel); err != nil {
			return nil, nil, err
		}
		st := selectStats{T: sel.t, Impostor: report.HistogramOf(sel.impostor, cosineLo, cosineHi, cosineBins),
			Overlap: sel.overlap, Weak: sel.weak}
		for i, b := range sel.base {
			if b {
				st.Kept++
			} else {
				st.Removed++
			}
			switch sel.why[i] {
			case undecodable:
				st.Undecodable++
			case belowT:
				st.BelowT++
			case nearerOther:
				st.NearerOther++
			case relabeled:
				st.Relabeled++
			}
		}
		if sel.weak {
			s.log.Warn("S2: the pre-model does not separate these identities; cleaning conservatively (no margin rule, at most 2 % removed by t)",
				"impostor_overlap", sel.overlap, "weak_overlap", s.cfg.Select.WeakOverlap)
		}
		if judged := st.Kept + st.Removed - st.Undecodable; judged > 0 && float64(st.Removed-st.Undecodable) > suspectRemoved*float64(judged) {
			// Web-collected sets hold 5–30 % noise; much more means the pre-model does not tell these
			// people apart (genuine and impostor cosines overlap in report.html), not that the set is bad.
			s.log.Warn("S2 removed a large share of the photos: the pre-model may not separate these identities",
				"removed", st.Removed-st.Undecodable, "of", judged, "t", sel.t, "below_t", st.BelowT, "nearer_other", st.NearerOther)
		}
		return []string{arrowio.CentersNPYFile, arrowio.CentersFile, cosineArrow, removedCSV}, st, nil
	})
}

// readEmbedded reads the embeddings of every part, in id order.
func (s *session) readEmbedded(parts []*record) (*embeddings, error) {
	all := &embeddings{}
	for _, rec := range parts {
		for _, out := range rec.Outputs {
			e, err := readEmbeddings(filepath.Join(rec.Root, out.File))
			if err != nil {
				return nil, err
			}
			if all.dim != 0 && e.dim != all.dim {
				return nil, fmt.Errorf("%s has %d-d embeddings, other parts %d-d", out.File, e.dim, all.dim)
			}
			all.dim = e.dim
			all.append(e)
		}
	}
	if all.len() != s.ds.Len() {
		return nil, fmt.Errorf("the embedded parts hold %d photos, the dataset %d", all.len(), s.ds.Len())
	}
	order := make([]int, all.len())
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(all.ids[a], all.ids[b]) })
	sorted := &embeddings{dim: all.dim, ids: make([]int64, 0, all.len()), labels: make([]int32, 0, all.len()),
		emb: make([]float32, 0, len(all.emb))}
	for _, i := range order {
		sorted.ids, sorted.labels = append(sorted.ids, all.ids[i]), append(sorted.labels, all.labels[i])
		sorted.emb = append(sorted.emb, all.row(i)...)
	}
	return sorted, nil
}

// cosineSchema: label is the identity a photo is filed under, cosine its cosine to that identity's
// centre, assigned the identity whose base it joins (the same unless relabeled), nearest the nearest other
// identity (-1: not checked) and nearest_cosine the cosine to its centre, reason why the photo is
// out of the base of the identity it is filed under ("" when it is in).
func cosineSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "label", Type: arrow.PrimitiveTypes.Int32},
		{Name: "cosine", Type: arrow.PrimitiveTypes.Float32},
		{Name: "base", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "assigned", Type: arrow.PrimitiveTypes.Int32},
		{Name: "nearest", Type: arrow.PrimitiveTypes.Int32},
		{Name: "nearest_cosine", Type: arrow.PrimitiveTypes.Float32},
		{Name: "reason", Type: arrow.BinaryTypes.String},
	}, nil)
}

func (s *session) writeSelection(all *embeddings, sel *selection) error {
	classes := s.ds.Classes()
	if err := arrowio.WriteFileAtomic(filepath.Join(s.work, arrowio.CentersNPYFile), npy.Float32Matrix(sel.centers, len(classes), sel.dim)); err != nil {
		return err
	}
	err := writeArrow(filepath.Join(s.work, arrowio.CentersFile), arrowio.CentersSchema(sel.dim), func(b *array.RecordBuilder) {
		for _, c := range classes {
			b.Field(0).(*array.Int32Builder).Append(c.Label)
			b.Field(1).(*array.StringBuilder).Append(c.Identity)
		}
		appendEmbeddings(b.Field(2).(*array.FixedSizeListBuilder), sel.centers, sel.dim)
	})
	if err != nil {
		return err
	}
	// A photo that did not decode has no cosine: NaN, for the report and any reader to tell.
	cosine, nearestCos := slices.Clone(sel.cosine), slices.Clone(sel.nearestCos)
	for i, why := range sel.why {
		if why == undecodable || sel.nearest[i] < 0 {
			nearestCos[i] = float32(math.NaN())
		}
		switch why {
		case undecodable:
			cosine[i] = float32(math.NaN())
		case relabeled:
			cosine[i] = dot(all.row(i), sel.center(int(all.labels[i])))
		}
	}
	err = writeArrow(filepath.Join(s.work, cosineArrow), cosineSchema(), func(b *array.RecordBuilder) {
		b.Field(0).(*array.Int64Builder).AppendValues(all.ids, nil)
		b.Field(1).(*array.Int32Builder).AppendValues(all.labels, nil)
		b.Field(2).(*array.Float32Builder).AppendValues(cosine, nil)
		b.Field(3).(*array.BooleanBuilder).AppendValues(sel.base, nil)
		b.Field(4).(*array.Int32Builder).AppendValues(sel.assigned, nil)
		b.Field(5).(*array.Int32Builder).AppendValues(sel.nearest, nil)
		b.Field(6).(*array.Float32Builder).AppendValues(nearestCos, nil)
		for _, why := range sel.why {
			b.Field(7).(*array.StringBuilder).Append(why.String())
		}
	})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	// errors of a bytes.Buffer writer surface at Flush
	_ = w.Write([]string{"source", "identity", "cosine", "reason", "suggested_identity", "suggested_cosine"})
	format := func(v float32) string { return strconv.FormatFloat(float64(v), 'f', 4, 32) }
	for i, id := range all.ids {
		if sel.why[i] == inBase {
			continue
		}
		row, ok := s.ds.Row(id)
		if !ok {
			return fmt.Errorf("embedded photo %d is not in the dataset", id)
		}
		cos := format(cosine[i]) // to the centre of the identity it is filed under
		suggested, suggestedCos := "", ""
		if n := sel.nearest[i]; n >= 0 && (sel.why[i] == nearerOther || sel.why[i] == relabeled) {
			suggested, suggestedCos = classes[n].Identity, format(sel.nearestCos[i])
		}
		if sel.why[i] == undecodable {
			cos = ""
		}
		_ = w.Write([]string{s.ds.Source(row), classes[all.labels[i]].Identity, cos, sel.why[i].String(), suggested, suggestedCos})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write %s: %w", removedCSV, err)
	}
	return arrowio.WriteFileAtomic(filepath.Join(s.work, removedCSV), buf.Bytes())
}

// selected is S2's result as later stages read it, rows in id order.
type selected struct {
	ids        []int64
	filed      []int32   // the identity each photo is filed under in the raw dataset
	labels     []int32   // the identity each photo belongs to from S2 on: filed, or the one it was relabeled to
	cosine     []float32 // to the centre of labels' identity
	filedCos   []float32 // to the centre of filed's identity (NaN: the photo does not decode)
	nearest    []int32   // the nearest other identity (-1: not checked)
	nearestCos []float32 // the cosine to its centre
	reason     []string  // why a photo is out of its filed identity's base; "" when it is in
	base       []bool
	dim        int
	centers    []float32 // classes × dim
	t          float64
}

// readSelection reads S2's outputs.
func (s *session) readSelection(rec *record) (*selected, error) {
	sel := &selected{}
	if err := rec.stats(&struct {
		T *float64 `json:"t"`
	}{&sel.t}); err != nil {
		return nil, err
	}
	err := readArrow(filepath.Join(rec.Root, cosineArrow), func(r arrow.RecordBatch) error {
		if want := cosineSchema(); !r.Schema().Equal(want) {
			return fmt.Errorf("schema %s, want %s", r.Schema(), want)
		}
		sel.ids = append(sel.ids, r.Column(0).(*array.Int64).Int64Values()...)
		sel.filed = append(sel.filed, r.Column(1).(*array.Int32).Int32Values()...)
		sel.labels = append(sel.labels, r.Column(4).(*array.Int32).Int32Values()...)
		sel.filedCos = append(sel.filedCos, r.Column(2).(*array.Float32).Float32Values()...)
		sel.nearest = append(sel.nearest, r.Column(5).(*array.Int32).Int32Values()...)
		sel.nearestCos = append(sel.nearestCos, r.Column(6).(*array.Float32).Float32Values()...)
		base, reason := r.Column(3).(*array.Boolean), r.Column(7).(*array.String)
		for i := range base.Len() {
			sel.base = append(sel.base, base.Value(i))
			sel.reason = append(sel.reason, reason.Value(i))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readArrow(filepath.Join(rec.Root, arrowio.CentersFile), func(r arrow.RecordBatch) error {
		dim, err := arrowio.EmbeddingWidth(r.Schema(), 2)
		if err != nil {
			return err
		}
		sel.dim = dim
		sel.centers = append(sel.centers, embeddingValues(r.Column(2), dim)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(sel.centers) != s.ds.NumClasses()*sel.dim || len(sel.ids) != s.ds.Len() {
		return nil, fmt.Errorf("S2's outputs in %s do not match the dataset (%d photos, %d identities)", rec.Root, s.ds.Len(), s.ds.NumClasses())
	}
	// From S2 on, a relabeled photo belongs to its new identity, at its cosine to that centre.
	sel.cosine = slices.Clone(sel.filedCos)
	for i, l := range sel.labels {
		if l != sel.filed[i] {
			sel.cosine[i] = sel.nearestCos[i]
		}
	}
	return sel, nil
}

// center is identity c's centre.
func (sel *selected) center(c int) []float32 { return sel.centers[c*sel.dim : (c+1)*sel.dim] }

// cleanSizes counts each identity's base.
func (sel *selected) cleanSizes(classes int) []int {
	n := make([]int, classes)
	for i, b := range sel.base {
		if b {
			n[sel.labels[i]]++
		}
	}
	return n
}

// baseCosines are the sorted cosines of the base photos, the distribution a and b's quantiles refer to.
func (sel *selected) baseCosines() []float64 {
	var v []float32
	for i, b := range sel.base {
		if b {
			v = append(v, sel.cosine[i])
		}
	}
	return sortedFloat64(v)
}

// selection is what S2 decides: each identity's centre, each photo's cosine to it, the identity
// nearest to it among the others, and the base.
type selection struct {
	dim        int
	centers    []float32 // classes × dim, L2-normalised (zero for an identity without photos)
	sums       []float64 // per identity: the length of the sum of the embeddings its centre averages
	members    []int32   // per identity: the photos its centre averages
	inCentre   []bool    // per embeddings row: the photo is among those its identity's centre averages
	cosine     []float32 // per embeddings row: cosine to the centre of the identity it is assigned
	assigned   []int32   // per embeddings row: its label, or with action relabel the identity it moved to
	nearest    []int32   // per embeddings row: the nearest other identity's centre (-1: not checked, or none)
	nearestCos []float32 // per embeddings row: the cosine to that centre
	base       []bool    // per embeddings row
	why        []removal // per embeddings row: why it is out of the base, or relabeled
	t          float64   // the threshold t resolved to an absolute cosine
	tRelabel   float64   // with action relabel, the cosine to another centre that moves a photo there
	overlap    float64   // share of impostor cosines above the median genuine one
	weak       bool      // overlap above select.weak_overlap: the pre-model cannot clean this set safely
	impostor   []float64 // sorted cosines of photos to other identities' centres (a sample at scale)
	scalar     bool      // the portable dot products even where AVX2 and FMA run (tests compare)
	pass       int       // the pass score is on: 0, or 1 with robust centres
	// precomputed holds, per pass, the nearest-centre check of split select jobs (select --part);
	// score computes what it lacks.
	precomputed [2]*nearestTable
}

// nearestTable is the nearest-centre check of some photos, by embeddings row.
type nearestTable struct {
	rows    []int
	nearest []int32
	cosine  []float32
	own     []float32 // the kernel's own cosine, before leaving one out
}

// removal says why S2 left a photo out of the base (or moved it).
type removal uint8

const (
	inBase      removal = iota
	belowT              // cosine to its centre at most t, and not among keep_min rescued
	nearerOther         // nearer another identity's centre than its own, by more than the margin
	undecodable         // the photo does not decode: its embedding is zero
	relabeled           // in the base of the identity it is nearer (action relabel)
)

func (r removal) String() string {
	return [...]string{"", "cosine at most t", "nearer another identity", "does not decode", "relabeled"}[r]
}

// Actions for a photo nearer another identity.
const (
	ActionDrop    = "drop"
	ActionRelabel = "relabel"
)

// maxImpostorPairs bounds the impostor cosines t: auto is resolved on: every (photo, other
// identity) pair up to this many, else as many pairs drawn at random (seeded): the quantiles
// that matter (FAR ≥ 1e-4) are then known to a few thousandths.
const maxImpostorPairs = 1 << 21

// selectBase computes S2 on embeddings e of photos of classes identities.
func selectBase(e *embeddings, classes int, cfg SelectConfig) (*selection, error) {
	for i, l := range e.labels {
		if l < 0 || int(l) >= classes {
			return nil, fmt.Errorf("photo %d has label %d outside 0..%d", e.ids[i], l, classes-1)
		}
	}
	s := newSelection(e)
	return s, s.run(e, classes, cfg, nil)
}

// newSelection is an empty selection of e's photos, the undecodable ones marked.
func newSelection(e *embeddings) *selection {
	n := e.len()
	s := &selection{dim: e.dim, cosine: make([]float32, n), base: make([]bool, n), why: make([]removal, n),
		assigned: slices.Clone(e.labels), nearest: make([]int32, n), nearestCos: make([]float32, n)}
	for i := range n {
		if isZero(e.row(i)) {
			s.why[i] = undecodable
		}
	}
	return s
}

// run scores every pass; with stopAt, it stops once that pass's centres are set (for a split
// job's nearest-centre check).
func (s *selection) run(e *embeddings, classes int, cfg SelectConfig, stopAt *int) error {
	s.centres(e, classes, nil)
	for pass := range 2 {
		if pass == 1 {
			if !cfg.Robust {
				return nil
			}
			// The first centre is pulled towards whatever noise the identity holds; its base is
			// mostly clean, so a centre of the base alone sits nearer the true identity.
			s.centres(e, classes, slices.Clone(s.base))
		}
		if s.pass = pass; stopAt != nil && *stopAt == pass {
			return nil
		}
		if err := s.score(e, classes, cfg); err != nil {
			return err
		}
	}
	return nil
}

// score computes every photo's cosine to its own centre and, with cfg.Nearest, to the nearest
// other identity's; resolves t; and decides each photo. A photo nearer another identity's centre
// than its own (left out of it, in identities of looMin or more) by more than the margin is out
// whatever its own cosine (or, with action relabel, joins that identity when its cosine there
// looks like a member's: above tRelabel); otherwise it is in when its cosine exceeds t or it is
// among its identity's keep_min best. An identity keeps at least its best photo. Photos that did
// not decode (zero embeddings) are out, and count for nothing. A pre-model too weak for the data
// (see impostorOverlap) skips the margin rule and removes at most weakRemoved of the photos.
func (s *selection) score(e *embeddings, classes int, cfg SelectConfig) (err error) {
	decoded := make([]float64, 0, e.len()) // the cosines a quantile t is resolved on
	var rows []int
	for i := range e.len() {
		s.assigned[i], s.nearest[i], s.nearestCos[i] = e.labels[i], -1, float32(math.Inf(-1))
		if s.why[i] == undecodable {
			continue
		}
		s.why[i] = inBase
		s.cosine[i] = dot(e.row(i), s.center(int(e.labels[i])))
		decoded = append(decoded, float64(s.cosine[i]))
		rows = append(rows, i)
	}
	slices.Sort(decoded)
	s.impostor = s.impostorCosines(e, rows, classes)
	named := map[string]float64{}
	if cfg.T.IsAuto() {
		if named[autoSpec], err = autoT(s.impostor, cfg.ImpostorFAR); err != nil {
			return fmt.Errorf("t: %w", err)
		}
	}
	t, err := cfg.T.Resolve(decoded, named)
	if err != nil {
		return fmt.Errorf("t: %w", err)
	}
	s.overlap = s.impostorOverlap(e, rows)
	if s.weak = cfg.WeakOverlap > 0 && s.overlap > cfg.WeakOverlap; s.weak {
		// The pre-model does not tell these people apart: a photo nearer another identity, or
		// below an impostor quantile, is as likely a clean photo it confuses. Clean conservatively.
		t = min(t, quantile(decoded, weakRemoved))
	}
	s.t = t
	var own []float32 // the kernel's own cosines, to compare with its other ones (same rounding)
	if cfg.Nearest && !s.weak {
		own = s.nearestOf(e, rows)
		s.leaveOneOut(e, rows, own)
	}
	relabel := cfg.Action == ActionRelabel
	if relabel {
		s.tRelabel = max(t, quantile(decoded, relabelQuantile))
	}
	byClass := rowsByClass(e.labels, classes)
	for _, rows := range byClass {
		slices.SortStableFunc(rows, func(a, b int) int { return cmp.Compare(s.cosine[b], s.cosine[a]) })
		kept, best := 0, -1
		for _, i := range rows {
			if s.base[i] = false; s.why[i] == undecodable {
				continue
			}
			foreign := own != nil && s.nearest[i] >= 0 && float64(s.nearestCos[i]) > float64(own[i])+cfg.Margin
			if best < 0 && !foreign {
				best = i
			}
			switch {
			case foreign && relabel && float64(s.nearestCos[i]) > s.tRelabel:
				s.base[i], s.why[i] = true, relabeled
				s.assigned[i], s.cosine[i] = s.nearest[i], s.nearestCos[i]
			case foreign:
				s.why[i] = nearerOther
			case float64(s.cosine[i]) <= t && kept >= cfg.KeepMin:
				s.why[i] = belowT
			default:
				s.base[i] = true
				kept++
			}
		}
		if kept == 0 && best >= 0 {
			s.base[best], s.why[best] = true, inBase // no identity vanishes for want of a photo above t
		}
	}
	return nil
}

// autoT is t: auto, the cosine that a fraction far of impostor cosines (photos to other
// identities' centres) exceed: what a photo of another person scores against a centre, read off
// the model and the data themselves, so the same default holds for every model.
func autoT(impostor []float64, far float64) (float64, error) {
	if far <= 0 || far >= 1 {
		return 0, fmt.Errorf("impostor_far %g: want 0 < far < 1", far)
	}
	if len(impostor) == 0 {
		return 0, errors.New("auto needs impostor cosines: at least two identities with photos that decode")
	}
	return quantile(impostor, 1-far), nil
}

// weakRemoved is the most t removes when the pre-model is too weak for the data.
const weakRemoved = 0.02

// impostorOverlap is the share of impostor cosines above the median of the photos' cosines to
// their own identity (to the others' centre in identities of looMin or more, as the margin rule
// compares): about 1e-4 for models that separate these people, 0.1 and more for ones that do not.
func (s *selection) impostorOverlap(e *embeddings, rows []int) float64 {
	if len(s.impostor) == 0 || len(rows) == 0 {
		return 0
	}
	own := make([]float32, e.len())
	for _, i := range rows {
		own[i] = s.cosine[i]
	}
	s.leaveOneOut(e, rows, own)
	genuine := make([]float64, len(rows))
	for k, i := range rows {
		genuine[k] = float64(own[i])
	}
	slices.Sort(genuine)
	median := quantile(genuine, 0.5)
	above := len(s.impostor) - sort.SearchFloat64s(s.impostor, math.Nextafter(median, math.Inf(1)))
	return float64(above) / float64(len(s.impostor))
}

// relabelQuantile places the cosine to another identity's centre from which a photo nearer that
// identity moves there: the first quartile of all photos' cosines to their own centres, so that
// it looks like a member. (A stranger always has some nearest centre above t; the top of the
// impostor distribution cannot say more, as the mislabeled photos themselves are in it.)
const relabelQuantile = 0.25

// impostorCosines are the sorted cosines of the photos rows to the centres of identities other
// than their own: every pair, or maxImpostorPairs drawn at random when there are more. Identities
// without photos (zero centres) take no part.
func (s *selection) impostorCosines(e *embeddings, rows []int, classes int) []float64 {
	var live []int32
	for c := range classes {
		if !isZero(s.center(c)) {
			live = append(live, int32(c))
		}
	}
	if len(live) < 2 || len(rows) == 0 {
		return nil
	}
	var out []float64
	if pairs := len(rows) * (len(live) - 1); pairs <= maxImpostorPairs {
		out = make([]float64, 0, pairs)
		for _, i := range rows {
			for _, c := range live {
				if c != e.labels[i] {
					out = append(out, float64(dot(e.row(i), s.center(int(c)))))
				}
			}
		}
	} else {
		r := rand.New(rand.NewPCG(0x696d706f, 0x73746f72)) // fixed: the same data give the same t
		out = make([]float64, 0, maxImpostorPairs)
		for len(out) < maxImpostorPairs {
			i := rows[r.IntN(len(rows))]
			if c := live[r.IntN(len(live))]; c != e.labels[i] {
				out = append(out, float64(dot(e.row(i), s.center(int(c)))))
			}
		}
	}
	slices.Sort(out)
	return out
}

// isZero reports whether every value of v is zero.
func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func (s *selection) center(c int) []float32 { return s.centers[c*s.dim : (c+1)*s.dim] }

// nearestOf is nearestOther, taking what a split job computed for this pass.
func (s *selection) nearestOf(e *embeddings, rows []int) []float32 {
	table := s.precomputed[s.pass]
	if table == nil {
		return s.nearestOther(e, rows)
	}
	own := make([]float32, e.len())
	done := make([]bool, e.len())
	for k, i := range table.rows {
		s.nearest[i], s.nearestCos[i], own[i], done[i] = table.nearest[k], table.cosine[k], table.own[k], true
	}
	missing := slices.DeleteFunc(slices.Clone(rows), func(i int) bool { return done[i] })
	if len(missing) > 0 {
		rest := s.nearestOther(e, missing)
		for _, i := range missing {
			own[i] = rest[i]
		}
	}
	return own
}

// nearestPart is a split job's share of the nearest-centre check: pass's nearest other identity of
// the photos rows. For pass 1 it needs pass 0's table of every photo, to know the first base.
func nearestPart(e *embeddings, classes int, cfg SelectConfig, pass int, rows []int, pass0 *nearestTable) (*nearestTable, error) {
	s := newSelection(e)
	s.precomputed[0] = pass0
	if err := s.run(e, classes, cfg, &pass); err != nil {
		return nil, err
	}
	rows = slices.DeleteFunc(slices.Clone(rows), func(i int) bool { return s.why[i] == undecodable })
	own := s.nearestOther(e, rows)
	t := &nearestTable{rows: rows}
	for _, i := range rows {
		t.nearest, t.cosine, t.own = append(t.nearest, s.nearest[i]), append(t.cosine, s.nearestCos[i]), append(t.own, own[i])
	}
	return t, nil
}

// nearestOther finds, for each of the photos rows, the other identity whose centre is nearest
// (s.nearest, s.nearestCos) and returns the photos' cosines to their own centres from the same
// kernel (indexed by row), so the two round alike. It costs one dot product per photo and
// identity: blocks of photos sweep the centres a cache-sized block at a time, two photos by four
// centres per step (AVX2 and FMA where the CPU has them), over every core.
func (s *selection) nearestOther(e *embeddings, rows []int) []float32 {
	own := make([]float32, e.len())
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				start := int(next.Add(photoBlock)) - photoBlock
				if start >= len(rows) {
					return
				}
				s.nearestBlock(e, rows[start:min(start+photoBlock, len(rows))], own)
			}
		})
	}
	wg.Wait()
	return own
}

const (
	// photoBlock photos share each sweep of the centres, whose memory traffic it divides.
	photoBlock = 256
	// centreBytes of centres are swept together: they stay in the L1 cache while every photo of
	// a block meets them (the kernel loads four centre rows to two photo rows).
	centreBytes = 24 << 10
)

// nearestBlock fills s.nearest, s.nearestCos and own for the photos of block.
func (s *selection) nearestBlock(e *embeddings, block []int, own []float32) {
	d, classes := s.dim, len(s.centers)/s.dim
	other := make([]float32, len(block))
	which := make([]int32, len(block))
	for k := range other {
		other[k], which[k] = float32(math.Inf(-1)), -1
	}
	note := func(k, c int, v float32) {
		switch {
		case c == int(e.labels[block[k]]):
			own[block[k]] = v
		case v > other[k]:
			other[k], which[k] = v, int32(c)
		}
	}
	fast := d%8 == 0 && !s.scalar && avx2.FMAAvailable()
	centreBlock := max(4, centreBytes/(4*d)&^3)
	var tile [8]float32
	var padded []float32 // the last centres, with zero rows up to four
	if fast && classes%4 != 0 {
		padded = make([]float32, 4*d)
		copy(padded, s.centers[classes/4*4*d:])
	}
	for first := 0; first < classes; first += centreBlock {
		end := min(first+centreBlock, classes)
		for k := 0; k < len(block); k += 2 {
			k1 := min(k+1, len(block)-1) // a photo without a partner goes with itself
			q0, q1 := e.row(block[k]), e.row(block[k1])
			own0, own1 := int(e.labels[block[k]]), int(e.labels[block[k1]])
			if !fast {
				for c := first; c < end; c++ {
					note(k, c, dot(q0, s.center(c)))
					note(k1, c, dot(q1, s.center(c)))
				}
				continue
			}
			for c := first; c < end; c += 4 {
				centres := padded
				if c+4 <= classes {
					centres = s.centers[c*d : (c+4)*d]
				}
				avx2.Dots2x4(q0, q1, centres, &tile)
				n := min(4, classes-c)
				if n < 4 || c <= own0 && own0 < c+4 || c <= own1 && own1 < c+4 ||
					max(tile[0], tile[1], tile[2], tile[3]) > other[k] || max(tile[4], tile[5], tile[6], tile[7]) > other[k1] {
					for j := range n {
						note(k, c+j, tile[j])
						note(k1, c+j, tile[4+j])
					}
				} // else: neither photo's own identity nor a nearer one, the common case, without a call
			}
		}
	}
	for k, i := range block {
		if which[k] >= 0 && isZero(s.center(int(which[k]))) {
			which[k] = -1 // an identity without a photo that decodes is nobody to suggest
		}
		s.nearest[i], s.nearestCos[i] = which[k], other[k]
	}
}

// centres sets each identity's centre: the L2-normalised mean of the photos assigned to it, of
// those in keep when keep is non-nil (photos that did not decode are zero and count for nothing),
// with the length of their sum and their number, which leaveOneOut needs.
func (s *selection) centres(e *embeddings, classes int, keep []bool) {
	s.centers = make([]float32, classes*e.dim)
	s.sums, s.members = make([]float64, classes), make([]int32, classes)
	s.inCentre = make([]bool, e.len())
	sum := make([]float64, classes*e.dim)
	for i := range e.len() {
		if keep != nil && !keep[i] || s.why[i] == undecodable {
			continue
		}
		s.inCentre[i] = s.assigned[i] == e.labels[i] // relabeled in a first pass, it is in another's
		s.members[s.assigned[i]]++
		acc := sum[int(s.assigned[i])*e.dim:][:e.dim]
		for j, v := range e.row(i) {
			acc[j] += float64(v)
		}
	}
	for c := range classes {
		acc := sum[c*e.dim:][:e.dim]
		var norm float64
		for _, v := range acc {
			norm += v * v
		}
		if norm == 0 {
			continue
		}
		norm = math.Sqrt(norm)
		s.sums[c] = norm
		for j, v := range acc {
			s.centers[c*e.dim+j] = float32(v / norm)
		}
	}
}

// looMin is the size from which an identity's photos are compared with the centre of the other
// photos of their identity (leave one out) in the margin rule. A photo pulls the centre it is
// part of towards itself (in an identity of six photos a stranger gains some 0.3 of cosine from
// itself, enough to escape); below five photos the others' centre is too unsteady to judge by.
const looMin = 5

// leaveOneOut turns the own cosines of the photos rows, in identities of at least looMin photos
// whose centre averages them, into cosines to the centre of their identity's other photos: with
// S the sum the centre averages and x a unit embedding, cos(x, S − x) = (x·S − 1) / |S − x|.
func (s *selection) leaveOneOut(e *embeddings, rows []int, own []float32) {
	for _, i := range rows {
		c := e.labels[i]
		if !s.inCentre[i] || s.members[c] < looMin {
			continue
		}
		xs := float64(own[i]) * s.sums[c]
		if rest := s.sums[c]*s.sums[c] - 2*xs + 1; rest > 0 {
			own[i] = float32((xs - 1) / math.Sqrt(rest))
		}
	}
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
