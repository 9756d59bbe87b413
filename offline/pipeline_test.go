package offline

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/offline/embed"
	"github.com/facestream/facestream/offline/ingest"
	"github.com/facestream/facestream/offline/synth"
)

// fixtureModel is a tiny random embedding net of the embedder's tests: it exercises every stage,
// not the quality of the cleaning (that is TestQualityBar's, with the shipped pre-model).
const fixtureModel = "embed/testdata/nchw128.onnx"

// needRuntime skips a test when ONNX Runtime is not installed (make setup installs it).
func needRuntime(t testing.TB) {
	t.Helper()
	if _, err := embed.LibraryPath(""); err != nil {
		t.Skipf("ONNX Runtime is not available: %v", err)
	}
}

// synthRaw generates a synthetic set and imports it as a raw dataset; it returns the raw dataset.
func synthRaw(t testing.TB, dir string, opts synth.Options) string {
	t.Helper()
	src := filepath.Join(dir, "synth")
	if _, err := synth.Generate(context.Background(), src, opts); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "raw")
	_, err := ingest.Import(context.Background(), ingest.Options{Format: ingest.FormatImageFolder,
		Source: filepath.Join(src, "images"), Out: raw})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// pipeline makes a Pipeline whose log the test reads.
func pipeline(raw, out, model string) (*Pipeline, *bytes.Buffer) {
	var logs bytes.Buffer
	cfg := DefaultConfig()
	cfg.Model = model
	return &Pipeline{Dataset: raw, Out: out, Config: cfg, Log: slog.New(slog.NewTextHandler(&logs, nil))}, &logs
}

// shardHashes identifies an equalized dataset's content: its shards and classes.
func shardHashes(t testing.TB, dir string) []string {
	t.Helper()
	m, err := arrowio.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m.ContentHashes()
}

var stageLine = regexp.MustCompile(`msg="stage (running|up to date, skipped)" stage=(\w+)`)

// stagesRan lists, from a run's log, which stages ran and which were skipped.
func stagesRan(logs string) (ran, skipped []string) {
	for _, m := range stageLine.FindAllStringSubmatch(logs, -1) {
		if m[1] == "running" {
			ran = append(ran, m[2])
		} else {
			skipped = append(skipped, m[2])
		}
	}
	return ran, skipped
}

func TestPipelineRunsResumesAndSplits(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	raw := synthRaw(t, dir, synth.Options{Identities: 24, Seed: 3, Noise: 0.05, Junk: 0.01, Size: 64})
	out := filepath.Join(dir, "eq")
	p, logs := pipeline(raw, out, fixtureModel)
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	want := shardHashes(t, out)
	checkEqualized(t, raw, out)

	rerun := func(name string, damage func(), wantRan []string) {
		t.Helper()
		damage()
		p, logs := pipeline(raw, out, fixtureModel)
		if err := p.Run(context.Background()); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, logs)
		}
		ran, skipped := stagesRan(logs.String())
		if !slices.Equal(ran, wantRan) || len(ran)+len(skipped) != 4 {
			t.Fatalf("%s: stages ran %v, skipped %v; want ran %v\n%s", name, ran, skipped, wantRan, logs)
		}
		if got := shardHashes(t, out); !slices.Equal(got, want) {
			t.Fatalf("%s: the equalized dataset changed: %v, was %v", name, got, want)
		}
	}
	work := filepath.Join(out, ".work")
	killAndResume(t, raw, filepath.Join(dir, "killed"), want)
	rerun("unchanged", func() {}, nil)
	// S3 remade gives the same bytes, so S4, whose inputs are S3's output hashes, stays done.
	rerun("corrupt S3 output", func() {
		os.WriteFile(filepath.Join(work, augmentFile(Part{0, 1})), []byte("torn"), 0o644)
	}, []string{"augment"})
	rerun("lost shard", func() { os.Remove(filepath.Join(out, "shards", "part-00000.arrow")) }, []string{"equalize"})
	rerun("killed after S2", func() {
		os.Remove(filepath.Join(work, "stages", "augment-00000-of-00001.json"))
		os.RemoveAll(filepath.Join(out, "shards"))
		os.Remove(filepath.Join(out, arrowio.ManifestName))
	}, []string{"augment", "equalize"})
	rerun("removed embeddings", func() { os.RemoveAll(filepath.Join(work, "embeddings")) }, []string{"embed"})

	// Changed parameters rerun what they touch and nothing upstream.
	p, logs = pipeline(raw, out, fixtureModel)
	p.Config.Equalize.Policy = PolicySqrt
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran, _ := stagesRan(logs.String()); !slices.Equal(ran, []string{"equalize"}) {
		t.Fatalf("a policy change ran %v, want equalize alone\n%s", ran, logs)
	}

	// Another seed draws other recipes: S3 and S4 rerun and write other augmentations.
	p, logs = pipeline(raw, out, fixtureModel)
	p.Config.Seed = 2
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran, _ := stagesRan(logs.String()); !slices.Equal(ran, []string{"augment", "equalize"}) {
		t.Fatalf("a seed change ran %v, want augment and equalize\n%s", ran, logs)
	}
	if got := shardHashes(t, out); slices.Equal(got, want) {
		t.Fatal("another seed wrote the same dataset")
	}

	// A threshold that moves no photo writes the same S2 files, but S3 reads the resolved t (its
	// default a) and the report prints it: both rerun.
	p, logs = pipeline(raw, out, fixtureModel)
	p.Config.Seed = 2
	p.Config.Select.T = "0.6500001"
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran, _ := stagesRan(logs.String()); !slices.Equal(ran, []string{"select", "augment", "equalize"}) {
		t.Fatalf("a t change ran %v, want select, augment and equalize\n%s", ran, logs)
	}

	// Split jobs, merged by select and equalize, give the same dataset as one run.
	ctx := context.Background()
	split := filepath.Join(dir, "split")
	p, logs = pipeline(raw, split, fixtureModel)
	steps := []func(context.Context) error{
		func(ctx context.Context) error { return p.Embed(ctx, Part{1, 2}) },
		func(ctx context.Context) error { return p.Embed(ctx, Part{0, 2}) },
		// The nearest-centre check in three jobs: pass 1, then (robust centres) pass 2, which the
		// last job starts at once as the other pass-1 parts are done, and the others on a rerun.
		func(ctx context.Context) error { return p.SelectPart(ctx, Part{0, 3}) },
		func(ctx context.Context) error { return p.SelectPart(ctx, Part{1, 3}) },
		func(ctx context.Context) error { return p.SelectPart(ctx, Part{2, 3}) },
		func(ctx context.Context) error { return p.SelectPart(ctx, Part{0, 3}) },
		func(ctx context.Context) error { return p.SelectPart(ctx, Part{1, 3}) },
		p.Select,
		func(ctx context.Context) error { return p.Augment(ctx, Part{0, 2}) },
		func(ctx context.Context) error { return p.Augment(ctx, Part{1, 2}) },
		p.Equalize,
	}
	if err := p.Augment(ctx, Part{0, 2}); err == nil || !strings.Contains(err.Error(), "not done") {
		t.Fatalf("augment before embed: err = %v, want one saying what is not done", err)
	}
	for i, step := range steps {
		if i == 9 {
			if err := p.Equalize(ctx); err == nil || !strings.Contains(err.Error(), "augment-00001-of-00002") {
				t.Fatalf("equalize before augment: err = %v, want one naming the missing part", err)
			}
		}
		if err := step(ctx); err != nil {
			t.Fatalf("split step %d: %v\n%s", i, err, logs)
		}
	}
	if got := shardHashes(t, split); !slices.Equal(got, want) {
		t.Fatalf("the split run wrote %v, the single run %v", got, want)
	}
	ran, _ := stagesRan(logs.String())
	wantRan := []string{"embed", "embed", "nearest1", "nearest1", "nearest1", "nearest2", "nearest2", "nearest2", "select", "augment", "augment", "equalize"}
	if !slices.Equal(ran, wantRan) || !strings.Contains(logs.String(), "waits for every pass-1 part") ||
		!strings.Contains(logs.String(), "from the split jobs") {
		t.Fatalf("split stages ran %v, want %v, select taking both passes from the split jobs\n%s", ran, wantRan, logs)
	}
}

// killAndResume runs the pipeline in a child process, kills it (SIGKILL) once S2's embedding is
// done, wherever it is then, and reruns: the finished stages are skipped and the dataset comes out
// with the bytes of an uninterrupted run.
func killAndResume(t *testing.T, raw, out string, want []string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPipelineChild$")
	cmd.Env = append(os.Environ(), "FACESTREAM_OFFLINE_CHILD="+raw+string(filepath.ListSeparator)+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	embedded := filepath.Join(out, ".work", "stages", "embed-00000-of-00001.json")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(embedded); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child did not finish embedding in a minute")
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() // killed: its error says so
	p, logs := pipeline(raw, out, fixtureModel)
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("rerun after a kill: %v\n%s", err, logs)
	}
	ran, skipped := stagesRan(logs.String())
	if !slices.Contains(skipped, "embed") {
		t.Fatalf("the rerun after a kill redid the embedding\n%s", logs)
	}
	t.Logf("after the kill, the rerun ran %v and skipped %v", ran, skipped)
	if got := shardHashes(t, out); !slices.Equal(got, want) {
		t.Fatalf("killed and rerun: %v, uninterrupted: %v", got, want)
	}
}

// TestPipelineChild is the process killAndResume kills; it does nothing in a normal test run.
func TestPipelineChild(t *testing.T) {
	dirs := os.Getenv("FACESTREAM_OFFLINE_CHILD")
	if dirs == "" {
		t.Skip("runs only as killAndResume's child")
	}
	raw, out, _ := strings.Cut(dirs, string(filepath.ListSeparator))
	p, logs := pipeline(raw, out, fixtureModel)
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
}

// checkEqualized checks what an equalized dataset promises: originals keep their ids and bytes,
// augmentations follow with parents of their identity, weights are quota/count, the audit file
// lists every removed photo.
func checkEqualized(t *testing.T, rawDir, eqDir string) {
	t.Helper()
	raw, err := arrowio.Open(rawDir)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	eq, err := arrowio.Open(eqDir)
	if err != nil {
		t.Fatal(err)
	}
	defer eq.Close()
	if err := eq.Verify(); err != nil {
		t.Fatal(err)
	}
	if eq.Manifest().Kind != arrowio.KindEqualized {
		t.Fatalf("kind %s", eq.Manifest().Kind)
	}
	for _, st := range []string{"embed", "select", "augment", "equalize"} {
		if _, ok := eq.Manifest().Stages[st]; !ok {
			t.Errorf("manifest lacks stage %s", st)
		}
	}
	classes := eq.Classes()
	count := make([]int, len(classes))
	var maxRaw int64
	for row := range raw.Len() {
		maxRaw = max(maxRaw, raw.ID(row))
	}
	augmented := 0
	for row := range eq.Len() {
		s := eq.Sample(row)
		count[s.Label]++
		if s.Origin == arrowio.OriginOriginal {
			rr, ok := raw.Row(s.ID)
			if !ok || !bytes.Equal(raw.Image(rr), s.Image) || raw.Label(rr) != s.Label || s.Parent != -1 {
				t.Fatalf("original %d does not match the raw photo", s.ID)
			}
			continue
		}
		augmented++
		pr, ok := raw.Row(s.Parent)
		if s.ID <= maxRaw || !ok || raw.Label(pr) != s.Label || s.Recipe == "" || s.Sim <= 0 {
			t.Fatalf("augmentation %+v: bad id, parent or recipe", s)
		}
	}
	if augmented == 0 {
		t.Fatal("no augmentation made it into the dataset")
	}
	for row := range eq.Len() {
		c := classes[eq.Label(row)]
		if want := float32(c.Quota) / float32(count[c.Label]); eq.Weight(row) != want {
			t.Fatalf("row %d weight %v, want quota/count %v", row, eq.Weight(row), want)
		}
	}
	removed := 0
	for _, c := range classes {
		removed += int(c.RawCount - c.CleanCount)
		if int(c.Count) != count[c.Label] || c.Count != c.CleanCount+c.AugCount || c.Quota <= 0 {
			t.Fatalf("class %+v, counted %d", c, count[c.Label])
		}
	}
	f, err := os.Open(filepath.Join(eqDir, "report", "removed.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := csv.NewReader(f).ReadAll()
	header := []string{"source", "identity", "cosine", "reason", "suggested_identity", "suggested_cosine"}
	if err != nil || len(lines)-1 != removed || !slices.Equal(lines[0], header) {
		t.Fatalf("removed.csv: %d lines, %v; want a header and %d photos", len(lines), err, removed)
	}
	for _, line := range lines[1:] {
		if line[3] != belowT.String() && line[3] != nearerOther.String() {
			t.Fatalf("removed.csv: photo %s removed for %q", line[0], line[3])
		}
		if (line[3] == nearerOther.String()) != (line[4] != "" && line[5] != "") {
			t.Fatalf("removed.csv: photo %s removed for %q suggests %q at %q", line[0], line[3], line[4], line[5])
		}
	}
	for _, name := range []string{"report/report.json", "report/report.html", arrowio.CentersNPYFile, arrowio.CentersFile, arrowio.EmbeddingsFile} {
		if _, err := os.Stat(filepath.Join(eqDir, name)); err != nil {
			t.Error(err)
		}
	}
	e, err := readEmbeddings(filepath.Join(eqDir, arrowio.EmbeddingsFile))
	if err != nil || e.len() != eq.Len() {
		t.Fatalf("embeddings of the equalized dataset: %v rows, %v; want %d", e.len(), err, eq.Len())
	}
}

// BenchmarkOfflineRun times the whole offline run (S2–S4, report included) on a demo-sized synth set
// of 300 identities, with the shipped pre-model when it is there. Run with -benchtime=1x: each
// iteration starts from an empty output folder.
func BenchmarkOfflineRun(b *testing.B) {
	needRuntime(b)
	model := premodel
	if _, err := os.Stat(model); err != nil {
		model = fixtureModel
	}
	b.Logf("model %s", model)
	dir := b.TempDir()
	raw := synthRaw(b, dir, synth.Options{Identities: 300, Seed: 11, Noise: 0.05, Junk: 0.01, Size: 112})
	ds, err := arrowio.Open(raw)
	if err != nil {
		b.Fatal(err)
	}
	photos := ds.Len()
	ds.Close()
	b.ResetTimer()
	for i := range b.N {
		p, logs := pipeline(raw, filepath.Join(dir, "eq", strconv.Itoa(i)), model)
		if err := p.Run(context.Background()); err != nil {
			b.Fatalf("%v\n%s", err, logs)
		}
	}
	b.ReportMetric(float64(photos*b.N)/b.Elapsed().Seconds(), "photos/s")
	data, err := os.ReadFile(filepath.Join(dir, "eq", "0", "report", "report.json"))
	if err != nil {
		b.Fatal(err)
	}
	var r struct{ Timings map[string]float64 }
	if err := json.Unmarshal(data, &r); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d photos; seconds per stage: %v", photos, r.Timings)
}

// TestTruthThatMatchesNothing: a truth.csv beside the source whose paths are relative to another
// folder is a warning and the run goes on unscored; the same file given with --truth is an error
// before any stage runs.
func TestTruthThatMatchesNothing(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	raw := synthRaw(t, dir, synth.Options{Identities: 8, Seed: 5, Noise: 0.05, Size: 64})
	beside := filepath.Join(dir, "synth", "truth.csv")
	photos, err := synth.ReadTruth(beside)
	if err != nil {
		t.Fatal(err)
	}
	for i := range photos {
		photos[i].Path = "images/" + photos[i].Path // relative to DIR, not to DIR/images
	}
	if err := synth.WriteTruth(beside, photos); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "eq")
	p, logs := pipeline(raw, out, fixtureModel)
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("a truth beside the source that matches nothing stopped the run: %v\n%s", err, logs)
	}
	if !strings.Contains(logs.String(), "lists none of the dataset's photos") {
		t.Errorf("no warning about the truth:\n%s", logs)
	}
	data, err := os.ReadFile(filepath.Join(out, "report", "report.json"))
	if err != nil || strings.Contains(string(data), `"truth"`) {
		t.Errorf("the report scores an unmatched truth (%v)", err)
	}

	p, logs = pipeline(raw, filepath.Join(dir, "eq2"), fixtureModel)
	p.Config.Truth = beside
	err = p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "lists none of the dataset's photos") || !strings.Contains(err.Error(), "id00000/") {
		t.Fatalf("an explicit truth that matches nothing: %v", err)
	}
	if ran, _ := stagesRan(logs.String()); len(ran) != 0 {
		t.Errorf("stages ran before the truth was checked: %v", ran)
	}
}
