package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*ms)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * ms}, {99, 99 * ms}, {100, 100 * ms}, {0.1, 1 * ms}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile([]time.Duration{7 * ms}, 99); got != 7*ms {
		t.Errorf("one value: p99 = %v", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("no values: p50 = %v", got)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{5}, 5}} {
		in := slices.Clone(c.in)
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("median reordered its input: %v", c.in)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

// steady is a known workload on a fake clock: each stream opens at 0 and delivers a batch of
// `images` every `every`, ending at `until`.
func steady(streams, images int, every, until time.Duration, imageBytes int64) ([][]arrival, []time.Duration) {
	arr := make([][]arrival, streams)
	for s := range arr {
		for at := every; at <= until; at += every {
			arr[s] = append(arr[s], arrival{at: at, images: images, bytes: int64(images) * imageBytes})
		}
	}
	return arr, make([]time.Duration, streams)
}

func TestFiguresOfKnownWorkload(t *testing.T) {
	const imageBytes = 112 * 112 * 3
	// 4 streams, 32-image batches every 10 ms, 3 s in all; the window is (1 s, 2 s]: 100 batches a stream.
	arr, opened := steady(4, 32, 10*ms, 3*time.Second, imageBytes)
	// One slow batch inside the window on stream 2 (its gap 60 ms), as a stall would show.
	arr[2] = slices.DeleteFunc(arr[2], func(a arrival) bool { return a.at > 1500*ms && a.at < 1560*ms })
	tl := count(arr, opened, window{time.Second, 2 * time.Second})
	if want := int64(4*100 - 5); tl.batches != want {
		t.Fatalf("batches = %d, want %d", tl.batches, want)
	}
	first := snapshot{at: time.Second, cpu: cpuTime{own: 3 * time.Second}}
	last := snapshot{at: 2 * time.Second, cpu: cpuTime{own: 3*time.Second + 1264*ms}}
	f, err := figures(tl, first, last)
	if err != nil {
		t.Fatal(err)
	}
	images := tl.batches * 32
	check := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("images", float64(f.Images), float64(images))
	check("seconds", f.Seconds, 1)
	check("images/s", f.ImagesPerSec, float64(images))
	check("batches/s", f.BatchesPerSec, float64(tl.batches))
	check("MB/s", f.MBPerSec, float64(images*imageBytes)/1e6)
	check("CPU s per 1,000", f.CPUSecondsPer1000, 1.264/float64(images)*1000)
	check("CPU µs per image", f.CPUMicrosPerImage, 1.264e6/float64(images))
	if f.ClientCPUMicrosPerImage != 0 || f.ServerCPUMicrosPerImage != 0 {
		t.Errorf("one process's CPU time split into client %v and server %v", f.ClientCPUMicrosPerImage, f.ServerCPUMicrosPerImage)
	}
	check("p50 ms", f.BatchMillis.P50, 10)
	check("p99 ms", f.BatchMillis.P99, 10)
	check("max ms", f.BatchMillis.Max, 60)
}

// TestCPUSplit: with the server in another process, its CPU and the client's are differenced
// separately across the window and divided by the images delivered.
func TestCPUSplit(t *testing.T) {
	tl := tally{batches: 10, images: 2000}
	first := snapshot{at: time.Second, cpu: cpuTime{own: 5 * time.Second, server: 40 * time.Second, split: true}}
	last := snapshot{at: 3 * time.Second, cpu: cpuTime{own: 5*time.Second + 100*ms, server: 40*time.Second + 900*ms, split: true}}
	f, err := figures(tl, first, last)
	if err != nil {
		t.Fatal(err)
	}
	// 0.1 s and 0.9 s over 2,000 images: 50 µs and 450 µs, 500 µs in all.
	if f.ClientCPUMicrosPerImage != 50 || f.ServerCPUMicrosPerImage != 450 || f.CPUMicrosPerImage != 500 || f.CPUSecondsPer1000 != 0.5 {
		t.Errorf("client %v, server %v, total %v µs/img, %v s/1k; want 50, 450, 500 and 0.5",
			f.ClientCPUMicrosPerImage, f.ServerCPUMicrosPerImage, f.CPUMicrosPerImage, f.CPUSecondsPer1000)
	}
	// A server that stopped exporting its CPU time mid-run gives no split.
	last.cpu.split = false
	if f, _ := figures(tl, first, last); f.ServerCPUMicrosPerImage != 0 {
		t.Errorf("server share %v from an incomplete reading", f.ServerCPUMicrosPerImage)
	}
}

func TestMicrosPerImage(t *testing.T) {
	for _, c := range []struct {
		d      time.Duration
		images int64
		want   float64
	}{
		{time.Second, 1000, 1000},
		{3 * time.Microsecond, 2, 1.5},
		{time.Second, 0, 0},
		{0, 10, 0},
	} {
		if got := microsPerImage(c.d, c.images); got != c.want {
			t.Errorf("microsPerImage(%v, %d) = %v, want %v", c.d, c.images, got, c.want)
		}
	}
}

func TestCountWindowEdges(t *testing.T) {
	// A stream opened at 5 ms whose batches land at 20, 50 and 90 ms.
	arr := [][]arrival{{{at: 20 * ms, images: 1}, {at: 50 * ms, images: 1}, {at: 90 * ms, images: 1}}}
	opened := []time.Duration{5 * ms}
	for _, c := range []struct {
		w    window
		gaps []time.Duration
	}{
		{window{0, 100 * ms}, []time.Duration{15 * ms, 30 * ms, 40 * ms}}, // first gap counts from opening
		{window{20 * ms, 50 * ms}, []time.Duration{30 * ms}},              // start exclusive, end inclusive
		{window{50 * ms, 89 * ms}, nil},
	} {
		if got := count(arr, opened, c.w).gaps; !slices.Equal(got, c.gaps) {
			t.Errorf("window %v: gaps %v, want %v", c.w, got, c.gaps)
		}
	}
}

func TestMedianFigures(t *testing.T) {
	runs := []Figures{
		{ImagesPerSec: 100, Images: 10, Stages: []StageTimes{{Stage: "encode", MeanMs: 1}, {Stage: "decode_augment", MeanMs: 5}}},
		{ImagesPerSec: 300, Images: 30, Stages: []StageTimes{{Stage: "encode", MeanMs: 3}}},
		{ImagesPerSec: 200, Images: 20, Stages: []StageTimes{{Stage: "encode", MeanMs: 2}, {Stage: "decode_augment", MeanMs: 7}}},
	}
	m := medianFigures(runs)
	if m.ImagesPerSec != 200 || m.Images != 20 {
		t.Errorf("median images/s %v images %v, want 200 and 20", m.ImagesPerSec, m.Images)
	}
	want := []StageTimes{{Stage: "decode_augment", MeanMs: 6}, {Stage: "encode", MeanMs: 2}}
	if !slices.Equal(m.Stages, want) {
		t.Errorf("median stages %+v, want %+v", m.Stages, want)
	}
}

// TestReportSchema pins the JSON field names scripts read.
func TestReportSchema(t *testing.T) {
	r := Report{Schema: SchemaVersion, Runs: []Figures{{Stages: []StageTimes{{Stage: "encode"}}}}}
	r.Median = medianFigures(r.Runs)
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"schema", "config", "machine", "image", "cpu_scope", "median", "runs"} {
		if _, ok := generic[key]; !ok {
			t.Errorf("report JSON lacks %q", key)
		}
	}
	med := generic["median"].(map[string]any)
	for _, key := range []string{"seconds", "batches", "images", "bytes", "images_per_s", "mb_per_s",
		"batches_per_s", "batch_ms", "cpu_s_per_1000_images", "cpu_us_per_image", "stages"} {
		if _, ok := med[key]; !ok {
			t.Errorf("figures JSON lacks %q", key)
		}
	}
	cfg := generic["config"].(map[string]any)
	for _, key := range []string{"url", "in_process", "streams", "batch", "duration_s", "warmup_s", "repeat", "profile", "format"} {
		if _, ok := cfg[key]; !ok {
			t.Errorf("config JSON lacks %q", key)
		}
	}
	if strings.Contains(string(raw), "token") {
		t.Error("report JSON mentions a token")
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil || !strings.Contains(buf.String(), "images/s") {
		t.Errorf("text report: %v\n%s", err, buf.String())
	}
}
