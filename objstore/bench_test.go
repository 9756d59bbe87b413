package objstore

import (
	"context"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/internal/realdata"
	"github.com/facestream/facestream/loader"
	"github.com/facestream/facestream/offline/ingest"
)

// benchBatch is the batch a benchmark stream asks for.
const benchBatch = 128

// importFaces imports the real faces (lfw-ak, 7,698 photos of 112×112) as a local dataset;
// it skips b when they are absent.
func importFaces(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "faces")
	if _, err := ingest.Import(context.Background(), ingest.Options{Format: ingest.FormatImageFolder, Source: realdata.Faces(b), Out: dir}); err != nil {
		b.Fatal(err)
	}
	return dir
}

// serveBench serves ds on a loopback port (a worker per core, the face profile at 112×112) and
// returns a client; the server and ds close when b ends.
func serveBench(b *testing.B, ds *arrowio.Dataset) *loader.Client {
	b.Helper()
	srv, err := loader.NewServer(ds, loader.Config{Height: 112, Width: 112, Workers: runtime.GOMAXPROCS(0), Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	b.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			b.Error(err)
		}
		<-done
		ds.Close()
	})
	return loader.NewClient("http://"+ln.Addr().String(), "")
}

// BenchmarkServe serves the same dataset from a local folder and from s3:// through a warm
// cache, two servers taking turns (the first alternating): each op is one round of a stream from each, alone on the
// machine, so the load of a shared machine falls on both alike. The figures are the medians of
// the rounds' rates.
func BenchmarkServe(b *testing.B) {
	local := importFaces(b)
	s, loc := uploaded(b, local)
	c := newCache(b, b.TempDir(), 1<<40, quiet())
	warm, err := c.Open(context.Background(), s, loc)
	if err != nil {
		b.Fatal(err)
	}
	warm.Close()
	var clients [2]*loader.Client
	for i, open := range []func() (*arrowio.Dataset, error){
		func() (*arrowio.Dataset, error) { return arrowio.Open(local) },
		func() (*arrowio.Dataset, error) { return c.Open(context.Background(), s, loc) },
	} {
		ds, err := open()
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = serveBench(b, ds)
	}
	var rates [2][]float64
	for round := 0; b.Loop(); round++ {
		for k := range clients {
			i := (k + round) % 2 // who goes first alternates
			rates[i] = append(rates[i], streamRate(b, clients[i]))
		}
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	ratios := make([]float64, len(rates[0]))
	for r := range ratios {
		ratios[r] = 100 * rates[1][r] / rates[0][r]
	}
	b.ReportMetric(median(ratios), "s3/local-%")
	b.ReportMetric(median(rates[0]), "local-img/s")
	b.ReportMetric(median(rates[1]), "s3warm-img/s")
}

// streamRate opens a stream and returns the images per second of its batches after the first
// few (the server's pipeline filling).
func streamRate(b *testing.B, client *loader.Client) float64 {
	const warmup, timed = 3, 20
	r, err := client.Stream(context.Background(), loader.StreamParams{Batch: benchBatch, Epochs: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var start time.Time
	for i := range warmup + timed {
		if i == warmup {
			start = time.Now()
		}
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
	return timed * benchBatch / time.Since(start).Seconds()
}

// BenchmarkColdStart is the time from an empty cache to the first batch received from a
// server on the s3:// dataset: fetch (verified) and map, start, first batch.
func BenchmarkColdStart(b *testing.B) {
	local := importFaces(b)
	s, loc := uploaded(b, local)
	m, err := arrowio.ReadManifest(local)
	if err != nil {
		b.Fatal(err)
	}
	bytes := m.Classes.Bytes
	for _, sh := range m.Shards {
		bytes += sh.Bytes
	}
	var fetch time.Duration
	for b.Loop() {
		start := time.Now()
		c := newCache(b, b.TempDir(), 1<<40, quiet())
		ds, err := c.Open(context.Background(), s, loc)
		if err != nil {
			b.Fatal(err)
		}
		fetch += time.Since(start)
		r, err := serveBench(b, ds).Stream(context.Background(), loader.StreamParams{Batch: benchBatch})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
	b.ReportMetric(fetch.Seconds()/float64(b.N), "fetch-s")
	b.ReportMetric(float64(bytes)*float64(b.N)/fetch.Seconds()/1e6, "fetch-MB/s")
	b.ReportMetric(float64(bytes)/1e6, "dataset-MB")
}
