package arrowio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// makeSamples returns n samples over c classes with ids spaced by step and random image bytes.
func makeSamples(n, c int, step int64, seed uint64) []Sample {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]Sample, n)
	for i := range out {
		img := make([]byte, 16+rng.IntN(200))
		for j := range img {
			img[j] = byte(rng.Uint32())
		}
		out[i] = Sample{
			ID: int64(i) * step, Label: int32(i % c), Image: img, Parent: -1, Weight: 1,
			Sim: float32(math.NaN()), Source: fmt.Sprintf("id%03d/%05d.jpg", i%c, i),
		}
	}
	return out
}

func classesFor(c int) []Class {
	cls := make([]Class, c)
	for i := range cls {
		cls[i] = Class{Label: int32(i), Identity: fmt.Sprintf("id%03d", i), RawCount: 7}
	}
	return cls
}

func writeDataset(t testing.TB, dir string, samples []Sample, c int, opts WriterOptions) *Manifest {
	t.Helper()
	if opts.Kind == "" {
		opts.Kind = KindRaw
	}
	w, err := Create(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range samples {
		if err := w.Append(&samples[i]); err != nil {
			t.Fatal(err)
		}
	}
	w.SetCount("quarantined", 2)
	m, err := w.Finish(classesFor(c))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n, c       int
		step       int64
		shardBytes int64
	}{
		{"one shard", 500, 7, 1, 0},
		{"many shards", 9000, 13, 1, 64 << 10},
		{"sparse ids", 300, 5, 1000, 0},
		{"empty", 0, 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			dir := t.TempDir()
			samples := makeSamples(tc.n, tc.c, tc.step, 42)
			m := writeDataset(t, dir, samples, tc.c, WriterOptions{ShardBytes: tc.shardBytes, Mem: mem, ImageHeight: 112, ImageWidth: 112})
			if tc.shardBytes > 0 && len(m.Shards) < 2 {
				t.Fatalf("want several shards, got %d", len(m.Shards))
			}
			ds, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer ds.Close()
			if err := ds.Verify(); err != nil {
				t.Fatal(err)
			}
			if st, err := os.Stat(filepath.Join(dir, ManifestName)); err != nil || st.Mode().Perm() != 0o644 {
				t.Fatalf("manifest mode %v (%v), want 0644 so other users can read the dataset", st.Mode(), err)
			}
			if ds.Len() != tc.n || ds.NumClasses() != tc.c {
				t.Fatalf("len %d classes %d, want %d %d", ds.Len(), ds.NumClasses(), tc.n, tc.c)
			}
			for row, s := range samples {
				got := ds.Sample(row)
				if got.ID != s.ID || got.Label != s.Label || !bytes.Equal(got.Image, s.Image) || got.Source != s.Source ||
					got.Parent != s.Parent || got.Weight != s.Weight || !math.IsNaN(float64(got.Sim)) {
					t.Fatalf("row %d: got %+v want %+v", row, got, s)
				}
				if r, ok := ds.Row(s.ID); !ok || r != row {
					t.Fatalf("Row(%d) = %d,%v want %d", s.ID, r, ok, row)
				}
			}
			if _, ok := ds.Row(-5); ok {
				t.Fatal("Row of an absent id found something")
			}
			for i, c := range ds.Classes() {
				want := int32(tc.n / tc.c)
				if i < tc.n%tc.c {
					want++
				}
				if c.Count != want || c.RawCount != 7 {
					t.Fatalf("class %d: %+v, want count %d", i, c, want)
				}
			}
			if ds.Manifest().Count("quarantined") != 2 || ds.Quotas() != nil || ds.Weights() != nil {
				t.Fatal("manifest counts, quotas or weights wrong")
			}
		})
	}
}

func TestQuotasAndWeights(t *testing.T) {
	dir := t.TempDir()
	samples := makeSamples(10, 2, 1, 1)
	samples[3].Weight = 2.5
	w, err := Create(dir, WriterOptions{Kind: KindEqualized})
	if err != nil {
		t.Fatal(err)
	}
	for i := range samples {
		if err := w.Append(&samples[i]); err != nil {
			t.Fatal(err)
		}
	}
	cls := classesFor(2)
	cls[0].Quota, cls[1].Quota = 4, 6
	if _, err := w.Finish(cls); err != nil {
		t.Fatal(err)
	}
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if q := ds.Quotas(); len(q) != 2 || q[0] != 4 || q[1] != 6 {
		t.Fatalf("quotas %v", q)
	}
	if wts := ds.Weights(); len(wts) != 10 || wts[3] != 2.5 || wts[0] != 1 {
		t.Fatalf("weights %v", wts)
	}
}

func TestAllZeroWeightsAreKept(t *testing.T) {
	dir := t.TempDir()
	samples := makeSamples(6, 2, 1, 1)
	for i := range samples {
		samples[i].Weight = 0
	}
	writeDataset(t, dir, samples, 2, WriterOptions{})
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if w := ds.Weights(); len(w) != 6 {
		t.Fatalf("all-zero weights came back as %v; the sampler must see them to refuse them", w)
	}
}

func TestOpenRefuses(t *testing.T) {
	build := func(t *testing.T) string {
		dir := t.TempDir()
		writeDataset(t, dir, makeSamples(100, 3, 1, 7), 3, WriterOptions{})
		return dir
	}
	shard := func(dir string) string { return filepath.Join(dir, "shards", "part-00000.arrow") }
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   string
	}{
		{"no manifest", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ManifestName)) }, "no dataset.json"},
		{"truncated shard", func(t *testing.T, dir string) { os.Truncate(shard(dir), 100) }, "part-00000.arrow: size"},
		{"missing shard", func(t *testing.T, dir string) { os.Remove(shard(dir)) }, "part-00000.arrow"},
		{"garbage shard", func(t *testing.T, dir string) {
			st, _ := os.Stat(shard(dir))
			os.WriteFile(shard(dir), bytes.Repeat([]byte{7}, int(st.Size())), 0o644)
		}, "part-00000.arrow: not an Arrow IPC file"},
		{"unknown schema", func(t *testing.T, dir string) {
			cls := filepath.Join(dir, "classes.arrow")
			data, _ := os.ReadFile(cls)
			m, _ := ReadManifest(dir)
			os.WriteFile(shard(dir), data, 0o644)
			m.Shards[0].Bytes = int64(len(data))
			b, _ := marshalManifest(m)
			os.WriteFile(filepath.Join(dir, ManifestName), b, 0o644)
		}, "unknown schema"},
		{"future format", func(t *testing.T, dir string) {
			m, _ := ReadManifest(dir)
			m.FormatVersion = 99
			b, _ := marshalManifest(m)
			os.WriteFile(filepath.Join(dir, ManifestName), b, 0o644)
		}, "format version 99"},
		{"escaping path", func(t *testing.T, dir string) {
			m, _ := ReadManifest(dir)
			m.Shards[0].File = "../../etc/passwd"
			b, _ := marshalManifest(m)
			os.WriteFile(filepath.Join(dir, ManifestName), b, 0o644)
		}, "escapes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := build(t)
			tc.break_(t, dir)
			ds, err := Open(dir)
			if err == nil {
				ds.Close()
				t.Fatal("Open accepted a broken dataset")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestVerifyFindsFlippedByte(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, makeSamples(50, 2, 1, 3), 2, WriterOptions{})
	path := filepath.Join(dir, "shards", "part-00000.arrow")
	data, _ := os.ReadFile(path)
	// Flip a byte inside the image bytes region so the file still parses but no longer matches.
	i := bytes.Index(data, makeSamples(50, 2, 1, 3)[10].Image)
	data[i] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if err := ds.Verify(); err == nil || !strings.Contains(err.Error(), "part-00000.arrow: sha256") {
		t.Fatalf("Verify = %v, want a checksum error naming the shard", err)
	}
}

func TestCreateRefusesExistingUnlessForce(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, makeSamples(20, 2, 1, 3), 2, WriterOptions{})
	if _, err := Create(dir, WriterOptions{Kind: KindRaw}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("Create over a dataset = %v, want a refusal that mentions --force", err)
	}
	writeDataset(t, dir, makeSamples(5, 1, 1, 4), 1, WriterOptions{Force: true})
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if ds.Len() != 5 {
		t.Fatalf("forced rewrite has %d rows, want 5", ds.Len())
	}
}

// TestForcedReplaceKeepsTheOldUntilFinish: a replacement that fails (or is still being written)
// leaves the old dataset whole and readable; one that finishes replaces it, with nothing staged left.
func TestForcedReplaceKeepsTheOldUntilFinish(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, makeSamples(20, 2, 1, 3), 2, WriterOptions{})
	before := shardFiles(t, dir)
	w, err := Create(dir, WriterOptions{Kind: KindRaw, Force: true, ShardBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range makeSamples(30, 3, 1, 9) {
		if err := w.Append(&s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteFile("report/import.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	check := func(when string, want int) {
		t.Helper()
		ds, err := Open(dir)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		defer ds.Close()
		if ds.Len() != want {
			t.Fatalf("%s: %d rows, want %d", when, ds.Len(), want)
		}
	}
	check("while the replacement is written", 20)
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	check("after the replacement failed", 20)
	if got := shardFiles(t, dir); !slices.Equal(got, before) {
		t.Fatalf("shards after a failed replacement %v, before %v", got, before)
	}
	if _, err := os.Stat(filepath.Join(dir, "report")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the failed replacement's report is in the dataset: %v", err)
	}
	// Extra files written through the writer, any name, replace the old ones with the data.
	if err := os.WriteFile(filepath.Join(dir, "centers.npy"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err = Create(dir, WriterOptions{Kind: KindRaw, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range makeSamples(5, 1, 1, 4) {
		if err := w.Append(&s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteFile("centers.npy", []byte("new")); err != nil {
		t.Fatal(err)
	}
	path, err := w.Path("embeddings/embeddings.arrow")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("emb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(classesFor(1)); err != nil {
		t.Fatal(err)
	}
	check("after the replacement", 5)
	for name, want := range map[string]string{"centers.npy": "new", "embeddings/embeddings.arrow": "emb"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("%s after the replacement: %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, stagingName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("staging folder left: %v", err)
	}
}

func shardFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "shards"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestAbortLeavesNoDataset(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, WriterOptions{Kind: KindRaw, ShardBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range makeSamples(5000, 3, 1, 9) {
		if err := w.Append(&s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("an aborted dataset opened")
	}
}

// TestWriteErrorStopsTheWriter: after a shard write fails, the rows of that batch are gone, so
// the writer takes no more samples and Finish refuses to write a manifest that would count them.
func TestWriteErrorStopsTheWriter(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, WriterOptions{Kind: KindRaw})
	if err != nil {
		t.Fatal(err)
	}
	// A file where the shards folder should be: creating a shard fails, even for root.
	if err := os.RemoveAll(filepath.Join(dir, "shards")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shards"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var first error
	for i := range batchRows {
		if first = w.Append(&Sample{ID: int64(i), Label: 0, Image: []byte{1}}); first != nil {
			break
		}
	}
	if first == nil {
		t.Fatal("a full batch was written where no shard can be created")
	}
	if err := w.Append(&Sample{ID: batchRows + 1, Label: 0}); err == nil || !strings.Contains(err.Error(), "earlier write failed") {
		t.Errorf("append after a failed write: %v", err)
	}
	if _, err := w.Finish([]Class{{Label: 0, Identity: "a"}}); err == nil {
		t.Error("finish after a failed write wrote a dataset")
	}
	if _, err := Open(dir); err == nil {
		t.Error("a dataset opened after a failed write")
	}
}

func TestAppendAndFinishRefuseBadInput(t *testing.T) {
	w, err := Create(t.TempDir(), WriterOptions{Kind: KindRaw})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Append(&Sample{ID: 5, Label: 0}); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(&Sample{ID: 5, Label: 0}); err == nil {
		t.Fatal("a repeated id was accepted")
	}
	if err := w.Append(&Sample{ID: 6, Label: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(classesFor(2)); err == nil {
		t.Fatal("Finish accepted fewer classes than labels used")
	}
}

// FuzzShardReader feeds arbitrary bytes to the shard decoder: it must return an error, never panic,
// and whatever it decodes, a dataset written from those rows reads back as the same rows.
func FuzzShardReader(f *testing.F) {
	dir := f.TempDir()
	writeDataset(f, dir, makeSamples(20, 2, 1, 5), 2, WriterOptions{})
	good, err := os.ReadFile(filepath.Join(dir, "shards", "part-00000.arrow"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("ARROW1\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		batches, err := decodeShard(data)
		if err != nil {
			return
		}
		var rows []Sample
		for _, b := range batches {
			for i := range b.id.Len() {
				rows = append(rows, b.sample(i))
			}
			b.rec.Release() // the values point into data, which stays
		}
		// Rows a writer refuses (ids out of order, negative labels) or too many classes: no round trip.
		labels := 0
		for _, r := range rows {
			labels = max(labels, int(r.Label)+1)
		}
		if labels > 1000 {
			return
		}
		out := t.TempDir()
		w, err := Create(out, WriterOptions{Kind: KindRaw})
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if err := w.Append(&rows[i]); err != nil {
				w.Abort()
				return
			}
		}
		if _, err := w.Finish(classesFor(labels)); err != nil {
			t.Fatalf("rows that appended do not finish: %v", err)
		}
		ds, err := Open(out)
		if err != nil {
			t.Fatalf("a dataset written from decoded rows does not open: %v", err)
		}
		defer ds.Close()
		if ds.Len() != len(rows) {
			t.Fatalf("%d rows written, %d read back", len(rows), ds.Len())
		}
		for i, want := range rows {
			if got := ds.Sample(i); !sameSample(got, want) {
				t.Fatalf("row %d reads back as %+v, want %+v", i, got, want)
			}
		}
	})
}

// sameSample compares every field, floats by their bits (NaN is a valid similarity).
func sameSample(a, b Sample) bool {
	return a.ID == b.ID && a.Label == b.Label && bytes.Equal(a.Image, b.Image) && a.Origin == b.Origin &&
		a.Parent == b.Parent && math.Float32bits(a.Weight) == math.Float32bits(b.Weight) &&
		math.Float32bits(a.Sim) == math.Float32bits(b.Sim) && a.Recipe == b.Recipe && a.Source == b.Source
}

// BenchmarkImageByID measures random access to one image by sample id in a million-row dataset.
func BenchmarkImageByID(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	w, err := Create(dir, WriterOptions{Kind: KindRaw})
	if err != nil {
		b.Fatal(err)
	}
	img := make([]byte, 64)
	for i := 0; i < n; i++ {
		if err := w.Append(&Sample{ID: int64(i), Label: int32(i % 1000), Image: img, Parent: -1, Weight: 1}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.Finish(classesFor(1000)); err != nil {
		b.Fatal(err)
	}
	ds, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer ds.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int64, 4096)
	for i := range ids {
		ids[i] = rng.Int64N(n)
	}
	b.ResetTimer()
	var total int
	for i := 0; i < b.N; i++ {
		row, _ := ds.Row(ids[i%len(ids)])
		total += len(ds.Image(row))
	}
	if total == 0 {
		b.Fatal("no bytes read")
	}
}

// TestDamagedShardOfTheRightSize overwrites each 32-bit word of a shard's messages (schema, offsets
// and data of every column) with a large value: Open must refuse it, or every row it then serves
// must be readable. A panic here would kill a server.
func TestDamagedShardOfTheRightSize(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, makeSamples(40, 3, 1, 11), 3, WriterOptions{})
	path := filepath.Join(dir, "shards", "part-00000.arrow")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The file footer (a flatbuffer at the end) is left alone: arrow-go trusts its vector lengths and
	// can try to allocate gigabytes for a damaged one, which only `inspect --verify`'s sha256 catches.
	footer := len(good) - 10 - int(binary.LittleEndian.Uint32(good[len(good)-10:]))
	refused := 0
	for off := 8; off+4 <= footer; off += 4 {
		bad := bytes.Clone(good)
		binary.LittleEndian.PutUint32(bad[off:], 0x7fff0000)
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := Open(dir)
		if err != nil {
			refused++
			continue
		}
		for row := range ds.Len() {
			_ = ds.Sample(row)
		}
		ds.Close()
	}
	if refused == 0 {
		t.Fatal("no damaged shard was refused")
	}
}

func TestIDsFarApart(t *testing.T) {
	dir := t.TempDir()
	samples := makeSamples(3, 1, 1, 2)
	samples[0].ID, samples[1].ID, samples[2].ID = -9e18, 0, 9e18
	writeDataset(t, dir, samples, 1, WriterOptions{})
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	for row, s := range samples {
		if r, ok := ds.Row(s.ID); !ok || r != row {
			t.Fatalf("Row(%d) = %d, %v; want %d", s.ID, r, ok, row)
		}
	}
}
