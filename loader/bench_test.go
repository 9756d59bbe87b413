package loader

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/internal/testdataset"
)

// benchDataset is 400 photos of 112×112, the size of an aligned face crop.
func benchDataset(b *testing.B) *arrowio.Dataset {
	b.Helper()
	return testdataset.Open(b, testdataset.Options{Identities: 20, PerIdentity: 20, Size: 112, FirstID: 1})
}

// BenchmarkStream measures loopback throughput of the face profile at 112×112 with 1, 2, 8 and 32
// concurrent streams, in both formats, with a worker per core: one op is one batch of 128 images
// received. Client and server share the process, so cpu-s/1000img counts both.
func BenchmarkStream(b *testing.B) {
	ds := benchDataset(b)
	const batch = 128
	for _, format := range []string{"arrow", "npy"} {
		for _, streams := range []int{1, 2, 8, 32} {
			b.Run(fmt.Sprintf("format=%s/streams=%d", format, streams), func(b *testing.B) {
				srv := startServer(b, ds, Config{Height: 112, Width: 112, Workers: runtime.GOMAXPROCS(0)})
				benchStreams(b, srv.client, streams, StreamParams{Batch: batch, Format: format, Epochs: -1})
			})
		}
	}
}

func benchStreams(b *testing.B, c *Client, streams int, p StreamParams) {
	perStream := max(b.N/streams, 1)
	var (
		mu    sync.Mutex
		waits []time.Duration
		sent  int64
	)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for s := range streams {
		p := p
		p.Seed = uint64(s)
		wg.Go(func() {
			sr, err := c.Stream(context.Background(), p)
			if err != nil {
				b.Error(err)
				return
			}
			defer sr.Close()
			mine := make([]time.Duration, 0, perStream)
			var n int64
			last := time.Now()
			for range perStream {
				bt, err := sr.Next()
				if err != nil {
					b.Error(err)
					return
				}
				now := time.Now()
				mine = append(mine, now.Sub(last))
				last = now
				n += int64(len(bt.Images))
			}
			mu.Lock()
			waits = append(waits, mine...)
			sent += n
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	images := float64(len(waits) * p.Batch)
	slices.Sort(waits)
	if len(waits) == 0 {
		return
	}
	b.ReportMetric(images/elapsed.Seconds(), "img/s")
	b.ReportMetric(float64(sent)/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(waits[len(waits)/2].Microseconds())/1e3, "p50-ms/batch")
	b.ReportMetric(float64(waits[len(waits)*99/100].Microseconds())/1e3, "p99-ms/batch")
	b.ReportMetric(cpu.Seconds()/images*1000, "cpu-s/1000img")
}

// cpuTime is the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncodeArrow is the cost of framing one 256-image batch as an Arrow record batch
// (zero-copy columns; the bytes go to a discarding writer).
func BenchmarkEncodeArrow(b *testing.B) {
	benchEncode(b, func(cw *chunkWriter, shape streamShape) encoder {
		return newArrowEncoder(cw, shape, streamMeta{mode: "uniform", profile: "face"})
	})
}

// BenchmarkEncodeNPY is the same for the three NPY arrays.
func BenchmarkEncodeNPY(b *testing.B) {
	benchEncode(b, func(cw *chunkWriter, shape streamShape) encoder { return newNPYEncoder(cw, shape) })
}

func benchEncode(b *testing.B, newEnc func(*chunkWriter, streamShape) encoder) {
	shape := streamShape{height: 112, width: 112, channels: 3, batch: 256}
	s := newSlot(shape.batch, shape.imageBytes())
	cw := newChunkWriter(discard{})
	enc := newEnc(cw, shape)
	b.SetBytes(int64(len(s.images)))
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.encode(&s.batchData); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*shape.batch)/b.Elapsed().Seconds(), "img/s")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
