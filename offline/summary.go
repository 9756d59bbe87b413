package offline

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/offline/evaluate"
	"github.com/facestream/facestream/offline/report"
)

// Examples of kept augmentations the report shows: a few identities, a few each.
const (
	exampleIdentities   = 12
	examplesPerIdentity = 2
)

// buildReport gathers what every stage did into report.Report.
func (s *session) buildReport(eq *equalized, selRec *record, embedded, augRecs []*record, eqSeconds float64) (*report.Report, error) {
	r := &report.Report{Dataset: s.source, Output: s.out, Model: s.cfg.Model, Created: time.Now().UTC().Truncate(time.Second)}
	sel := eq.sel
	raw := make([]float64, s.ds.NumClasses())
	for c, cl := range s.ds.Classes() {
		r.Raw.Sizes = append(r.Raw.Sizes, int(cl.Count))
		raw[c] = float64(cl.Count)
	}
	r.Raw.Samples, r.Raw.Identities = s.ds.Len(), s.ds.NumClasses()

	var sst selectStats
	if err := selRec.stats(&sst); err != nil {
		return nil, err
	}
	r.S2.TSpec, r.S2.T, r.S2.KeepMin, r.S2.Robust = string(s.cfg.Select.T), sst.T, s.cfg.Select.KeepMin, s.cfg.Select.Robust
	r.S2.ImpostorFAR, r.S2.Margin, r.S2.Action = s.cfg.Select.ImpostorFAR, s.cfg.Select.Margin, s.cfg.Select.Action
	r.S2.Kept, r.S2.Removed, r.S2.Undecodable = sst.Kept, sst.Removed, sst.Undecodable
	r.S2.BelowT, r.S2.NearerOther, r.S2.Relabeled = sst.BelowT, sst.NearerOther, sst.Relabeled
	r.S2.Overlap, r.S2.Weak = sst.Overlap, sst.Weak
	r.S2.Impostor = trimHistogram(sst.Impostor, sst.T)
	// Photos that did not decode have a NaN cosine: the histogram skips them, the quantiles too.
	r.S2.Cosine = trimHistogram(report.HistogramOf(sel.filedCos, cosineLo, cosineHi, cosineBins), sst.T)
	r.S2.Quantiles = quantileMap(sortedFloat64(slices.DeleteFunc(slices.Clone(sel.filedCos), func(c float32) bool {
		return math.IsNaN(float64(c))
	})))
	truth, err := s.scoreTruth(sel)
	if err != nil {
		return nil, err
	}
	r.S2.Truth = truth
	r.S2.Audit = s.audit(sel)

	r.S3.ASpec, r.S3.BSpec = string(s.cfg.Augment.A), string(s.cfg.Augment.B)
	var cosine report.Histogram
	for _, st := range eq.augStats {
		r.S3.A, r.S3.B = st.A, st.B
		for i, want := range st.Wanted {
			r.S3.N = max(r.S3.N, want)
			r.S3.Attempts += st.Attempts[i]
			r.S3.Accepted += st.Accepted[i]
			if st.Attempts[i] > 0 {
				r.S3.AcceptPerIdentity = append(r.S3.AcceptPerIdentity, float64(st.Accepted[i])/float64(st.Attempts[i]))
			}
		}
		cosine = addHistogram(cosine, st.Cosine)
	}
	r.S3.MaxAttempts = s.cfg.Augment.Attempts * r.S3.N
	r.S3.Cosine = trimHistogram(cosine, r.S3.A, r.S3.B)
	r.S3.Examples = eq.examples()

	r.S4.Policy, r.S4.TargetSpec, r.S4.Target, r.S4.Cap = s.cfg.Equalize.Policy, string(s.cfg.Equalize.Target), eq.target, eq.cap
	after := make([]float64, len(eq.quota))
	for c, q := range eq.quota {
		after[c] = float64(q)
	}
	r.S4.Before, r.S4.After, r.S4.Quotas = report.BalanceOf(raw), report.BalanceOf(after), eq.quota

	r.Timings = map[string]float64{"S2 select": selRec.Seconds, "S4 equalize": eqSeconds}
	for _, rec := range embedded {
		r.Timings["S2 embed"] += rec.Seconds
	}
	for _, rec := range augRecs {
		r.Timings["S3 augment"] += rec.Seconds
	}
	return r, nil
}

// Audit sample sizes: photos shown per reason, typical photos beside each.
const (
	auditPerReason = 8
	auditTypical   = 3
)

// audit picks, per reason, the photos S2 was surest to take out of their identity (the lowest
// cosine; for those nearer another identity the widest gap), each with the most typical photos of
// its identity and of the one it is nearer.
func (s *session) audit(sel *selected) []report.Audit {
	classes := s.ds.Classes()
	typical := make([][]int64, len(classes)) // per identity, its base photos nearest the centre
	byLabel := rowsByClass(sel.labels, len(classes))
	for c, rows := range byLabel {
		rows = slices.DeleteFunc(slices.Clone(rows), func(i int) bool { return !sel.base[i] })
		slices.SortStableFunc(rows, func(a, b int) int { return cmp.Compare(sel.cosine[b], sel.cosine[a]) })
		for _, i := range rows[:min(auditTypical, len(rows))] {
			typical[c] = append(typical[c], sel.ids[i])
		}
	}
	byReason := map[string][]int{}
	for i, why := range sel.reason {
		if why != "" {
			byReason[why] = append(byReason[why], i)
		}
	}
	// How sure S2 was: how far below its own centre, or how much nearer the other.
	doubt := func(i int) float64 {
		if sel.nearest[i] >= 0 && !math.IsNaN(float64(sel.nearestCos[i])) && sel.reason[i] != belowT.String() {
			return float64(sel.nearestCos[i] - sel.filedCos[i])
		}
		return -float64(sel.filedCos[i])
	}
	var out []report.Audit
	for _, why := range []removal{belowT, nearerOther, relabeled, undecodable} {
		rows := byReason[why.String()]
		slices.SortStableFunc(rows, func(a, b int) int { return cmp.Compare(doubt(b), doubt(a)) })
		for _, i := range rows[:min(auditPerReason, len(rows))] {
			row, ok := s.ds.Row(sel.ids[i])
			if !ok {
				continue
			}
			a := report.Audit{ID: sel.ids[i], Source: s.ds.Source(row), Identity: classes[sel.filed[i]].Identity,
				Reason: why.String(), Cosine: finiteOr0(sel.filedCos[i]), Typical: typical[sel.filed[i]]}
			if n := sel.nearest[i]; n >= 0 && (why == nearerOther || why == relabeled) {
				a.Suggested, a.SuggestedCosine, a.SuggestedTypical = classes[n].Identity, finiteOr0(sel.nearestCos[i]), typical[n]
			}
			out = append(out, a)
		}
	}
	return out
}

// finiteOr0 is v, or 0 for NaN (JSON has none): the photo had no cosine.
func finiteOr0(v float32) float64 {
	if math.IsNaN(float64(v)) {
		return 0
	}
	return float64(v)
}

// examples picks kept augmentations S4 used, a few per identity, for the report's grid.
func (eq *equalized) examples() []report.Example {
	var out []report.Example
	perLabel := map[int32]int{}
	for k, id := range eq.augIDs {
		l := eq.aug.labels[k]
		if id < 0 || perLabel[l] == examplesPerIdentity || (perLabel[l] == 0 && len(perLabel) == exampleIdentities) {
			continue
		}
		perLabel[l]++
		out = append(out, report.Example{Parent: eq.aug.parents[k], ID: id, Recipe: eq.aug.recipes[k], Sim: eq.aug.sims[k]})
	}
	return out
}

// writeReport writes report.json and report.html into the equalized dataset, with its images:
// photos by their raw dataset id (the audit's removed photos are only there), augmentations from
// the equalized dataset.
func (s *session) writeReport(r *report.Report) error {
	ds, err := arrowio.Open(s.out)
	if err != nil {
		return fmt.Errorf("reopen the equalized dataset: %w", err)
	}
	defer ds.Close()
	return report.Write(s.out, r, func(id int64) []byte {
		if row, ok := s.ds.Row(id); ok {
			return s.ds.Image(row)
		}
		if row, ok := ds.Row(id); ok {
			return ds.Image(row)
		}
		return nil
	})
}

// addHistogram sums two histograms on the same bins; an empty one takes the other's bins.
func addHistogram(a, b report.Histogram) report.Histogram {
	if len(a.Counts) == 0 {
		return report.Histogram{Edges: append([]float64(nil), b.Edges...), Counts: append([]int(nil), b.Counts...)}
	}
	for i := range min(len(a.Counts), len(b.Counts)) {
		a.Counts[i] += b.Counts[i]
	}
	return a
}

// trimHistogram drops the empty bins at either end, so a plot spans the data and the thresholds
// marked on it (marks), not all of [-1, 1].
func trimHistogram(h report.Histogram, marks ...float64) report.Histogram {
	lo, hi := 0, len(h.Counts)
	needed := func(bin int) bool {
		if h.Counts[bin] != 0 {
			return true
		}
		for _, m := range marks {
			if m >= h.Edges[bin] && m < h.Edges[bin+1] {
				return true
			}
		}
		return false
	}
	for lo < hi && !needed(lo) {
		lo++
	}
	for hi > lo && !needed(hi-1) {
		hi--
	}
	if lo == hi {
		return h
	}
	return report.Histogram{Edges: h.Edges[lo : hi+1], Counts: h.Counts[lo:hi]}
}

// findTruth loads the truth of the planted noise: the configured file, else a truth.csv in the
// raw dataset's source folder or the folder above it (synth and plant write DIR/truth.csv beside
// DIR/images); nil when there is none. It is checked against the dataset before any work: a
// configured truth that lists none of its photos is an error, one found beside the source is
// ignored with a warning that says so.
func (s *session) findTruth() (*evaluate.Truth, error) {
	path, explicit := s.cfg.Truth, s.cfg.Truth != ""
	if !explicit {
		src := s.ds.Manifest().Source
		if src == "" {
			return nil, nil
		}
		for _, dir := range []string{src, filepath.Dir(src)} {
			candidate := filepath.Join(dir, "truth.csv")
			if _, err := os.Stat(candidate); err == nil {
				path = candidate
				break
			} else if !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("truth: %w", err)
			}
		}
		if path == "" {
			return nil, nil
		}
	}
	t, err := evaluate.Load(path)
	if err != nil {
		if explicit {
			return nil, fmt.Errorf("truth: %w", err)
		}
		s.log.Warn("truth.csv beside the source is not a truth file: S2 is not scored against it", "truth", path, "err", err)
		return nil, nil
	}
	for row := range s.ds.Len() {
		if t.Lists(s.ds.Source(row)) {
			return t, nil
		}
	}
	example := ""
	if s.ds.Len() > 0 {
		example = s.ds.Source(0)
	}
	if explicit {
		return nil, fmt.Errorf("truth %s lists none of the dataset's photos: its paths must be relative to the imported ImageFolder, like %q", path, example)
	}
	s.log.Warn("truth.csv beside the source lists none of the dataset's photos (paths relative to another folder?): S2 is not scored against it",
		"truth", path, "dataset_path_example", example)
	return nil, nil
}

// scoreTruth scores S2's cleaning against the planted noise; nil when there is no truth. Photos
// are matched by their source path inside the ImageFolder, truth.csv's path column.
func (s *session) scoreTruth(sel *selected) (*report.Truth, error) {
	if s.truth == nil {
		return nil, nil
	}
	labelOf := make(map[string]int32, s.ds.NumClasses())
	for _, c := range s.ds.Classes() {
		labelOf[c.Identity] = c.Label
	}
	decisions := make([]evaluate.Decision, 0, len(sel.base))
	for i, base := range sel.base {
		if row, ok := s.ds.Row(sel.ids[i]); ok {
			decisions = append(decisions, evaluate.Decision{Source: s.ds.Source(row), Filed: sel.filed[i], Assigned: sel.labels[i], Base: base})
		}
	}
	return s.truth.Score(decisions, labelOf)
}
