package offline

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/internal/npy"
	"github.com/facestream/facestream/offline/report"
)

// Work-folder files of S2.
const (
	centersNPY   = "centers.npy"
	centersArrow = "centers.arrow"
	cosineArrow  = "cosine.arrow"
	removedCSV   = "report/removed.csv"
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
func (s *session) embed(part Part) (*record, error) {
	spec, err := s.embedSpec(part)
	if err != nil {
		return nil, err
	}
	return s.stages.run(spec, func() ([]string, any, error) {
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
func (s *session) selectStage(count int) (*record, error) {
	embedded, err := s.completeParts("embed", count, s.embedSpec)
	if err != nil {
		return nil, err
	}
	return s.stages.run(s.selectSpec(embedded), func() ([]string, any, error) {
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
		return []string{centersNPY, centersArrow, cosineArrow, removedCSV}, st, nil
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

func centersSchema(dim int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "label", Type: arrow.PrimitiveTypes.Int32},
		{Name: "identity", Type: arrow.BinaryTypes.String},
		embeddingField(dim),
	}, nil)
}

func (s *session) writeSelection(all *embeddings, sel *selection) error {
	classes := s.ds.Classes()
	if err := arrowio.WriteFileAtomic(filepath.Join(s.work, centersNPY), npy.Float32Matrix(sel.centers, len(classes), sel.dim)); err != nil {
		return err
	}
	err := writeArrow(filepath.Join(s.work, centersArrow), centersSchema(sel.dim), func(b *array.RecordBuilder) {
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
	err = readArrow(filepath.Join(rec.Root, centersArrow), func(r arrow.RecordBatch) error {
		dim, err := embeddingWidth(r.Schema(), 2)
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
