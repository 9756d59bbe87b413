package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facestream/facestream/loader"
	"golang.org/x/sync/errgroup"
)

const (
	abortMax     = 1000             // aborted streams at most...
	abortBudget  = 25 * time.Second // ...within this time
	abortWorkers = 8
)

// checkAborts opens and abandons many streams (FIN or RST, after 0-2 MB, some mid-request) and
// checks the server is left healthy, with no stream and no goroutine held, and that the idle trim
// gives memory back.
func checkAborts(ctx context.Context, e *env) (string, map[string]any, bool, error) {
	srv, err := e.startServer(ctx, e.raw)
	if err != nil {
		return "", nil, false, err
	}
	defer srv.stop()
	m0, err := srv.metrics("")
	if err != nil {
		return "", nil, false, err
	}
	rss0, _ := rssMiB(srv.pid())
	sampler := sampleRSS(srv.pid())
	var n, midRequest, resets atomic.Int64
	deadline := time.Now().Add(abortBudget)
	var wg sync.WaitGroup
	for range abortWorkers {
		// One generator per worker, seeded from the campaign's: rand.Rand is not safe to share.
		rng := rand.New(rand.NewPCG(e.rng.Uint64(), e.rng.Uint64()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := n.Add(1)
				if i > abortMax {
					return
				}
				mid, rst := abortOne(srv.addr, int(i), rng.IntN(2<<20+1), rng.IntN(10) == 0, rng.IntN(2) == 0)
				if mid {
					midRequest.Add(1)
				}
				if rst {
					resets.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	aborted := min(n.Load(), abortMax)
	peak := sampler.stop()

	// Streams must all be closed soon; then the idle trim runs 5 s after the last one closed.
	var m map[string]float64
	for t := time.Now(); time.Since(t) < 10*time.Second; time.Sleep(100 * time.Millisecond) {
		if m, err = srv.metrics(""); err == nil && m["facestream_streams_open"] == 0 {
			break
		}
	}
	if err != nil {
		return "", nil, false, err
	}
	time.Sleep(7 * time.Second)
	if m, err = srv.metrics(""); err != nil {
		return "", nil, false, err
	}
	rssIdle, _ := rssMiB(srv.pid())
	// A connection closed half-way through its request holds its fasthttp worker for 15-20 s after
	// the close (measured; bounded by the server's 30 s ReadTimeout): give the count that long.
	goroutinesAt := 7.0
	for t := time.Now(); m["go_goroutines"] > m0["go_goroutines"]+5 && time.Since(t) < 25*time.Second; time.Sleep(500 * time.Millisecond) {
		if m, err = srv.metrics(""); err != nil {
			return "", nil, false, err
		}
		goroutinesAt = 7 + time.Since(t).Seconds()
	}
	code, body, herr := httpGet(srv.url()+"/healthz", "", 5*time.Second)
	healthy := herr == nil && code == 200 && body == "ok"
	g0, g1 := m0["go_goroutines"], m["go_goroutines"]
	trims := m["facestream_idle_memory_trims_total"]
	open := m["facestream_streams_open"]
	pass := healthy && open == 0 && g1 <= g0+5 && trims >= 1
	figures := map[string]any{"aborted": aborted, "mid_request": midRequest.Load(), "rst": resets.Load(), "healthy": healthy,
		"streams_open": open, "goroutines_before": g0, "goroutines_after": g1, "goroutines_after_idle_s": goroutinesAt, "rss_start_mib": rss0,
		"rss_peak_mib": peak, "rss_idle_mib": rssIdle, "idle_trims": trims}
	return fmt.Sprintf("%d aborted (%d mid-request, %d RST); healthz %v, streams_open %.0f, goroutines %.0f -> %.0f (after %.0f s idle); RSS %.0f -> %.0f MiB peak -> %.0f MiB after 7 s idle, idle trims %.0f",
		aborted, midRequest.Load(), resets.Load(), healthy, open, g0, g1, goroutinesAt, rss0, peak, rssIdle, trims), figures, pass, nil
}

// abortOne opens a stream over a raw connection and abandons it: mid-request (half a request line),
// else after reading upTo bytes; rst closes with SO_LINGER 0 (an RST) instead of a FIN.
func abortOne(addr string, i, upTo int, mid, rst bool) (bool, bool) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false, false
	}
	tcp := conn.(*net.TCPConn)
	defer func() {
		if rst {
			_ = tcp.SetLinger(0)
		}
		conn.Close()
	}()
	req := fmt.Sprintf("GET /v1/stream?rank=%d&world=4&batch=64&epoch=%d&seed=%d HTTP/1.1\r\nHost: x\r\n\r\n", i%4, i%7, i)
	if mid {
		_, _ = conn.Write([]byte(req[:len(req)/2]))
		return true, rst
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(req)); err != nil {
		return false, rst
	}
	_, _ = io.CopyN(io.Discard, conn, int64(upTo))
	return false, rst
}

const (
	loadStreams  = 16
	loadDuration = 20 * time.Second
)

// checkLoad runs loadStreams endless streams side by side and samples the server's RSS.
func checkLoad(ctx context.Context, e *env) (string, map[string]any, bool, error) {
	srv, err := e.startServer(ctx, e.raw)
	if err != nil {
		return "", nil, false, err
	}
	defer srv.stop()
	client := loader.NewClient(srv.url(), "")
	sampler := sampleRSS(srv.pid())
	lctx, cancel := context.WithTimeout(ctx, loadDuration)
	defer cancel()
	var images atomic.Int64
	var errs atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	g := errgroup.Group{}
	for i := range loadStreams {
		g.Go(func() error {
			s, err := client.Stream(lctx, loader.StreamParams{Rank: i, World: loadStreams, Batch: 64, Epochs: -1, Seed: uint64(i)})
			if err == nil {
				defer s.Close()
				for {
					var b *loader.Batch
					if b, err = s.Next(); err != nil {
						break
					}
					images.Add(int64(len(b.IDs)))
				}
			}
			if lctx.Err() == nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, loader.ErrTruncated) || isNetErr(err)) {
				errs.Add(1)
				once.Do(func() { firstErr = err })
			}
			return nil
		})
	}
	_ = g.Wait()
	secs := time.Since(start).Seconds()
	peak := sampler.stop()
	rate := float64(images.Load()) / secs
	figures := map[string]any{"streams": loadStreams, "seconds": secs, "images": images.Load(), "images_per_second": rate,
		"errors": errs.Load(), "rss_max_mib": peak}
	summary := fmt.Sprintf("%d streams x %.0f s: %d errors, %d images, %.0f img/s, RSS max %.0f MiB",
		loadStreams, secs, errs.Load(), images.Load(), rate, peak)
	if firstErr != nil {
		summary += fmt.Sprintf(" (first error: %v)", firstErr)
	}
	return summary, figures, errs.Load() == 0 && images.Load() > 0, nil
}

// checkStalled: two readers stop reading and hold both slots of --max-streams 2; a third stream must
// get in by evicting one, the other must be closed by the stall timeout, and both stalled readers
// must then resume to exactly the bytes of an uninterrupted read.
func checkStalled(ctx context.Context, e *env) (string, map[string]any, bool, error) {
	srv, err := e.startServer(ctx, e.raw, "--max-streams", "2", "--stall-timeout", "3s", "--evict-after", "1s")
	if err != nil {
		return "", nil, false, err
	}
	defer srv.stop()
	client := loader.NewClient(srv.url(), "")
	params := func(rank int) loader.StreamParams { return loader.StreamParams{Rank: rank, World: 2, Batch: 64} }
	var ref [2]*epochRead
	for rank := range 2 {
		if ref[rank], err = readResuming(ctx, client, params(rank), nil); err != nil {
			return "", nil, false, fmt.Errorf("uninterrupted read: %w", err)
		}
	}

	// The stalled readers read one batch, then wait for release.
	release := make(chan struct{})
	stalled := make(chan struct{}, 2)
	got := make([]*epochRead, 2)
	g, gctx := errgroup.WithContext(ctx)
	for rank := range 2 {
		g.Go(func() error {
			r, err := readResuming(gctx, client, params(rank), func(done int) error {
				if done == 1 {
					stalled <- struct{}{}
					<-release
				}
				return nil
			})
			got[rank] = r
			return err
		})
	}
	<-stalled
	<-stalled

	// The third stream: retried on 429 until the server evicts a stalled one.
	t0 := time.Now()
	admitted := -1.0
	for time.Since(t0) < 10*time.Second && ctx.Err() == nil {
		s, err := client.Stream(ctx, loader.StreamParams{Rank: 0, World: 1, Batch: 64, Seed: 5})
		if err == nil {
			_, err = s.Next()
			s.Close()
			if err == nil {
				admitted = time.Since(t0).Seconds()
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The stream not evicted is closed once stalled 3 s.
	var m map[string]float64
	for t := time.Now(); time.Since(t) < 8*time.Second; time.Sleep(100 * time.Millisecond) {
		if m, err = srv.metrics(""); err == nil && m["facestream_streams_stalled_closed_total"] >= 1 {
			break
		}
	}
	close(release)
	if err := g.Wait(); err != nil {
		return "", nil, false, fmt.Errorf("stalled reader resuming: %w", err)
	}
	if m == nil {
		return "", nil, false, fmt.Errorf("metrics: %w", err)
	}
	evicted, closed := m["facestream_streams_evicted_total"], m["facestream_streams_stalled_closed_total"]
	same := got[0].Sum == ref[0].Sum && got[1].Sum == ref[1].Sum
	pass := admitted >= 0 && admitted <= 5 && evicted >= 1 && closed >= 1 && same
	figures := map[string]any{"third_admitted_after_s": admitted, "evicted": evicted, "stalled_closed": closed,
		"resumes": got[0].Resumes + got[1].Resumes, "bytes_identical": same}
	return fmt.Sprintf("third stream admitted after %.1f s, evicted %.0f, stalled-closed %.0f; stalled readers resumed %d times, %s",
		admitted, evicted, closed, got[0].Resumes+got[1].Resumes, identical(same)), figures, pass, nil
}
