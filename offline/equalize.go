package offline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/facestream/facestream/arrowio"
)

// targetSize resolves S4's target T over the clean identity sizes: "median", a number or a quantile.
func targetSize(spec Spec, clean []int) (int, error) {
	sizes := nonZeroSorted(clean)
	if len(sizes) == 0 {
		return 0, fmt.Errorf("no identity has a clean photo")
	}
	v, err := spec.Resolve(sizes, map[string]float64{"median": quantile(sizes, 0.5)})
	if err != nil {
		return 0, err
	}
	if v < 1 {
		return 0, fmt.Errorf("%s resolves to %.3g photos; want at least 1", spec, v)
	}
	return int(math.Round(v)), nil
}

// headCap resolves the most draws per epoch of one identity; 0 is no cap.
func headCap(spec Spec, clean []int) (int, error) {
	if strings.TrimSpace(string(spec)) == "none" {
		return 0, nil
	}
	v, err := spec.Resolve(nonZeroSorted(clean), nil)
	if err != nil {
		return 0, err
	}
	if v < 1 {
		return 0, fmt.Errorf("%s resolves to %.3g draws; want at least 1 (or none)", spec, v)
	}
	return int(math.Round(v)), nil
}

func nonZeroSorted(n []int) []float64 {
	var v []float32
	for _, x := range n {
		if x > 0 {
			v = append(v, float32(x))
		}
	}
	return sortedFloat64(v)
}

// quotas are the draws per epoch of identities of sizes count (clean photos plus the augmentations
// S4 uses). balanced: every identity T (the sampler repeats what it lacks); sqrt: LVIS repeat factors,
// size × max(1, √(T/size)), so the tail is lifted towards T and the head left as it is. cap > 0
// bounds every quota.
func quotas(policy string, target, cap int, count []int) []int {
	q := make([]int, len(count))
	for c, n := range count {
		if n == 0 {
			continue
		}
		switch policy {
		case PolicySqrt:
			q[c] = int(math.Round(float64(n) * max(1, math.Sqrt(float64(target)/float64(n)))))
		default:
			q[c] = target
		}
		if cap > 0 {
			q[c] = min(q[c], cap)
		}
	}
	return q
}

// used is how many of an identity's kept augmentations S4 takes: what it lacks of T, no more,
// so originals come first and augmentations only fill.
func used(target, clean, kept int) int { return min(kept, max(0, target-clean)) }

// The report's files in the equalized dataset (arrowio names the others).
const (
	reportJSON = "report/report.json"
	reportHTML = "report/report.html"
)

func (s *session) equalizeSpec(selRec *record, augRecs []*record) (*stageSpec, error) {
	inputs := append([]string{s.rawFP, selRec.outputsFingerprint()}, fingerprints(augRecs...)...)
	// The report, an output of S4, scores S2 against the truth: a changed truth rewrites it.
	if s.truth != nil {
		info, err := arrowio.HashFile(s.truth.Path())
		if err != nil {
			return nil, fmt.Errorf("truth: %w", err)
		}
		inputs = append(inputs, info.SHA256)
	}
	return &stageSpec{name: "equalize", inputs: inputs, root: s.out, params: s.cfg.Equalize}, nil
}

// equalize is S4 over every augmented part (count parts; 0: whichever split is complete): quotas
// and weights, the equalized dataset, and the report.
func (s *session) equalize(ctx context.Context, count int) error {
	selRec, embedded, err := s.currentSelect(count)
	if err != nil {
		return err
	}
	augRecs, err := s.completeParts("augment", count, func(p Part) (*stageSpec, error) { return s.augmentSpec(p, selRec) })
	if err != nil {
		return err
	}
	spec, err := s.equalizeSpec(selRec, augRecs)
	if err != nil {
		return err
	}
	_, err = s.stages.run(ctx, spec, func() ([]string, any, error) {
		start := time.Now()
		eq, err := s.buildEqualized(selRec, augRecs)
		if err != nil {
			return nil, nil, err
		}
		outputs, err := s.writeEqualized(eq, embedded, selRec, augRecs)
		if err != nil {
			return nil, nil, err
		}
		rep, err := s.buildReport(eq, selRec, embedded, augRecs, time.Since(start).Seconds())
		if err != nil {
			return nil, nil, err
		}
		if err := s.writeReport(rep); err != nil {
			return nil, nil, err
		}
		return append(outputs, reportJSON, reportHTML), eq.stats(), nil
	})
	return err
}

// equalized is S4's plan: what goes into the dataset, with which quota and weight.
type equalized struct {
	sel        *selected
	aug        augmented
	augStats   []augmentStats
	target     int
	cap        int
	clean      []int // per identity
	augKept    []int // S3's kept augmentations per identity
	augUsed    []int // of which S4 takes
	quota      []int
	weight     []float32 // per identity, for each of its photos
	firstAugID int64     // augmentations get ids after the raw dataset's largest
	augIDs     []int64   // the id each of S3's kept augmentations got; -1 when S4 did not use it
}

func (e *equalized) stats() any {
	return struct {
		Target int `json:"target"`
		Cap    int `json:"cap"`
	}{e.target, e.cap}
}

func (s *session) buildEqualized(selRec *record, augRecs []*record) (*equalized, error) {
	sel, err := s.readSelection(selRec)
	if err != nil {
		return nil, err
	}
	classes := s.ds.NumClasses()
	eq := &equalized{sel: sel, clean: sel.cleanSizes(classes), augKept: make([]int, classes), augUsed: make([]int, classes)}
	for _, rec := range augRecs {
		var st augmentStats
		if err := rec.stats(&st); err != nil {
			return nil, err
		}
		eq.augStats = append(eq.augStats, st)
		for _, out := range rec.Outputs {
			if err := readAugmented(filepath.Join(rec.Root, out.File), &eq.aug); err != nil {
				return nil, err
			}
		}
	}
	for _, l := range eq.aug.labels {
		if l < 0 || int(l) >= classes {
			return nil, fmt.Errorf("an augmentation has label %d outside 0..%d", l, classes-1)
		}
		eq.augKept[l]++
	}
	if eq.target, err = targetSize(s.cfg.Equalize.Target, eq.clean); err != nil {
		return nil, fmt.Errorf("equalize.target: %w", err)
	}
	if eq.cap, err = headCap(s.cfg.Equalize.Cap, eq.clean); err != nil {
		return nil, fmt.Errorf("equalize.cap: %w", err)
	}
	count := make([]int, classes)
	for c := range classes {
		eq.augUsed[c] = used(eq.target, eq.clean[c], eq.augKept[c])
		count[c] = eq.clean[c] + eq.augUsed[c]
	}
	eq.quota = quotas(s.cfg.Equalize.Policy, eq.target, eq.cap, count)
	eq.weight = make([]float32, classes)
	for c, n := range count {
		if n > 0 {
			eq.weight[c] = float32(eq.quota[c]) / float32(n)
		}
	}
	for _, id := range sel.ids {
		eq.firstAugID = max(eq.firstAugID, id+1)
	}
	return eq, nil
}

// writeEqualized writes the dataset: the base photos under their own ids, then the augmentations
// each identity uses, in label order, under fresh ids; with them the embeddings of every sample,
// S2's centres and its list of removed photos. It returns the files written, relative to the
// output folder.
func (s *session) writeEqualized(eq *equalized, embedded []*record, selRec *record, augRecs []*record) ([]string, error) {
	all, err := s.readEmbedded(embedded) // id order, as eq.sel
	if err != nil {
		return nil, err
	}
	man := s.ds.Manifest()
	w, err := arrowio.Create(s.out, arrowio.WriterOptions{Kind: arrowio.KindEqualized, Source: s.source, Force: true,
		ImageHeight: man.ImageHeight, ImageWidth: man.ImageWidth})
	if err != nil {
		return nil, err
	}
	outputs, err := s.fillEqualized(w, eq, all)
	if err == nil {
		err = s.recordStages(w, embedded, selRec, augRecs)
	}
	if err != nil {
		w.Abort()
		return nil, err
	}
	classes := make([]arrowio.Class, s.ds.NumClasses())
	for c, raw := range s.ds.Classes() {
		classes[c] = arrowio.Class{Label: int32(c), Identity: raw.Identity, RawCount: raw.Count,
			CleanCount: int32(eq.clean[c]), AugCount: int32(eq.augUsed[c]), Quota: int32(eq.quota[c])}
	}
	written, err := w.Finish(classes)
	if err != nil {
		return nil, err
	}
	outputs = append(outputs, arrowio.ManifestName, written.Classes.File)
	for _, sh := range written.Shards {
		outputs = append(outputs, sh.File)
	}
	return outputs, nil
}

// fillEqualized appends the samples and writes the extra files, returning their names.
func (s *session) fillEqualized(w *arrowio.Writer, eq *equalized, all *embeddings) ([]string, error) {
	sel := eq.sel
	emb := &embeddings{dim: sel.dim}
	for i, id := range sel.ids {
		if !sel.base[i] {
			continue
		}
		if all.ids[i] != id {
			return nil, fmt.Errorf("embeddings and S2's cosines disagree at photo %d", id)
		}
		row, _ := s.ds.Row(id) // readSelection checked every id
		l := sel.labels[i]
		err := w.Append(&arrowio.Sample{ID: id, Label: l, Image: s.ds.Image(row), Origin: arrowio.OriginOriginal,
			Parent: -1, Weight: eq.weight[l], Sim: sel.cosine[i], Source: s.ds.Source(row)})
		if err != nil {
			return nil, err
		}
		emb.ids, emb.labels, emb.emb = append(emb.ids, id), append(emb.labels, l), append(emb.emb, all.row(i)...)
	}
	aug := &eq.aug
	taken := make([]int, len(eq.augUsed))
	eq.augIDs = make([]int64, len(aug.labels))
	id := eq.firstAugID
	for k, l := range aug.labels {
		eq.augIDs[k] = -1
		if taken[l] == eq.augUsed[l] {
			continue
		}
		row, ok := s.ds.Row(aug.parents[k])
		if !ok {
			return nil, fmt.Errorf("augmentation of photo %d: no such photo in the dataset", aug.parents[k])
		}
		err := w.Append(&arrowio.Sample{ID: id, Label: l, Image: aug.images[k], Origin: arrowio.OriginAugmented,
			Parent: aug.parents[k], Weight: eq.weight[l], Sim: aug.sims[k], Recipe: aug.recipes[k],
			Source: fmt.Sprintf("%s#aug%d", s.ds.Source(row), taken[l])})
		if err != nil {
			return nil, err
		}
		taken[l]++
		eq.augIDs[k] = id
		emb.ids, emb.labels = append(emb.ids, id), append(emb.labels, l)
		emb.emb = append(emb.emb, aug.emb[k*sel.dim:(k+1)*sel.dim]...)
		id++
	}
	path, err := w.Path(arrowio.EmbeddingsFile)
	if err != nil {
		return nil, err
	}
	if err := writeEmbeddings(path, emb); err != nil {
		return nil, err
	}
	copied := []string{arrowio.CentersNPYFile, arrowio.CentersFile, removedCSV}
	for _, rel := range copied {
		data, err := os.ReadFile(filepath.Join(s.work, rel))
		if err != nil {
			return nil, fmt.Errorf("copy S2's output: %w", err)
		}
		if err := w.WriteFile(rel, data); err != nil {
			return nil, err
		}
	}
	return append(copied, arrowio.EmbeddingsFile), nil
}

// recordStages writes every stage's parameters and fingerprint into the manifest.
func (s *session) recordStages(w *arrowio.Writer, embedded []*record, selRec *record, augRecs []*record) error {
	model, err := s.model()
	if err != nil {
		return err
	}
	groups := []struct {
		name string
		recs []*record
	}{{"embed", embedded}, {"select", []*record{selRec}}, {"augment", augRecs}}
	for _, g := range groups {
		params, err := paramsMap(g.recs[0].Params)
		if err != nil {
			return err
		}
		delete(params, "part")
		st := arrowio.Stage{Params: params, Fingerprint: strings.Join(fingerprints(g.recs...), ",")}
		if g.recs[0].Model != "" {
			st.Model = model
		}
		w.SetStage(g.name, st)
	}
	params, err := paramsMap(s.cfg.Equalize)
	if err != nil {
		return err
	}
	w.SetStage("equalize", arrowio.Stage{Params: params})
	return nil
}

// paramsMap turns a stage's parameters into the manifest's generic form.
func paramsMap(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode parameters: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("encode parameters: %w", err)
	}
	return m, nil
}
