package offline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/facestream/facestream/offline/report"
	"github.com/facestream/facestream/offline/synth"
)

// premodel is the shipped S1 pre-model, trained on a synth set by examples/train_premodel.py.
const premodel = "../testdata/premodel-synth.onnx"

// TestQualityBar is issue 6's bar, with the shipped pre-model and every default: on a synth set with
// 5 % of photos filed under the wrong identity (and 1 % junk), S2 removes at least 90 % of the noisy
// photos and keeps at least 95 % of the clean ones, and the equalized identity distribution has a
// normalised entropy of at least 0.99.
func TestQualityBar(t *testing.T) {
	needRuntime(t)
	if _, err := os.Stat(premodel); err != nil {
		t.Skipf("the shipped pre-model is not there: %v", err)
	}
	dir := t.TempDir()
	raw := synthRaw(t, dir, synth.Options{Identities: 150, Seed: 2026, Noise: 0.05, Junk: 0.01, Size: 112})
	out := filepath.Join(dir, "eq")
	p, logs := pipeline(raw, out, premodel)
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
		t.Fatal("the report has no truth: truth.csv beside the synth images was not found")
	}
	t.Logf("S2 at t = %s (%.4f): removed %d/%d noisy photos (%.1f %%), kept %d/%d clean (%.1f %%), precision %.3f",
		r.S2.TSpec, r.S2.T, truth.NoiseRemoved, truth.NoiseTotal, 100*truth.NoiseRemovedRate,
		truth.CleanKept, truth.CleanTotal, 100*truth.CleanKeptRate, truth.Precision)
	t.Logf("S3 (a, b) = (%.4f, %.4f): kept %d of %d candidates; S4 target %d: identity entropy %.4f raw → %.4f equalized",
		r.S3.A, r.S3.B, r.S3.Accepted, r.S3.Attempts, r.S4.Target, r.S4.Before.Entropy, r.S4.After.Entropy)
	if truth.NoiseRemovedRate < 0.90 {
		t.Errorf("S2 removed %.1f %% of the mislabeled and junk photos, the bar is 90 %%", 100*truth.NoiseRemovedRate)
	}
	if truth.CleanKeptRate < 0.95 {
		t.Errorf("S2 kept %.1f %% of the clean photos, the bar is 95 %%", 100*truth.CleanKeptRate)
	}
	if r.S4.After.Entropy < 0.99 {
		t.Errorf("equalized identity entropy %.4f, the bar is 0.99", r.S4.After.Entropy)
	}
}
