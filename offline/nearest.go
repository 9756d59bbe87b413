package offline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// The nearest-centre check, every photo against every identity's centre, is S2's one cost that
// grows with photos × identities. `select --part i/N` splits it by identity range over jobs on a
// shared work folder, like embed: pass 1 on the centres of all photos; with robust centres a
// second run of the same jobs does pass 2, once every pass-1 part is done (it needs the first
// base). `select` then merges: it takes every complete, current split and computes what is
// missing itself, so split and single runs give the same bytes.

// nearestKind is the stage kind of pass p's split check: nearest1, nearest2.
func nearestKind(pass int) string { return fmt.Sprintf("nearest%d", pass+1) }

func nearestFile(pass int, p Part) string {
	return filepath.Join("nearest", fmt.Sprintf("pass%d-part-%s.arrow", pass+1, p))
}

func nearestSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "nearest", Type: arrow.PrimitiveTypes.Int32},
		{Name: "nearest_cosine", Type: arrow.PrimitiveTypes.Float32},
		{Name: "own_cosine", Type: arrow.PrimitiveTypes.Float32},
	}, nil)
}

// nearestSpec is the spec of pass's split check; pass 2 depends on every pass-1 part as well.
func (s *session) nearestSpec(pass int, embedded, pass1 []*record) func(Part) (*stageSpec, error) {
	return func(p Part) (*stageSpec, error) {
		spec := &stageSpec{name: partName(nearestKind(pass), p), inputs: fingerprints(embedded...), root: s.work,
			params: struct {
				Part Part `json:"part"`
			}{p}}
		if pass == 1 { // the first base depends on every parameter of select
			spec.inputs = append(spec.inputs, fingerprints(pass1...)...)
			spec.params = struct {
				Select SelectConfig `json:"select"`
				Part   Part         `json:"part"`
			}{s.cfg.Select, p}
		}
		return spec, nil
	}
}

// selectPart runs the split nearest-centre check of part's identities: pass 1, then pass 2 when
// centres are robust and every pass-1 part is done; otherwise it says that pass 2 waits.
func (s *session) selectPart(ctx context.Context, part Part) error {
	if !s.cfg.Select.Nearest {
		return errors.New("select --part splits the nearest-centre check, and select.nearest is off: run select alone")
	}
	embedded, err := s.completeParts("embed", 0, s.embedSpec)
	if err != nil {
		return err
	}
	var all *embeddings
	load := func() (err error) {
		if all == nil {
			all, err = s.readEmbedded(embedded)
		}
		return err
	}
	check := func(pass int, pass1 []*record) (*record, error) {
		spec, err := s.nearestSpec(pass, embedded, pass1)(part)
		if err != nil {
			return nil, err
		}
		return s.stages.run(ctx, spec, func() ([]string, any, error) {
			if err := load(); err != nil {
				return nil, nil, err
			}
			var first *nearestTable
			if pass == 1 {
				var err error
				if first, err = s.readNearest(all, pass1); err != nil {
					return nil, nil, err
				}
			}
			lo, hi := part.Labels(s.ds.NumClasses())
			var rows []int
			for i, l := range all.labels {
				if int(l) >= lo && int(l) < hi {
					rows = append(rows, i)
				}
			}
			t, err := nearestPart(all, s.ds.NumClasses(), s.cfg.Select, pass, rows, first)
			if err != nil {
				return nil, nil, fmt.Errorf("nearest-centre check, pass %d, identities %d..%d: %w", pass+1, lo, hi-1, err)
			}
			rel := nearestFile(pass, part)
			if err := writeNearest(filepath.Join(s.work, rel), all, t); err != nil {
				return nil, nil, err
			}
			return []string{rel}, struct{ Photos int }{len(t.rows)}, nil
		})
	}
	if _, err := check(0, nil); err != nil || !s.cfg.Select.Robust {
		return err
	}
	pass1, err := s.completeParts(nearestKind(0), part.Count, s.nearestSpec(0, embedded, nil))
	if err != nil {
		s.log.Info("select --part: pass 2 of the nearest-centre check (robust centres) waits for every pass-1 part; run this part again once they are done",
			"part", part.String(), "waiting_for", err)
		return nil
	}
	_, err = check(1, pass1)
	return err
}

// precomputedNearest finds the complete, current split checks of both passes (nil where there is
// none), for select to take instead of computing them.
func (s *session) precomputedNearest(all *embeddings, embedded []*record) ([2]*nearestTable, error) {
	var out [2]*nearestTable
	pass1, err := s.completeParts(nearestKind(0), 0, s.nearestSpec(0, embedded, nil))
	if err != nil {
		return out, nil // not split: select computes it
	}
	if out[0], err = s.readNearest(all, pass1); err != nil {
		return out, err
	}
	if pass2, err := s.completeParts(nearestKind(1), 0, s.nearestSpec(1, embedded, pass1)); err == nil {
		if out[1], err = s.readNearest(all, pass2); err != nil {
			return out, err
		}
	}
	return out, nil
}

func writeNearest(path string, e *embeddings, t *nearestTable) error {
	ids := make([]int64, len(t.rows))
	for k, i := range t.rows {
		ids[k] = e.ids[i]
	}
	return writeArrow(path, nearestSchema(), func(b *array.RecordBuilder) {
		b.Field(0).(*array.Int64Builder).AppendValues(ids, nil)
		b.Field(1).(*array.Int32Builder).AppendValues(t.nearest, nil)
		b.Field(2).(*array.Float32Builder).AppendValues(t.cosine, nil)
		b.Field(3).(*array.Float32Builder).AppendValues(t.own, nil)
	})
}

// readNearest merges the parts' checks into one table over e's rows (sorted by id).
func (s *session) readNearest(e *embeddings, parts []*record) (*nearestTable, error) {
	t := &nearestTable{}
	for _, rec := range parts {
		for _, out := range rec.Outputs {
			err := readArrow(filepath.Join(rec.Root, out.File), func(r arrow.RecordBatch) error {
				if want := nearestSchema(); !r.Schema().Equal(want) {
					return fmt.Errorf("schema %s, want %s", r.Schema(), want)
				}
				for _, id := range r.Column(0).(*array.Int64).Int64Values() {
					i, ok := slices.BinarySearch(e.ids, id)
					if !ok {
						return fmt.Errorf("%s: photo %d is not among the embedded ones", out.File, id)
					}
					t.rows = append(t.rows, i)
				}
				t.nearest = append(t.nearest, r.Column(1).(*array.Int32).Int32Values()...)
				t.cosine = append(t.cosine, r.Column(2).(*array.Float32).Float32Values()...)
				t.own = append(t.own, r.Column(3).(*array.Float32).Float32Values()...)
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}
