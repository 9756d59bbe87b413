package bench

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/facestream/facestream/internal/testdataset"
)

// tinyDataset writes a raw dataset of n 128×128 JPEGs over c identities, round-robin, into a
// temporary folder.
func tinyDataset(t *testing.T, n, c int) string {
	t.Helper()
	return testdataset.Write(t, t.TempDir(), testdataset.Options{Source: "bench test", Identities: c, PerIdentity: n / c,
		Interleave: true, Size: 128})
}

// progressed is a Config.edgeReady: the warm-up ends once batches arrived; the window once more
// batches arrived in it than there are streams (so at least one inside it, however the streams
// interleave with the snapshot), the server made images in it and its CPU counter moved.
func progressed(t *testing.T, streams int) func(int, snapshot, snapshot) bool {
	made := func(s snapshot) float64 {
		hs, err := Histograms(s.samples, stageMetric, "stage")
		if err != nil {
			t.Errorf("server stage timings: %v", err)
		}
		return hs["decode_augment"].Count
	}
	// The server's CPU counter moves in clock ticks (10 ms): a window it has not moved in would
	// split the CPU per image as server 0 + client.
	cpu := func(s snapshot) float64 {
		v, _ := Value(s.samples, serverCPUMetric, nil)
		return v
	}
	return func(edge int, snap, first snapshot) bool {
		if edge == 0 {
			return snap.arrived >= int64(streams)
		}
		return snap.arrived-first.arrived > int64(streams) && made(snap) > made(first) && cpu(snap) > cpu(first)
	}
}

// TestRunEndToEnd serves a tiny dataset and checks that the figures are positive and agree with one
// another; it sets no threshold on any rate. Its window is counted in batches, not timed.
func TestRunEndToEnd(t *testing.T) {
	ds := tinyDataset(t, 48, 4)
	base := Config{Streams: 2, Batch: 8, Duration: time.Millisecond, Repeat: 2, Format: "arrow", Workers: 2}
	inProc := base
	inProc.Dataset = ds
	addr, stop, err := serveInProcess(Config{Dataset: ds, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	remote := base
	remote.URL, remote.Format = "http://"+addr, "npy"

	for name, cfg := range map[string]Config{"in-process arrow": inProc, "remote npy": remote} {
		t.Run(name, func(t *testing.T) {
			cfg.edgeReady = progressed(t, cfg.Streams)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // no progress: an error
			defer cancel()
			r, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r.Image != (Shape{112, 112, 3}) {
				t.Errorf("image shape %+v, want 112×112×3", r.Image)
			}
			if len(r.Runs) != cfg.Repeat {
				t.Fatalf("%d runs, want %d", len(r.Runs), cfg.Repeat)
			}
			for i, f := range r.Runs {
				checkConsistent(t, fmt.Sprintf("run %d", i+1), f, cfg.Batch, r.Image)
			}
			m := r.Median
			if m.ImagesPerSec <= 0 || m.CPUSecondsPer1000 <= 0 || m.BatchMillis.P50 <= 0 {
				t.Errorf("median figures not positive: %+v", m)
			}
			if remote := cfg.URL != ""; remote != (m.ServerCPUMicrosPerImage > 0 && m.ClientCPUMicrosPerImage > 0) {
				t.Errorf("remote %v, but CPU per image split as server %v + client %v µs", remote,
					m.ServerCPUMicrosPerImage, m.ClientCPUMicrosPerImage)
			}
			if !hasStage(m.Stages, "decode_augment") {
				t.Errorf("no decode_augment stage timings from /metrics: %+v", m.Stages)
			}
		})
	}
}

func checkConsistent(t *testing.T, name string, f Figures, batch int, shape Shape) {
	t.Helper()
	if f.Batches <= 0 || f.Seconds <= 0 {
		t.Fatalf("%s: %d batches in %v s", name, f.Batches, f.Seconds)
	}
	if f.Images != f.Batches*int64(batch) {
		t.Errorf("%s: images %d != batches %d × batch %d", name, f.Images, f.Batches, batch)
	}
	pixels := int64(shape.Height * shape.Width * shape.Channels)
	if f.Bytes != f.Images*pixels {
		t.Errorf("%s: bytes %d != images %d × %d", name, f.Bytes, f.Images, pixels)
	}
	near := func(what string, got, want float64) {
		if math.Abs(got-want) > 1e-6*want {
			t.Errorf("%s: %s = %v, want %v", name, what, got, want)
		}
	}
	near("images/s", f.ImagesPerSec, float64(f.Images)/f.Seconds)
	near("MB/s", f.MBPerSec, float64(f.Images*pixels)/1e6/f.Seconds)
	near("batches/s", f.BatchesPerSec, float64(f.Batches)/f.Seconds)
	if f.CPUMicrosPerImage <= 0 || math.Abs(f.CPUSecondsPer1000*1e3-f.CPUMicrosPerImage) > 1e-9*f.CPUMicrosPerImage {
		t.Errorf("%s: CPU per image %v µs, per 1,000 images %v s: want > 0 and equal", name, f.CPUMicrosPerImage, f.CPUSecondsPer1000)
	}
	b := f.BatchMillis
	if !(b.P50 > 0 && b.P50 <= b.P99 && b.P99 <= b.Max) {
		t.Errorf("%s: batch times not ordered 0 < p50 ≤ p99 ≤ max: %+v", name, b)
	}
}

func hasStage(stages []StageTimes, name string) bool {
	for _, s := range stages {
		if s.Stage == name && s.Count > 0 && s.MeanMs > 0 {
			return true
		}
	}
	return false
}
