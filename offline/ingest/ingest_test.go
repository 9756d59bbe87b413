package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/image/bmp"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/offline/recordio"
	"github.com/facestream/facestream/offline/synth"
)

// synthFolder generates a small synthetic ImageFolder and returns its images folder.
func synthFolder(t testing.TB, identities int) string {
	t.Helper()
	dir := t.TempDir()
	opts := synth.Options{Identities: identities, Seed: 11, Noise: 0.05, Junk: 0.02, Size: 48}
	if _, err := synth.Generate(context.Background(), dir, opts); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "images")
}

func importSet(t testing.TB, opts Options) (*Report, *arrowio.Dataset) {
	t.Helper()
	if opts.Out == "" {
		opts.Out = filepath.Join(t.TempDir(), "ds")
	}
	rep, err := Import(context.Background(), opts)
	if err != nil {
		t.Fatalf("import %s %s: %v", opts.Format, opts.Source, err)
	}
	ds, err := arrowio.Open(opts.Out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	return rep, ds
}

// assertSameSamples checks ids, labels, image bytes and identity names.
func assertSameSamples(t *testing.T, a, b *arrowio.Dataset) {
	t.Helper()
	if a.Len() != b.Len() || a.NumClasses() != b.NumClasses() {
		t.Fatalf("%d samples in %d classes vs %d in %d", a.Len(), a.NumClasses(), b.Len(), b.NumClasses())
	}
	for row := range a.Len() {
		if a.ID(row) != b.ID(row) || a.Label(row) != b.Label(row) || !bytes.Equal(a.Image(row), b.Image(row)) {
			t.Fatalf("row %d: id %d label %d (%s) vs id %d label %d (%s)", row,
				a.ID(row), a.Label(row), a.Source(row), b.ID(row), b.Label(row), b.Source(row))
		}
	}
}

func TestFolderParquetRoundTrip(t *testing.T) {
	src := synthFolder(t, 12)
	_, first := importSet(t, Options{Format: FormatImageFolder, Source: src, Workers: 3})
	pq := filepath.Join(t.TempDir(), "set.parquet")
	if err := arrowio.ExportParquet(first, pq); err != nil {
		t.Fatal(err)
	}
	_, second := importSet(t, Options{Format: FormatParquet, Source: pq})
	assertSameSamples(t, first, second)
	for i, c := range first.Classes() {
		if second.Classes()[i] != c {
			t.Fatalf("class %d: %+v after the round trip, want %+v", i, second.Classes()[i], c)
		}
	}
	for _, m := range []*arrowio.Manifest{first.Manifest(), second.Manifest()} {
		if m.ImageHeight != 48 || m.ImageWidth != 48 {
			t.Errorf("size hint %dx%d, want the synth photos' 48x48", m.ImageHeight, m.ImageWidth)
		}
	}
	if got := second.Source(3); got != "3" {
		t.Errorf("source of row 3 from Parquet is %q, want the row number", got)
	}
}

// TestDeterministic imports the same folder with different worker counts and
// expects identical shards.
func TestDeterministic(t *testing.T) {
	src := synthFolder(t, 10)
	_, a := importSet(t, Options{Format: FormatImageFolder, Source: src, Workers: 1})
	_, b := importSet(t, Options{Format: FormatImageFolder, Source: src, Workers: 7})
	sa, sb := a.Manifest().Shards, b.Manifest().Shards
	if len(sa) == 0 || !slices.Equal(sa, sb) {
		t.Fatalf("shards differ:\n%+v\n%+v", sa, sb)
	}
	// Ids and labels follow the sorted names.
	for row := 1; row < a.Len(); row++ {
		prev, cur := a.Source(row-1), a.Source(row)
		if a.ID(row) != int64(row) || cur <= prev || a.Label(row) < a.Label(row-1) {
			t.Fatalf("row %d (%s, id %d, label %d) out of order after %s", row, cur, a.ID(row), a.Label(row), prev)
		}
	}
}

// writeRec writes ds as an InsightFace RecordIO set, in MXNet's layout.
func writeRec(t *testing.T, ds *arrowio.Dataset, path string) {
	t.Helper()
	w, err := recordio.CreateSet(path, ds.Len(), ds.NumClasses())
	if err != nil {
		t.Fatal(err)
	}
	for row := range ds.Len() {
		if err := w.Add(int(ds.Label(row)), ds.Image(row)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// jpegWithMagic is a valid JPEG whose comment holds RecordIO's magic at a
// 4-aligned offset, so a RecordIO writer must split its record.
func jpegWithMagic(t *testing.T) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 9, 7)), nil); err != nil {
		t.Fatal(err)
	}
	comment := binary.LittleEndian.AppendUint32([]byte{0xff, 0xfe, 0, 8, 'f', 's'}, recordio.Magic)
	return slices.Concat(b.Bytes()[:2], comment, b.Bytes()[2:])
}

func TestRecMatchesFolder(t *testing.T) {
	src := synthFolder(t, 8)
	if err := os.WriteFile(filepath.Join(src, synth.IdentityName(3, 8), "split.jpg"), jpegWithMagic(t), 0o644); err != nil {
		t.Fatal(err)
	}
	_, folder := importSet(t, Options{Format: FormatImageFolder, Source: src})
	rec := filepath.Join(t.TempDir(), "train.rec")
	writeRec(t, folder, rec)
	raw, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	// The image starts 24 bytes into its record (after the IRHeader), the magic 8 bytes into
	// the image: a first part of 32 bytes, continuation flag 1.
	startPart := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, recordio.Magic), 1<<29|32)
	if !bytes.Contains(raw, startPart) {
		t.Fatal("fixture has no split record")
	}
	_, fromRec := importSet(t, Options{Format: FormatRec, Source: rec, Verify: true})
	assertSameSamples(t, folder, fromRec)
	// InsightFace ships train.rec and train.idx in a folder: the folder will do.
	_, fromFolder := importSet(t, Options{Format: FormatRec, Source: filepath.Dir(rec)})
	assertSameSamples(t, folder, fromFolder)
}

// oddImages returns one photo per accepted format and shape.
func oddImages(t *testing.T) map[string][]byte {
	t.Helper()
	enc := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 37, 5))
	rgba.Set(3, 2, color.RGBA{200, 10, 10, 255})
	gray := image.NewGray(image.Rect(0, 0, 13, 211))
	pal := image.NewPaletted(image.Rect(0, 0, 17, 19), color.Palette{color.Black, color.White})
	webp, err := os.ReadFile(filepath.Join("testdata", "blue-purple-pink.lossy.webp"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"a.png":   enc(func(b *bytes.Buffer) error { return png.Encode(b, rgba) }),
		"b.jpg":   enc(func(b *bytes.Buffer) error { return jpeg.Encode(b, gray, nil) }),
		"c.gif":   enc(func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) }),
		"d.bmp":   enc(func(b *bytes.Buffer) error { return bmp.Encode(b, rgba) }),
		"e.webp":  webp,
		"f.PNG16": enc(func(b *bytes.Buffer) error { return png.Encode(b, image.NewGray16(image.Rect(0, 0, 3, 3))) }),
	}
}

// bombPNG is a valid PNG header announcing 10000×10000 pixels.
func bombPNG() []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, 10000)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 10000)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	typed := slices.Concat([]byte("IHDR"), ihdr)
	chunk := slices.Concat([]byte{0, 0, 0, 13}, typed, binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(typed)))
	return slices.Concat([]byte("\x89PNG\r\n\x1a\n"), chunk)
}

func writeTree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		dir := filepath.Dir(path)
		if data == nil {
			dir = path
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if data != nil {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestFolderValidation(t *testing.T) {
	files := map[string][]byte{}
	for name, data := range oddImages(t) {
		files["alice/"+name] = data
	}
	files["bob/nested/one.png"] = files["alice/a.png"] // a duplicate, kept and reported
	files["bob/bomb.png"] = bombPNG()
	files["bob/notes.txt"] = []byte("not an image")
	files["bob/cut.jpg"] = files["alice/b.jpg"][:40]
	files["carol/readme.md"] = []byte("# only junk here")
	files["dave/empty.jpg"] = []byte{}
	files["stray.jpg"] = files["alice/b.jpg"]
	files["erin/"] = nil // an empty identity folder
	root := writeTree(t, files)
	// A linked identity folder is an identity; a link to a folder inside one
	// and a dangling link are quarantined.
	for link, target := range map[string]string{"frank": "alice", "bob/dir-link": "alice", "bob/dangling.jpg": "nowhere"} {
		if err := os.Symlink(filepath.Join(root, target), filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}

	rep, ds := importSet(t, Options{Format: FormatImageFolder, Source: root, Verify: true})
	if rep.Samples != 13 || ds.Len() != 13 || ds.NumClasses() != 3 {
		t.Fatalf("%d samples (dataset %d) in %d classes, want 13 in alice, bob and frank", rep.Samples, ds.Len(), ds.NumClasses())
	}
	reasons := map[string]string{}
	for _, q := range rep.Quarantined {
		reasons[q.Source] = q.Reason
	}
	for src, want := range map[string]string{
		"bob/bomb.png": "limit", "bob/notes.txt": "not a JPEG", "bob/cut.jpg": "jpeg",
		"carol/readme.md": "not a JPEG", "dave/empty.jpg": "empty", "stray.jpg": "identity folder",
		"bob/dir-link": "unreadable", "bob/dangling.jpg": "unreadable",
	} {
		if !strings.Contains(reasons[src], want) {
			t.Errorf("quarantine reason of %s is %q, want it to mention %q", src, reasons[src], want)
		}
	}
	if len(reasons) != 8 {
		t.Errorf("quarantined %v, want 8 files", reasons)
	}
	if !slices.Equal(rep.EmptyIdentities, []string{"carol", "dave", "erin"}) {
		t.Errorf("empty identities %v", rep.EmptyIdentities)
	}
	if len(rep.Duplicates) != 7 || rep.Duplicates[0] != (Duplicate{"bob/nested/one.png", "alice/a.png"}) ||
		rep.Duplicates[1] != (Duplicate{"frank/a.png", "alice/a.png"}) {
		t.Errorf("duplicates %+v", rep.Duplicates)
	}
	if rep.Formats["webp"] != 2 || rep.Formats["bmp"] != 2 || rep.Formats["png"] != 5 {
		t.Errorf("formats %v", rep.Formats)
	}
	// Stored as they were: bytes unchanged.
	if row, ok := ds.Row(0); !ok || !bytes.Equal(ds.Image(row), files["alice/a.png"]) || ds.Source(row) != "alice/a.png" {
		t.Errorf("sample 0 is %s, not alice/a.png's bytes", ds.Source(row))
	}
	if m := ds.Manifest(); m.Count("quarantined") != 8 || m.Count("duplicates") != 7 || m.Count("empty_identities") != 3 {
		t.Errorf("manifest counts %v", m.Counts)
	}
	data, err := os.ReadFile(filepath.Join(ds.Dir(), ReportName))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk Report
	if err := json.Unmarshal(data, &onDisk); err != nil || len(onDisk.Quarantined) != 8 {
		t.Fatalf("report on disk: %v, %d quarantined", err, len(onDisk.Quarantined))
	}
}

func TestBadInput(t *testing.T) {
	images := synthFolder(t, 3)
	_, ds := importSet(t, Options{Format: FormatImageFolder, Source: images})
	rec := filepath.Join(t.TempDir(), "train.rec")
	writeRec(t, ds, rec)
	recBytes, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	idxBytes, err := os.ReadFile(recordio.IndexPath(rec))
	if err != nil {
		t.Fatal(err)
	}
	// Cut the .rec inside image record 2 and drop the index lines past the cut.
	index, err := recordio.ReadIndex(bytes.NewReader(idxBytes))
	if err != nil {
		t.Fatal(err)
	}
	cut := index[2].Offset + 20
	var kept bytes.Buffer
	if err := recordio.WriteIndex(&kept, slices.DeleteFunc(index, func(e recordio.IndexEntry) bool { return e.Offset >= cut })); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "cut.rec")
	mustWrite(t, truncated, recBytes[:cut])
	mustWrite(t, recordio.IndexPath(truncated), kept.Bytes())
	pastEnd := filepath.Join(t.TempDir(), "past.rec")
	mustWrite(t, pastEnd, recBytes)
	mustWrite(t, recordio.IndexPath(pastEnd), append(slices.Clone(idxBytes), "999\t99999999\n"...))
	pq := filepath.Join(t.TempDir(), "set.parquet")
	if err := arrowio.ExportParquet(ds, pq); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"missing folder", Options{Format: FormatImageFolder, Source: filepath.Join(t.TempDir(), "nope")}, "no such file"},
		{"empty folder", Options{Format: FormatImageFolder, Source: t.TempDir()}, "no identity folders"},
		{"folder of non-images", Options{Format: FormatImageFolder, Source: writeTree(t, map[string][]byte{
			"x/a.txt": []byte("hello"), "y/b.bin": {1, 2, 3}})}, "no usable image"},
		{"truncated rec", Options{Format: FormatRec, Source: truncated}, "unexpected EOF"},
		{"idx past end", Options{Format: FormatRec, Source: pastEnd}, "past the end"},
		{"parquet without columns", Options{Format: FormatParquet, Source: pq, ImageColumn: "jpeg", LabelColumn: "person"}, "its columns"},
		{"existing output", Options{Format: FormatImageFolder, Source: images, Out: ds.Dir()}, "force"},
		{"unknown format", Options{Format: "tfrecord", Source: images}, "unknown source format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Out == "" {
				tt.opts.Out = filepath.Join(t.TempDir(), "ds")
			}
			_, err := Import(context.Background(), tt.opts)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.want)) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
			if tt.opts.Out != ds.Dir() {
				if _, err := arrowio.Open(tt.opts.Out); !errors.Is(err, arrowio.ErrNotDataset) {
					t.Fatalf("a failed import left something a reader opens: %v", err)
				}
			}
		})
	}
	// --force from a source with no usable photo fails and leaves the dataset there as it was.
	before := ds.Len()
	bad := writeTree(t, map[string][]byte{"x/a.jpg": []byte("not a jpeg"), "y/b.jpg": {0xff, 0xd8, 0xff}})
	if _, err := Import(context.Background(), Options{Format: FormatImageFolder, Source: bad, Out: ds.Dir(), Force: true}); err == nil {
		t.Fatal("import --force of a folder of bad files succeeded")
	}
	again, err := arrowio.Open(ds.Dir())
	if err != nil {
		t.Fatalf("a failed import --force destroyed the dataset it was to replace: %v", err)
	}
	if again.Len() != before {
		t.Errorf("after a failed import --force the dataset has %d photos, before %d", again.Len(), before)
	}
	assertSameSamples(t, ds, again)
	again.Close()
	// --force replaces the dataset.
	if _, err := Import(context.Background(), Options{Format: FormatImageFolder, Source: images, Out: ds.Dir(), Force: true}); err != nil {
		t.Fatalf("import --force: %v", err)
	}
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParquetIdentityColumn(t *testing.T) {
	images := synthFolder(t, 4)
	_, ds := importSet(t, Options{Format: FormatImageFolder, Source: images})
	pq := filepath.Join(t.TempDir(), "set.parquet")
	if err := arrowio.ExportParquet(ds, pq); err != nil {
		t.Fatal(err)
	}
	// The exported label column is found by default; naming it works too.
	_, named := importSet(t, Options{Format: FormatParquet, Source: pq, ImageColumn: "image", LabelColumn: "label"})
	assertSameSamples(t, ds, named)
}

// BenchmarkImport measures import throughput of a synthetic 112×112 set, validating headers
// only (the default) and decoding every image (--verify).
func BenchmarkImport(b *testing.B) {
	dir := b.TempDir()
	if _, err := synth.Generate(context.Background(), dir, synth.Options{Identities: 200, Seed: 5, Noise: 0.05, Junk: 0.01, Size: 112}); err != nil {
		b.Fatal(err)
	}
	for _, verify := range []bool{false, true} {
		name := "header"
		if verify {
			name = "verify"
		}
		b.Run(name, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "ds")
			var n int
			for b.Loop() {
				rep, err := Import(context.Background(), Options{
					Format: FormatImageFolder, Source: filepath.Join(dir, "images"), Out: out, Force: true, Verify: verify,
				})
				if err != nil {
					b.Fatal(err)
				}
				n += rep.Samples + len(rep.Quarantined)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// TestDuplicatesConfirmBytes forges a digest collision: photos with equal
// digests but different bytes must not be reported as duplicates.
func TestDuplicatesConfirmBytes(t *testing.T) {
	root := writeTree(t, map[string][]byte{"p/a.jpg": []byte("same"), "p/b.jpg": []byte("other"), "p/c.jpg": []byte("same")})
	src, err := openFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := duplicates(src, []digest{{7, 2}, {7, 1}, {7, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Duplicate{{"p/c.jpg", "p/a.jpg"}}; !slices.Equal(got, want) {
		t.Fatalf("duplicates %v, want %v", got, want)
	}
}

// TestCancel stops an import through its context: an error, no dataset, no
// goroutine left behind.
func TestCancel(t *testing.T) {
	src := synthFolder(t, 30)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "ds")
	if _, err := Import(ctx, Options{Format: FormatImageFolder, Source: src, Out: out, Workers: 4}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled import: %v", err)
	}
	if _, err := arrowio.Open(out); !errors.Is(err, arrowio.ErrNotDataset) {
		t.Fatalf("a cancelled import left a dataset: %v", err)
	}
	goleak.VerifyNone(t)
}

// failingSource fails to read photo fail, holds the reads of later photos until then (so that
// they are in flight when the failure arrives), and counts the reads in flight and those that
// come after Close.
type failingSource struct {
	source
	fail      int
	failed    chan struct{} // closed as the read of photo fail returns its error
	inflight  atomic.Int32
	closed    atomic.Bool
	afterShut atomic.Int32
}

func (f *failingSource) Read(i int) ([]byte, error) {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	if f.closed.Load() {
		f.afterShut.Add(1)
	}
	switch {
	case i == f.fail:
		close(f.failed)
		return nil, errors.New("disk on fire")
	case i > f.fail:
		<-f.failed
	}
	return f.source.Read(i)
}

func (f *failingSource) Close() error {
	f.closed.Store(true)
	return f.source.Close()
}

// TestFatalReadStopsWorkersFirst: when a read fails for good, write returns only after its
// workers stopped reading, so the caller may close the source.
func TestFatalReadStopsWorkersFirst(t *testing.T) {
	inner, err := openFolder(synthFolder(t, 60))
	if err != nil {
		t.Fatal(err)
	}
	src := &failingSource{source: inner, fail: 3, failed: make(chan struct{})}
	w, err := arrowio.Create(filepath.Join(t.TempDir(), "ds"), arrowio.WriterOptions{Kind: arrowio.KindRaw})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = write(context.Background(), src, w, Options{Workers: 4})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("write: %v, want the read error", err)
	}
	if n := src.inflight.Load(); n != 0 {
		t.Errorf("write returned with %d reads in flight", n)
	}
	w.Abort()
	src.Close()
	goleak.VerifyNone(t) // retries until the goroutines are gone, or fails
	if n := src.afterShut.Load(); n != 0 {
		t.Errorf("%d reads after the source was closed", n)
	}
}

// TestMaxPixels: a photo larger than MaxPixels is quarantined, header only or fully decoded,
// before any of its pixels is decoded.
func TestMaxPixels(t *testing.T) {
	big := image.NewGray(image.Rect(0, 0, 120, 120))
	var b bytes.Buffer
	if err := png.Encode(&b, big); err != nil {
		t.Fatal(err)
	}
	src := writeTree(t, map[string][]byte{"a/big.png": b.Bytes(), "a/ok.jpg": jpegWithMagic(t), "b/ok.jpg": jpegWithMagic(t)})
	for _, verify := range []bool{false, true} {
		rep, _ := importSet(t, Options{Format: FormatImageFolder, Source: src, Verify: verify, MaxPixels: 100 * 100})
		if len(rep.Quarantined) != 1 || !strings.Contains(rep.Quarantined[0].Reason, "120x120 is over the limit of 10000 pixels") {
			t.Errorf("verify=%v: quarantined %+v, want big.png over the pixel limit", verify, rep.Quarantined)
		}
	}
}

// TestLinkToTheSourceIsNoIdentity: a symbolic link at the top of an ImageFolder that points back to
// the folder (or above it) would be an identity holding a copy of every photo; it is set aside.
func TestLinkToTheSourceIsNoIdentity(t *testing.T) {
	odd := oddImages(t)
	src := writeTree(t, map[string][]byte{"a/1.png": odd["a.png"], "b/1.jpg": odd["b.jpg"]})
	for _, target := range []string{src, filepath.Dir(src)} {
		link := filepath.Join(src, "loop")
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		rep, ds := importSet(t, Options{Format: FormatImageFolder, Source: src})
		if ds.NumClasses() != 2 || rep.Samples != 2 || len(rep.Quarantined) != 1 || rep.Quarantined[0].Source != "loop" {
			t.Errorf("link to %s: %d identities, %d samples, quarantined %+v; want a and b, 2 photos, loop set aside",
				target, ds.NumClasses(), rep.Samples, rep.Quarantined)
		}
	}
}
