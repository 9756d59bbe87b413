package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/internal/s3test"
	"github.com/facestream/facestream/loader"
	"github.com/facestream/facestream/objstore"
	"github.com/facestream/facestream/offline"
)

// testStorage is what --cache-dir DIR gives a command.
func testStorage(dir string) *storage {
	size := int64(1024)
	return &storage{cacheDir: &dir, cacheSize: &size}
}

// epochDigest is the sha256 of every batch of every rank of one epoch a server streams.
func epochDigest(t *testing.T, url string) [sha256.Size]byte {
	t.Helper()
	h := sha256.New()
	for rank := range 2 {
		r, err := loader.NewClient(url, "").Stream(context.Background(), loader.StreamParams{Rank: rank, World: 2, Batch: 6, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		for {
			b, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			h.Write(b.Images)
			for _, id := range b.IDs {
				h.Write([]byte{byte(id), byte(id >> 8)})
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// TestS3Dataset: import to s3://, then inspect, plan and serve from it, cold and warm, and two
// servers on one cache folder at once: every batch is the bytes of serving the local import.
func TestS3Dataset(t *testing.T) {
	s3test.Start(t)
	dir := t.TempDir()
	local, remote := filepath.Join(dir, "local"), "s3://"+s3test.Bucket+"/sets/raw"
	cache := filepath.Join(dir, "cache")
	run := func(f func([]string) error, args ...string) {
		t.Helper()
		if err := silently(t, func() error { return f(args) }); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	run(runSynth, "--out", dir, "--identities", "6", "--seed", "2", "--size", "40")
	images := filepath.Join(dir, "images")
	run(runImport, "imagefolder", images, "--out", local)
	run(runImport, "imagefolder", images, "--out", remote, "--cache-dir", cache)
	if err := silently(t, func() error { return runImport([]string{"imagefolder", images, "--out", remote, "--cache-dir", cache}) }); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("import over an s3 dataset: %v, want a refusal naming --force", err)
	}
	run(runImport, "imagefolder", images, "--out", remote, "--cache-dir", cache, "--force")

	want, got := inspectJSON(t, local), inspectJSON(t, remote, "--cache-dir", cache, "--verify")
	if got.Samples != want.Samples || got.Identities != want.Identities || got.Shards != want.Shards || !got.Verified {
		t.Errorf("inspect s3: %+v, want the counts of %+v", got, want)
	}
	if l, r := planOutput(t, local, "--world", "2", "--batch", "8"), planOutput(t, remote, "--world", "2", "--batch", "8", "--cache-dir", cache); l != r {
		t.Errorf("plan of the s3 dataset differs from the local one")
	}

	wantDigest := epochDigest(t, serveForTest(t, local))
	serveCache := filepath.Join(dir, "serve-cache")
	for _, pass := range []string{"cold", "warm"} {
		ds, err := testStorage(serveCache).open(context.Background(), remote)
		if err != nil {
			t.Fatal(err)
		}
		if epochDigest(t, serveDataset(t, ds)) != wantDigest {
			t.Errorf("%s cache: the s3 dataset's batches differ from the local one's", pass)
		}
	}
	shared := filepath.Join(dir, "shared-cache")
	var wg sync.WaitGroup
	servers := make([]*arrowio.Dataset, 2)
	for i := range servers {
		wg.Go(func() {
			ds, err := testStorage(shared).open(context.Background(), remote)
			if err != nil {
				t.Error(err)
			}
			servers[i] = ds
		})
	}
	wg.Wait()
	for i, ds := range servers {
		if ds != nil && epochDigest(t, serveDataset(t, ds)) != wantDigest {
			t.Errorf("server %d on a shared cache: batches differ from the local dataset's", i)
		}
	}

	// Two server processes filling one empty cache folder at once.
	processes := filepath.Join(dir, "process-cache")
	env := append(os.Environ(), asMainEnv+"=1")
	urls, errs := make([]string, 2), make([]error, 2)
	for i := range urls {
		wg.Go(func() {
			urls[i], errs[i] = launchServer(t, env, []string{"serve", remote, "--addr", "127.0.0.1:0", "--cache-dir", processes, "--size", "16"})
		})
	}
	wg.Wait()
	for i, url := range urls {
		if errs[i] != nil {
			t.Errorf("server process %d: %v", i, errs[i])
		} else if epochDigest(t, url) != wantDigest {
			t.Errorf("server process %d on a shared cache: batches differ from the local dataset's", i)
		}
	}
}

// TestOfflineS3: offline run from s3:// to s3:// writes the bytes of the same run on local
// folders, names the s3 source in its manifest, and a reader finds it complete.
func TestOfflineS3(t *testing.T) {
	s3test.Start(t) // before the fixture, whose processes inherit the environment
	data, env, want := offlineFixture(t)
	ctx := context.Background()
	raw, eq := "s3://"+s3test.Bucket+"/raw", "s3://"+s3test.Bucket+"/eq"
	st := testStorage(filepath.Join(t.TempDir(), "cache"))
	loc, _, err := st.remote(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.store.Upload(ctx, filepath.Join(data, "raw"), loc); err != nil {
		t.Fatal(err)
	}
	run := exec.Command(os.Args[0], "offline", "run", raw, "--out", eq, "--model", filepath.Join(data, "models", "premodel.onnx"),
		"--cache-dir", filepath.Join(t.TempDir(), "offline-cache"))
	run.Env = env
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("offline run to s3: %v\n%s", err, out)
	}
	if want := "report: " + eq + "/report/report.html\n"; !strings.Contains(string(out), want) {
		t.Errorf("offline run to s3 says where its report is otherwise than %q:\n%s", want, out)
	}
	dir, release, err := st.fetch(ctx, eq)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	m, err := arrowio.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.ContentHashes(), want) {
		t.Errorf("offline run on s3 wrote other bytes than on local folders")
	}
	if m.Source != raw {
		t.Errorf("manifest source %q, want %q", m.Source, raw)
	}

	// The stages split over "machines" that share only the bucket: each job starts with an empty
	// cache (at the same path, as the same pod spec gives every job) and the work folder is on s3;
	// a part takes its index from $JOB_COMPLETION_INDEX, as in a Kubernetes Indexed Job.
	cache, eqParts := filepath.Join(t.TempDir(), "job-cache"), "s3://"+s3test.Bucket+"/eq-parts"
	for _, job := range []struct {
		stage string
		index int // -1: not a part
	}{{"embed", 0}, {"embed", 1}, {"select", 0}, {"select", 1}, {"select", -1}, {"augment", 0}, {"augment", 1}, {"equalize", -1}} {
		if err := os.RemoveAll(cache); err != nil {
			t.Fatal(err)
		}
		args := []string{"offline", job.stage, raw, "--out", eqParts, "--work", "s3://" + s3test.Bucket + "/work",
			"--model", filepath.Join(data, "models", "premodel.onnx"), "--cache-dir", cache}
		jobEnv := env
		if job.index >= 0 {
			args = append(args, "--part", "auto/2")
			jobEnv = append(slices.Clip(env), offline.K8sIndexEnv+"="+strconv.Itoa(job.index))
		}
		runFacestream(t, jobEnv, args...)
	}
	parts, releaseParts, err := st.fetch(ctx, eqParts)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseParts()
	if got := datasetHashes(t, parts); !slices.Equal(got, want) {
		t.Errorf("offline parts with an s3 work folder wrote other bytes than a single local run")
	}
	workLoc, _, err := st.remote("s3://" + s3test.Bucket + "/work")
	if err != nil {
		t.Fatal(err)
	}
	pulled := t.TempDir()
	if err := objstore.NewMirror(st.store, workLoc, pulled).Pull(ctx); err != nil {
		t.Fatal(err)
	}
	records, err := os.ReadDir(filepath.Join(pulled, "stages"))
	if err != nil || len(records) < 7 { // embed ×2, select ×3, augment ×2 (+ equalize)
		t.Errorf("the s3 work folder holds %d stage records (%v), want every job's", len(records), err)
	}
}
