package objstore

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/internal/s3test"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   Location
		remote bool
		err    string
	}{
		{in: "data/ds"},
		{in: "/abs/ds"},
		{in: "s3://bucket/some/prefix/", want: Location{"bucket", "some/prefix"}, remote: true},
		{in: "s3://bucket", want: Location{"bucket", ""}, remote: true},
		{in: "S3://bucket/p", want: Location{"bucket", "p"}, remote: true},
		{in: "gs://bucket/ds", err: "gs:// locations are not supported"},
		{in: "s3://Bad_Bucket/ds", err: "not an S3 bucket name"},
		{in: "s3://bucket/a/../b", err: "not a clean path"},
		{in: "s3://bucket/..", err: "not a clean path"},
		{in: "s3://bucket/../../..", err: "not a clean path"},
		{in: "s3://bucket/a/..", err: "not a clean path"},
		{in: "s3://bucket/./a", err: "not a clean path"},
	} {
		got, remote, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || remote != tc.remote {
			t.Errorf("Parse(%q) = %+v, %v, %v; want %+v, %v", tc.in, got, remote, err, tc.want, tc.remote)
		}
	}
	if got := (Location{"b", "p/q"}).Key("shards/0.arrow"); got != "p/q/shards/0.arrow" {
		t.Errorf("Key = %q", got)
	}
}

// TestStagingFoldersDoNotNest: no location's staging folder holds another's, so an import --force
// of s3://b cannot wipe or upload what s3://b/eq has staged.
func TestStagingFoldersDoNotNest(t *testing.T) {
	c, err := NewCache(t.TempDir(), 1<<30, nil)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, s := range []string{"s3://bucket", "s3://bucket/eq", "s3://bucket/eq/work", "s3://bucket/eq%2Fwork", "s3://other/eq"} {
		loc, _, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, c.Staging(loc))
	}
	for i, a := range dirs {
		for j, b := range dirs {
			if rel, err := filepath.Rel(a, b); i != j && (err != nil || !strings.HasPrefix(rel, "..")) {
				t.Errorf("staging %s holds (or is) %s", a, b)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"s3://bucket/p", "ds", "gs://x", "s3://", "s3://b/..", "s3://bucket//a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, remote, err := Parse(s)
		if err != nil || !remote {
			return
		}
		again, remote, err := Parse(loc.String())
		if err != nil || !remote || again != loc {
			t.Fatalf("Parse(%q) = %+v; its String %q parses to %+v, %v", s, loc, loc.String(), again, err)
		}
	})
}

// writeDataset writes a raw dataset of rows random photos, a shard per record batch of 4,096 rows.
func writeDataset(t testing.TB, rows, imageBytes int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ds")
	w, err := arrowio.Create(dir, arrowio.WriterOptions{Kind: arrowio.KindRaw, ShardBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(rows), uint64(imageBytes))) // two fixtures share no file
	const classes = 5
	for row := range rows {
		img := make([]byte, imageBytes)
		for i := range img {
			img[i] = byte(rng.Uint32())
		}
		s := arrowio.Sample{ID: int64(row), Label: int32(row % classes), Image: img, Parent: -1, Weight: 1, Sim: float32(math.NaN())}
		if err := w.Append(&s); err != nil {
			t.Fatal(err)
		}
	}
	cls := make([]arrowio.Class, classes)
	for c := range cls {
		cls[c] = arrowio.Class{Label: int32(c), Identity: fmt.Sprintf("id%d", c)}
	}
	if _, err := w.Finish(cls); err != nil {
		t.Fatal(err)
	}
	return dir
}

// uploaded starts an S3 server holding the dataset in dir at s3://<bucket>/ds.
func uploaded(t testing.TB, dir string) (*Store, Location) {
	t.Helper()
	s3test.Start(t)
	s, err := FromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	loc := Location{Bucket: s3test.Bucket, Prefix: "ds"}
	if err := s.Upload(context.Background(), dir, loc); err != nil {
		t.Fatal(err)
	}
	return s, loc
}

func newCache(t testing.TB, dir string, limit int64, log *slog.Logger) *Cache {
	t.Helper()
	c, err := NewCache(dir, limit, log)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// assertSameSamples fails (without stopping: it runs on other goroutines) unless a and b hold the same samples in the same order.
func assertSameSamples(t *testing.T, a, b *arrowio.Dataset) {
	t.Helper()
	if a.Len() != b.Len() || a.Fingerprint() != b.Fingerprint() {
		t.Errorf("%d samples (fingerprint %x) vs %d (%x)", a.Len(), a.Fingerprint(), b.Len(), b.Fingerprint())
		return
	}
	for row := range a.Len() {
		if a.ID(row) != b.ID(row) || a.Label(row) != b.Label(row) || !bytes.Equal(a.Image(row), b.Image(row)) {
			t.Errorf("row %d differs", row)
			return
		}
	}
}

// TestFetchColdThenWarm: a cold open downloads every file, verified, a warm one nothing; both
// hold the samples of the local dataset, and the cache keeps its files under their sha256.
func TestFetchColdThenWarm(t *testing.T) {
	local := writeDataset(t, 3*4096+100, 64)
	s, loc := uploaded(t, local)
	want, err := arrowio.Open(local)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	c := newCache(t, t.TempDir(), 1<<30, quiet())
	files := len(want.Manifest().Shards) + 1
	if files < 4 {
		t.Fatalf("fixture has %d files, want several shards", files)
	}
	for _, wantDownloads := range []int{files, 0} {
		f, err := c.Fetch(context.Background(), s, loc)
		if err != nil {
			t.Fatal(err)
		}
		if f.Stats.Files != files || f.Stats.Downloaded != wantDownloads {
			t.Errorf("fetch: %+v, want %d files, %d downloaded", f.Stats, files, wantDownloads)
		}
		got, err := arrowio.Open(f.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Release(); err != nil {
			t.Fatal(err)
		}
		assertSameSamples(t, want, got)
		if err := got.Verify(); err != nil {
			t.Error(err)
		}
		got.Close()
	}
}

// TestChangedShardRefused: a shard rewritten in the bucket after the manifest (and after it was
// cached) is refused, by a warm cache and a cold one alike, naming the file.
func TestChangedShardRefused(t *testing.T) {
	local := writeDataset(t, 2*4096, 32)
	s, loc := uploaded(t, local)
	warm := newCache(t, t.TempDir(), 1<<30, quiet())
	ds, err := warm.Open(context.Background(), s, loc)
	if err != nil {
		t.Fatal(err)
	}
	ds.Close()
	m, err := arrowio.ReadManifest(local)
	if err != nil {
		t.Fatal(err)
	}
	shard := m.Shards[1].File
	data, err := os.ReadFile(filepath.Join(local, shard))
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff // same size: only the checksum can tell
	if _, err := s.client.PutObject(context.Background(), loc.Bucket, loc.Key(shard), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Cache{"warm": warm, "cold": newCache(t, t.TempDir(), 1<<30, quiet())} {
		ds, err := c.Open(context.Background(), s, loc)
		if err == nil {
			ds.Close()
			t.Errorf("%s cache: a changed shard was served", name)
			continue
		}
		if !strings.Contains(err.Error(), shard) || !strings.Contains(err.Error(), "changed after the manifest") {
			t.Errorf("%s cache: %v, want the refusal to name %s", name, err, shard)
		}
	}
}

// TestNoManifestRefused: a dataset whose manifest is not (yet) uploaded is no dataset.
func TestNoManifestRefused(t *testing.T) {
	local := writeDataset(t, 20, 100)
	s, loc := uploaded(t, local)
	if err := s.client.RemoveObject(context.Background(), loc.Bucket, loc.Key(arrowio.ManifestName), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := newCache(t, t.TempDir(), 1<<30, quiet()).Open(context.Background(), s, loc)
	if err == nil || !strings.Contains(err.Error(), "no dataset.json") {
		t.Fatalf("open without a manifest: %v, want a refusal", err)
	}
}

// TestSharedCacheConcurrent: several processes' worth of caches on one folder open two datasets
// at once, over and over, with a limit that makes each evict the other's files: every open gets
// whole, verified files.
func TestSharedCacheConcurrent(t *testing.T) {
	a, b := writeDataset(t, 2*4096+10, 64), writeDataset(t, 3*4096, 40)
	s, locA := uploaded(t, a)
	locB := Location{Bucket: s3test.Bucket, Prefix: "other"}
	if err := s.Upload(context.Background(), b, locB); err != nil {
		t.Fatal(err)
	}
	want := map[Location]*arrowio.Dataset{}
	for loc, dir := range map[Location]string{locA: a, locB: b} {
		ds, err := arrowio.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer ds.Close()
		want[loc] = ds
	}
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			c := newCache(t, dir, 300<<10, quiet()) // below one dataset: every release evicts
			for round := range 5 {
				loc := []Location{locA, locB}[(i+round)%2]
				ds, err := c.Open(context.Background(), s, loc)
				if err != nil {
					t.Error(err)
					return
				}
				// The mapped bytes, not the files: another cache may have evicted those by now.
				assertSameSamples(t, want[loc], ds)
				ds.Close()
			}
		})
	}
	wg.Wait()
	entries, err := os.ReadDir(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left in the cache", e.Name())
		}
	}
}

// TestEvictsLeastRecentlyUsed: above the limit, the files of the dataset used longest ago go.
func TestEvictsLeastRecentlyUsed(t *testing.T) {
	a, b := writeDataset(t, 2*4096, 64), writeDataset(t, 2*4096+1, 64)
	s, locA := uploaded(t, a)
	locB := Location{Bucket: s3test.Bucket, Prefix: "b"}
	if err := s.Upload(context.Background(), b, locB); err != nil {
		t.Fatal(err)
	}
	c := newCache(t, t.TempDir(), 800<<10, quiet()) // one dataset (~600 KiB), not two
	for _, step := range []struct {
		loc       Location
		downloads bool
	}{{locA, true}, {locA, false}, {locB, true}, {locA, true}} {
		f, err := c.Fetch(context.Background(), s, step.loc)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Stats.Downloaded > 0; got != step.downloads {
			t.Errorf("%s: downloaded %d files, want downloads %v", step.loc, f.Stats.Downloaded, step.downloads)
		}
		if err := f.Release(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecretNeverShown: the secret key appears in no error and no log line, failing or not.
func TestSecretNeverShown(t *testing.T) {
	local := writeDataset(t, 20, 100)
	s, loc := uploaded(t, local)
	var logs bytes.Buffer
	c := newCache(t, t.TempDir(), 1<<30, slog.New(slog.NewTextHandler(&logs, nil)))
	var errs []error
	for _, l := range []Location{loc, {Bucket: "no-such-bucket", Prefix: "ds"}, {Bucket: s3test.Bucket, Prefix: "none"}} {
		ds, err := c.Open(context.Background(), s, l)
		if err == nil {
			ds.Close()
		}
		errs = append(errs, err)
	}
	errs = append(errs, s.Upload(context.Background(), local, Location{Bucket: "no-such-bucket"}))
	for _, endpoint := range []string{"http://user:" + s3test.Secret + "@host:9000", "ftp://" + s3test.Secret} {
		_, err := FromEnv(func(k string) string {
			if k == "AWS_ENDPOINT_URL" {
				return endpoint
			}
			return os.Getenv(k)
		})
		errs = append(errs, err)
	}
	failures := 0
	for _, err := range errs {
		if err != nil {
			failures++
			if strings.Contains(err.Error(), s3test.Secret) {
				t.Errorf("error shows the secret: %v", err)
			}
		}
	}
	if failures != len(errs)-1 || logs.Len() == 0 {
		t.Fatalf("%d of %d calls failed (want all but the first), %d bytes of logs: %v", failures, len(errs), logs.Len(), errs)
	}
	if strings.Contains(logs.String(), s3test.Secret) {
		t.Errorf("log shows the secret: %s", logs.String())
	}
}

// TestMultipartUpload: a shard above the client's part size goes up in parts and comes back with
// the manifest's bytes (parts signed chunk by chunk would carry the signatures into the object).
func TestMultipartUpload(t *testing.T) {
	local := writeDataset(t, 4096, 5000) // one 20 MB shard
	s, loc := uploaded(t, local)
	f, err := newCache(t, t.TempDir(), 1<<30, quiet()).Fetch(context.Background(), s, loc)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Release(); err != nil {
		t.Fatal(err)
	}
	if f.Stats.Bytes < 16<<20 {
		t.Fatalf("fetched %d bytes, want a shard above the 16 MiB part size", f.Stats.Bytes)
	}
}

// blobsBytes is the size of every blob in a cache folder.
func blobsBytes(t *testing.T, dir string) (total int64) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && !strings.HasPrefix(e.Name(), ".") && !strings.HasSuffix(e.Name(), ".etag") {
			total += info.Size()
		}
	}
	return total
}

// TestPinnedFilesStayOthersGo: while one process holds a dataset (a long offline run, a server),
// another process's fetches on the same cache folder still evict everything else beyond the
// limit, and never the held dataset's files.
func TestPinnedFilesStayOthersGo(t *testing.T) {
	a, b, c := writeDataset(t, 4096+10, 64), writeDataset(t, 4096+20, 64), writeDataset(t, 4096+30, 64)
	s, locA := uploaded(t, a)
	locB, locC := Location{Bucket: s3test.Bucket, Prefix: "b"}, Location{Bucket: s3test.Bucket, Prefix: "c"}
	for loc, dir := range map[Location]string{locB: b, locC: c} {
		if err := s.Upload(context.Background(), dir, loc); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	held, err := newCache(t, dir, 1<<30, quiet()).Fetch(context.Background(), s, locA)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	heldBytes := blobsBytes(t, dir)

	other := newCache(t, dir, 1, quiet()) // evicts all it may
	for _, loc := range []Location{locB, locC} {
		ds, err := other.Open(context.Background(), s, loc)
		if err != nil {
			t.Fatal(err)
		}
		if err := ds.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// C's fetch evicted B (unpinned once closed), spared A (held) and C (just fetched).
	m, err := arrowio.ReadManifest(c)
	if err != nil {
		t.Fatal(err)
	}
	cBytes := m.Classes.Bytes
	for _, sh := range m.Shards {
		cBytes += sh.Bytes
	}
	if got := blobsBytes(t, dir) - heldBytes; got != cBytes {
		t.Errorf("after fetching B then C with a 1-byte limit: %d bytes beside the held dataset's %d, want C's %d alone", got, heldBytes, cBytes)
	}
	got, err := arrowio.Open(held.Dir)
	if err != nil {
		t.Fatalf("the held dataset lost its files: %v", err)
	}
	got.Close()
	// B's view went with its files; A's (held) and C's stay.
	views, err := os.ReadDir(filepath.Join(dir, "views"))
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 {
		t.Errorf("%d views left, want the held dataset's and the last one's", len(views))
	}
}

// TestReuploadRemovesTheOlderDatasetsFiles: a smaller dataset uploaded over a larger one leaves
// none of the older shards behind, and nothing under the prefix that is not the dataset's.
func TestReuploadRemovesTheOlderDatasetsFiles(t *testing.T) {
	large, small := writeDataset(t, 3*4096, 16), writeDataset(t, 100, 16)
	s, loc := uploaded(t, large)
	ctx := context.Background()
	for _, key := range []string{"notes.txt", ".work/stages/embed.json"} {
		if _, err := s.client.PutObject(ctx, loc.Bucket, loc.Key(key), strings.NewReader("mine"), 4, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Upload(ctx, small, loc); err != nil {
		t.Fatal(err)
	}
	listing, err := s.list(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := arrowio.ReadManifest(small)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{arrowio.ManifestName: true, m.Classes.File: true, "notes.txt": true, ".work/stages/embed.json": true}
	for _, sh := range m.Shards {
		want[sh.File] = true
	}
	for rel := range listing {
		if !want[rel] && !strings.HasPrefix(rel, "report/") {
			t.Errorf("%s left in the bucket after a smaller dataset replaced the one it belonged to", rel)
		}
	}
	for rel := range want {
		if _, ok := listing[rel]; !ok {
			t.Errorf("%s missing after the upload", rel)
		}
	}
	ds, err := newCache(t, t.TempDir(), 1<<30, quiet()).Open(ctx, s, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if ds.Len() != 100 {
		t.Errorf("the re-uploaded dataset has %d samples, want 100", ds.Len())
	}
}
