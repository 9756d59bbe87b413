// Package bench measures facestream's streaming throughput the way a training job sees it: N
// concurrent streams read batch by batch from a server (in-process or remote), with warm-up
// excluded, medians over repeated runs, CPU time per 1,000 images and the server's own stage timings.
package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Config says what to measure. Either Dataset (a server is started in-process) or URL is set.
type Config struct {
	Dataset  string        // dataset folder to serve in-process
	URL      string        // base URL of a running server
	Token    string        // bearer token for a server that wants one
	Streams  int           // concurrent streams, each its own rank of world Streams
	Batch    int           // images per batch
	Duration time.Duration // measured time of each run
	Warmup   time.Duration // time read and discarded before each run's measurement
	Repeat   int           // runs; figures are medians over them
	Profile  string        // augmentation profile; empty: the server's default
	Format   string        // arrow or npy
	Mode     string        // sampling mode; empty: the server's default
	Seed     uint64
	Workers  int // in-process server's decode workers; 0: one per CPU

	// edgeReady, set by tests, holds each edge of the measured window (0 ends the warm-up, 1 the
	// window; first is edge 0's snapshot) until it accepts the edge's snapshot, taken again until
	// then: a test waits for progress (batches, the server's work), not for time to pass.
	edgeReady func(edge int, snap, first snapshot) bool
}

// Settings is Config as the JSON report records it (durations in seconds, no token).
type Settings struct {
	Dataset   string  `json:"dataset,omitempty"`
	URL       string  `json:"url"`
	InProcess bool    `json:"in_process"`
	Streams   int     `json:"streams"`
	Batch     int     `json:"batch"`
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	Repeat    int     `json:"repeat"`
	Profile   string  `json:"profile"`
	Format    string  `json:"format"`
	Mode      string  `json:"mode"`
	Seed      uint64  `json:"seed"`
	Workers   int     `json:"workers,omitempty"`
}

func (c *Config) validate() error {
	switch {
	case (c.Dataset == "") == (c.URL == ""):
		return errors.New("bench: give a dataset folder or a server URL, not both or neither")
	case c.Streams < 1:
		return fmt.Errorf("bench: streams %d: want at least 1", c.Streams)
	case c.Batch < 1:
		return fmt.Errorf("bench: batch %d: want at least 1", c.Batch)
	case c.Duration <= 0:
		return fmt.Errorf("bench: duration %s: want more than 0", c.Duration)
	case c.Warmup < 0:
		return fmt.Errorf("bench: warm-up %s: want 0 or more", c.Warmup)
	case c.Repeat < 1:
		return fmt.Errorf("bench: repeat %d: want at least 1", c.Repeat)
	case c.Format != "arrow" && c.Format != "npy":
		return fmt.Errorf("bench: format %q: want arrow or npy", c.Format)
	}
	return nil
}

// batchStream is one open stream: next blocks for the next batch and returns its image count and
// payload bytes. Streams are endless; closing the context passed at opening ends one.
type batchStream interface {
	next() (images int, bytes int64, err error)
	close() error
}

// target is what a run reads from: it opens streams, snapshots the server's /metrics and tells the
// CPU time spent so far by the client and the server together.
type target interface {
	open(ctx context.Context, rank, world, epoch int) (batchStream, error)
	metrics(ctx context.Context) ([]Sample, error)
	cpu(metrics []Sample) (cpuTime, error)
}

// stageMetric is the server's per-stage latency histogram (PROTOCOL.md), split by label "stage".
const stageMetric = "facestream_stage_seconds"

// measure runs cfg.Repeat runs against t and returns their figures.
func measure(ctx context.Context, cfg Config, t target) ([]Figures, error) {
	runs := make([]Figures, 0, cfg.Repeat)
	for r := range cfg.Repeat {
		f, err := runOnce(ctx, cfg, t, r)
		if err != nil {
			return nil, fmt.Errorf("run %d of %d: %w", r+1, cfg.Repeat, err)
		}
		runs = append(runs, f)
	}
	return runs, nil
}

// snapshot is what is read from the process and the server at one edge of the window.
type snapshot struct {
	at      time.Duration
	cpu     cpuTime
	samples []Sample
	arrived int64 // batches of all streams so far
}

// runOnce opens cfg.Streams streams (epoch r, so repeats read different plans), reads them through
// the warm-up and the measured window, and tallies what arrived inside the window.
func runOnce(ctx context.Context, cfg Config, t target, r int) (Figures, error) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	arrivals := make([][]arrival, cfg.Streams)
	opened := make([]time.Duration, cfg.Streams)
	var arrived atomic.Int64
	for s := range cfg.Streams {
		g.Go(func() error {
			opened[s] = time.Since(start)
			st, err := t.open(gctx, s, cfg.Streams, r)
			if err != nil {
				return fmt.Errorf("open stream %d: %w", s, err)
			}
			defer st.close()
			for {
				n, b, err := st.next()
				if err != nil {
					if ctx.Err() != nil {
						return nil // the run is over; the batch in flight is not counted
					}
					return fmt.Errorf("stream %d after %d batches: %w", s, len(arrivals[s]), err)
				}
				arrivals[s] = append(arrivals[s], arrival{at: time.Since(start), images: n, bytes: b})
				arrived.Add(1)
			}
		})
	}
	take := func() (snapshot, error) {
		// Read before the time: every batch counted arrived before the edge.
		snap := snapshot{arrived: arrived.Load(), at: time.Since(start)}
		var err error
		if snap.samples, err = t.metrics(gctx); err != nil {
			return snapshot{}, fmt.Errorf("read server metrics: %w", err)
		}
		if snap.cpu, err = t.cpu(snap.samples); err != nil {
			return snapshot{}, err
		}
		return snap, nil
	}
	edge := func(i int, at time.Duration, first snapshot) (snapshot, error) {
		if err := sleepUntil(gctx, start.Add(at)); err != nil {
			return snapshot{}, err
		}
		for {
			snap, err := take()
			if err != nil || cfg.edgeReady == nil || cfg.edgeReady(i, snap, first) {
				return snap, err
			}
			if err := sleepUntil(gctx, time.Now().Add(5*time.Millisecond)); err != nil {
				return snapshot{}, err
			}
		}
	}
	first, err := edge(0, cfg.Warmup, snapshot{})
	var last snapshot
	if err == nil {
		last, err = edge(1, first.at+cfg.Duration, first)
	}
	stop()
	if werr := g.Wait(); werr != nil {
		return Figures{}, werr
	}
	if err != nil {
		return Figures{}, err
	}
	return figures(count(arrivals, opened, window{first.at, last.at}), first, last)
}

// sleepUntil waits until deadline or ctx's end, whichever is first.
func sleepUntil(ctx context.Context, deadline time.Time) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("run stopped: %w", context.Cause(ctx))
	case <-timer.C:
		return nil
	}
}

// figures turns a window's tally and the snapshots at its edges into the report's figures.
func figures(t tally, first, last snapshot) (Figures, error) {
	span := last.at - first.at
	f := Figures{
		Seconds:       span.Seconds(),
		Batches:       t.batches,
		Images:        t.images,
		Bytes:         t.bytes,
		ImagesPerSec:  perSecond(float64(t.images), span),
		MBPerSec:      perSecond(float64(t.bytes)/1e6, span),
		BatchesPerSec: perSecond(float64(t.batches), span),
	}
	used := last.cpu.since(first.cpu)
	f.CPUMicrosPerImage = microsPerImage(used.total(), t.images)
	f.CPUSecondsPer1000 = f.CPUMicrosPerImage / 1e3
	if used.split {
		f.ClientCPUMicrosPerImage = microsPerImage(used.own, t.images)
		f.ServerCPUMicrosPerImage = microsPerImage(used.server, t.images)
	}
	gaps := t.gaps
	slices.Sort(gaps)
	if n := len(gaps); n > 0 {
		f.BatchMillis = Spread{P50: millis(percentile(gaps, 50)), P99: millis(percentile(gaps, 99)), Max: millis(gaps[n-1])}
	}
	stages, err := stageTimes(first.samples, last.samples)
	if err != nil {
		return Figures{}, err
	}
	f.Stages = stages
	return f, nil
}

// stageTimes differences the server's stage histograms across the window.
func stageTimes(before, after []Sample) ([]StageTimes, error) {
	old, err := Histograms(before, stageMetric, "stage")
	if err != nil {
		return nil, err
	}
	cur, err := Histograms(after, stageMetric, "stage")
	if err != nil {
		return nil, err
	}
	var out []StageTimes
	for name, h := range cur {
		d := h.Since(old[name])
		if d.Count <= 0 {
			continue
		}
		out = append(out, StageTimes{
			Stage:  name,
			Count:  d.Count,
			MeanMs: d.Mean() * 1e3,
			P50Ms:  d.Quantile(0.5) * 1e3,
			P99Ms:  d.Quantile(0.99) * 1e3,
			TotalS: d.Sum,
		})
	}
	sortStages(out)
	return out, nil
}

// machine describes the host for the report.
func machine() Machine {
	return Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version()}
}
