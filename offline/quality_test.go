package offline

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/internal/racedetect"
	"github.com/facestream/facestream/internal/realdata"
	"github.com/facestream/facestream/offline/ingest"
	"github.com/facestream/facestream/offline/plant"
	"github.com/facestream/facestream/offline/report"
	"github.com/facestream/facestream/offline/synth"
)

// premodel is the shipped S1 pre-model, trained on a synth set by examples/train_premodel.py.
const premodel = "../testdata/premodel-synth.onnx"

// TestQualityBar is S2's bar on synth, with the shipped pre-model and every default: on a synth set with
// 5 % of photos filed under the wrong identity (and 1 % junk), S2 removes at least 90 % of the noisy
// photos and keeps at least 95 % of the clean ones, and the equalized identity distribution has a
// normalised entropy of at least 0.99.
func TestQualityBar(t *testing.T) {
	if racedetect.Enabled {
		t.Skip("quality figures, not concurrency: TestPipelineRunsResumesAndSplits runs the same stages under -race")
	}
	needRuntime(t)
	if _, err := os.Stat(premodel); err != nil {
		t.Skipf("the shipped pre-model is not there: %v", err)
	}
	dir := t.TempDir()
	raw := synthRaw(t, dir, synth.Options{Identities: 150, Seed: 2026, Noise: 0.05, Junk: 0.01, Size: 112})
	r := runAndReport(t, raw, filepath.Join(dir, "eq"), premodel, DefaultConfig())
	truth := r.S2.Truth
	if truth.NoiseRemovedRate < 0.90 {
		t.Errorf("S2 removed %.1f %% of the mislabeled and junk photos, the bar is 90 %%", 100*truth.NoiseRemovedRate)
	}
	if truth.CleanKeptRate < 0.95 {
		t.Errorf("S2 kept %.1f %% of the clean photos, the bar is 95 %%", 100*truth.CleanKeptRate)
	}
	if r.S4.After.Entropy < 0.99 {
		t.Errorf("equalized identity entropy %.4f, the bar is 0.99", r.S4.After.Entropy)
	}

	// The same with action relabel: mislabeled photos move to the identity they show, and the
	// equalized dataset files them there.
	cfg := DefaultConfig()
	cfg.Select.Action = ActionRelabel
	out := filepath.Join(dir, "relabel")
	r = runAndReport(t, raw, out, premodel, cfg)
	var mislabeled report.KindScore
	for _, k := range r.S2.Truth.Kinds {
		if k.Kind == string(synth.Mislabeled) {
			mislabeled = k
		}
		if k.Kind != string(synth.Mislabeled) && k.Relabeled > k.Total/20 {
			t.Errorf("%d of %d %s photos relabeled", k.Relabeled, k.Total, k.Kind)
		}
	}
	if mislabeled.Relabeled < mislabeled.Total/2 || mislabeled.RelabeledRight < mislabeled.Relabeled*9/10 {
		t.Errorf("relabeled %d of %d mislabeled photos, %d to the identity they show", mislabeled.Relabeled, mislabeled.Total, mislabeled.RelabeledRight)
	}
	checkRelabeled(t, raw, out, r.S2.Relabeled)
}

// checkRelabeled checks that the equalized dataset in out files each photo removed.csv lists as
// relabeled under its suggested identity, and that there are want of them.
func checkRelabeled(t *testing.T, raw, out string, want int) {
	t.Helper()
	rawDS, err := arrowio.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer rawDS.Close()
	eq, err := arrowio.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer eq.Close()
	f, err := os.Open(filepath.Join(out, "report", "removed.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	bySource := map[string]int{}
	for row := range rawDS.Len() {
		bySource[rawDS.Source(row)] = row
	}
	label := map[string]int32{}
	for _, c := range eq.Classes() {
		label[c.Identity] = c.Label
	}
	n := 0
	for _, line := range lines[1:] {
		if line[3] != relabeled.String() {
			continue
		}
		n++
		row, ok := eq.Row(rawDS.ID(bySource[line[0]]))
		if !ok || eq.Label(row) != label[line[4]] {
			t.Errorf("relabeled photo %s is not filed under %s in the equalized dataset (found %v)", line[0], line[4], ok)
		}
	}
	if n != want || n == 0 {
		t.Errorf("removed.csv lists %d relabeled photos, the report %d", n, want)
	}
}

// TestRealFacesQualityBar is S2's bar on real photographs with a real model, every default:
// lfw-ak's people with at least 5 photos, 5 % of photos moved to another identity and as many
// photos of people outside the set filed under an identity; S2 removes ≥ 99 % of the mislabeled
// photos and ≥ 90 % of the outsiders, and keeps ≥ 98.5 % of the clean ones. It skips when the
// team's ../shared folder is absent.
func TestRealFacesQualityBar(t *testing.T) {
	if racedetect.Enabled {
		t.Skip("quality figures, not concurrency: TestPipelineRunsResumesAndSplits runs the same stages under -race")
	}
	needRuntime(t)
	faces, model := realdata.Faces(t), realdata.Model(t)
	dir := t.TempDir()
	planted := filepath.Join(dir, "planted")
	opts := plant.Options{Mislabel: 0.05, Outsiders: 0.05, MinPhotos: 5, Seed: 1}
	if _, err := plant.Plant(context.Background(), faces, planted, opts); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "raw")
	_, err := ingest.Import(context.Background(), ingest.Options{Format: ingest.FormatImageFolder,
		Source: filepath.Join(planted, "images"), Out: raw})
	if err != nil {
		t.Fatal(err)
	}
	r := runAndReport(t, raw, filepath.Join(dir, "eq"), model, DefaultConfig())
	bars := map[synth.Kind]float64{synth.Clean: 1 - 0.985, synth.Mislabeled: 0.99, synth.Outsider: 0.90}
	for _, k := range r.S2.Truth.Kinds {
		bar, ok := bars[synth.Kind(k.Kind)]
		switch {
		case !ok:
			t.Errorf("kind %q in the truth", k.Kind)
		case k.Kind == string(synth.Clean) && k.RemovedRate > bar:
			t.Errorf("S2 kept %.1f %% of the clean photos, the bar is 98.5 %%", 100*(1-k.RemovedRate))
		case k.Kind != string(synth.Clean) && k.RemovedRate < bar:
			t.Errorf("S2 removed %.1f %% of the %s photos, the bar is %.0f %%", 100*k.RemovedRate, k.Kind, 100*bar)
		}
		delete(bars, synth.Kind(k.Kind))
	}
	if len(bars) != 0 {
		t.Errorf("the truth has no row for %v", bars)
	}
}

// runAndReport runs every stage with cfg (and model) on raw into out and returns the report,
// which must score S2 against a truth.csv beside the source; it logs the figures.
func runAndReport(t *testing.T, raw, out, model string, cfg Config) *report.Report {
	t.Helper()
	p, logs := pipeline(raw, out, model)
	cfg.Model = model
	p.Config = cfg
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	data, err := os.ReadFile(filepath.Join(out, "report", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	truth := r.S2.Truth
	if truth == nil {
		t.Fatal("the report has no truth: truth.csv beside the source images was not found")
	}
	t.Logf("S2 at t = %s (%.4f): removed %d/%d noisy photos (%.1f %%), kept %d/%d clean (%.1f %%), precision %.3f",
		r.S2.TSpec, r.S2.T, truth.NoiseRemoved, truth.NoiseTotal, 100*truth.NoiseRemovedRate,
		truth.CleanKept, truth.CleanTotal, 100*truth.CleanKeptRate, truth.Precision)
	for _, k := range truth.Kinds {
		t.Logf("  %-10s %5d photos, %.1f %% removed, %d relabeled (%d to the identity they show)", k.Kind, k.Total, 100*k.RemovedRate, k.Relabeled, k.RelabeledRight)
	}
	t.Logf("S3 (a, b) = (%.4f, %.4f): kept %d of %d candidates; S4 target %d: identity entropy %.4f raw → %.4f equalized",
		r.S3.A, r.S3.B, r.S3.Accepted, r.S3.Attempts, r.S4.Target, r.S4.Before.Entropy, r.S4.After.Entropy)
	return &r
}
