package embed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/facestream/facestream/offline/synth"
)

// benchModel is the shipped pre-model when it exists (MobileFaceNet-like, 112×112, 128-d), else the
// NCHW fixture; $EMBED_BENCH_MODEL overrides both.
func benchModel(b *testing.B) string {
	if m := os.Getenv("EMBED_BENCH_MODEL"); m != "" {
		return m
	}
	shipped := filepath.Join("..", "..", "testdata", "premodel-synth.onnx")
	if _, err := os.Stat(shipped); err == nil {
		return shipped
	}
	return filepath.Join("testdata", "nchw128.onnx")
}

// benchImages renders a small synthetic face set (112×112 JPEG, as imported sets hold) and returns
// its encoded photos.
func benchImages(b testing.TB) [][]byte {
	dir := b.TempDir()
	if _, err := synth.Generate(context.Background(), dir, synth.Options{Identities: 6, Seed: 3, Size: 112}); err != nil {
		b.Fatal(err)
	}
	var images [][]byte
	err := filepath.WalkDir(filepath.Join(dir, "images"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		images = append(images, data)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if len(images) == 0 {
		b.Fatal("synth wrote no images")
	}
	return images
}

func openBench(b *testing.B, opts Options) *Embedder {
	requireLibrary(b)
	opts.Model = benchModel(b)
	e, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

// threadChoices are the ORT thread counts the benchmarks compare: every core (the default) and
// one thread (cores left to the decode workers).
func threadChoices() []int {
	if all := runtime.GOMAXPROCS(0); all > 1 {
		return []int{all, 1}
	}
	return []int{1}
}

// BenchmarkEmbedPipeline measures decode + preprocessing + ONNX Runtime, against ONNX Runtime alone
// on the same session and batch (see comparePipeline), with every core for ORT and with one thread.
func BenchmarkEmbedPipeline(b *testing.B) {
	photos := benchImages(b)
	for _, threads := range threadChoices() {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			e := openBench(b, Options{Threads: threads})
			b.Logf("%s; %d distinct images", e, len(photos))
			n := 4 * e.Batch()
			out := make([]float32, n*e.Dim())
			comparePipeline(b, e, n, func() error {
				return e.Embed(n, func(i int) []byte { return photos[i%len(photos)] }, out, nil)
			})
		})
	}
}

// BenchmarkEmbedRGB is BenchmarkEmbedPipeline on decoded pixels: what this package adds to ONNX
// Runtime (preprocessing, batching, normalising), without the image decoder's cost.
func BenchmarkEmbedRGB(b *testing.B) {
	e := openBench(b, Options{})
	h, w := e.InputSize()
	pixels := make([]byte, h*w*3)
	for i := range pixels {
		pixels[i] = byte(i * 7)
	}
	n := 4 * e.Batch()
	out := make([]float32, n*e.Dim())
	comparePipeline(b, e, n, func() error {
		return e.EmbedRGB(n, func(int) []byte { return pixels }, out, nil)
	})
}

// comparePipeline times embedCall (n images) in the benchmark loop. After each timed call it runs
// ONNX Runtime alone on the same session and batch for as many images (untimed), so that both rates
// see the same machine load, and reports the pipeline's rate as a percentage of ONNX Runtime's
// (the target is ≥ 90 %), with the CPU time per image of each.
func comparePipeline(b *testing.B, e *Embedder, n int, embedCall func() error) {
	if err := embedCall(); err != nil { // warm-up: ORT allocates on the first runs
		b.Fatal(err)
	}
	var alone, pipelineCPU, aloneCPU time.Duration
	b.ResetTimer()
	for b.Loop() {
		cpu := processCPU(b)
		if err := embedCall(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		start, mid := time.Now(), processCPU(b)
		for range n / e.Batch() {
			runFull(b, e)
		}
		alone += time.Since(start)
		end := processCPU(b)
		pipelineCPU, aloneCPU = pipelineCPU+mid-cpu, aloneCPU+end-mid
		b.StartTimer()
	}
	images := float64(n * b.N)
	pipeline, ort := images/b.Elapsed().Seconds(), images/alone.Seconds()
	b.ReportMetric(pipeline, "img/s")
	b.ReportMetric(ort, "ort-img/s")
	b.ReportMetric(100*pipeline/ort, "%ORT")
	// CPU per image does not depend on what else the machine runs: it shows what decoding adds.
	b.ReportMetric(pipelineCPU.Seconds()*1e3/images, "cpu-ms/img")
	b.ReportMetric(aloneCPU.Seconds()*1e3/images, "ort-cpu-ms/img")
}

// processCPU is the CPU time of the whole process, ONNX Runtime's own threads included.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkORTAlone runs the session on a pre-made input batch in a loop: the ceiling of
// BenchmarkEmbedPipeline, with every core and with one thread.
func BenchmarkORTAlone(b *testing.B) {
	for _, threads := range threadChoices() {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			e := openBench(b, Options{Threads: threads})
			runFull(b, e) // warm-up
			b.ResetTimer()
			for b.Loop() {
				runFull(b, e)
			}
			b.ReportMetric(float64(e.Batch()*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// runFull runs the session once on the first slot's whole batch, whatever the slot holds.
func runFull(b *testing.B, e *Embedder) {
	s := e.slots[0]
	s.count = e.Batch()
	if err := e.run(s); err != nil {
		b.Fatal(err)
	}
}
