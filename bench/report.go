package bench

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// SchemaVersion names the layout of Report; scripts should check it before reading the rest.
const SchemaVersion = "facestream.bench/v1"

// Report is what `facestream bench --json` writes. Every figure covers only the measured window of
// each run (warm-up excluded); Median holds the median of each figure over Runs, taken separately.
//
//	{
//	  "schema": "facestream.bench/v1",
//	  "config": {"url": "...", "in_process": true, "streams": 2, "batch": 256, "duration_s": 15,
//	             "warmup_s": 2, "repeat": 3, "profile": "face", "format": "arrow", "mode": "", "seed": 0,
//	             "workers": 2},
//	  "machine": {"goos": "linux", "goarch": "amd64", "cpus": 2, "go": "go1.26.8"},
//	  "image": {"height": 112, "width": 112, "channels": 3},
//	  "cpu_scope": "client+server" | "client",
//	  "median": Figures, "runs": [Figures, ...]
//	}
//
// Figures:
//
//	{"seconds": 15.0, "batches": 400, "images": 102400, "bytes": 3853516800,
//	 "images_per_s": 6826.7, "mb_per_s": 256.9, "batches_per_s": 26.7,
//	 "batch_ms": {"p50": 74.1, "p99": 90.3, "max": 101.2},
//	 "cpu_s_per_1000_images": 0.29, "cpu_us_per_image": 290,
//	 "client_cpu_us_per_image": 40, "server_cpu_us_per_image": 250,
//	 "stages": [{"stage": "decode_augment", "count": 102400, "mean_ms": 0.27, "p50_ms": 0.25,
//	             "p99_ms": 0.61, "total_s": 27.6}, ...]}
//
// bytes and mb_per_s count image payload (images × H × W × C, 1 MB = 10^6 bytes), not protocol framing.
// batch_ms is the time between consecutive batches of one stream as its reader saw them.
// cpu_us_per_image is the CPU time (user + system) of the served path over the window divided by the
// images delivered: the server's and the client's, whatever cpu_scope names; the client's and the
// server's shares are given apart when the server is another process exporting its CPU time.
// stages come from the server's facestream_stage_seconds histograms, differenced across the window;
// their percentiles are interpolated inside histogram buckets. A server without them gives none.
type Report struct {
	Schema   string    `json:"schema"`
	Config   Settings  `json:"config"`
	Machine  Machine   `json:"machine"`
	Image    Shape     `json:"image"`
	CPUScope string    `json:"cpu_scope"`
	Median   Figures   `json:"median"`
	Runs     []Figures `json:"runs"`
}

// Machine names where the figures were measured.
type Machine struct {
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	CPUs   int    `json:"cpus"`
	Go     string `json:"go"`
}

// Shape is the served image shape (NHWC, uint8).
type Shape struct {
	Height   int `json:"height"`
	Width    int `json:"width"`
	Channels int `json:"channels"`
}

// Figures are one run's measurements (or the medians of several).
type Figures struct {
	Seconds           float64 `json:"seconds"`
	Batches           int64   `json:"batches"`
	Images            int64   `json:"images"`
	Bytes             int64   `json:"bytes"`
	ImagesPerSec      float64 `json:"images_per_s"`
	MBPerSec          float64 `json:"mb_per_s"`
	BatchesPerSec     float64 `json:"batches_per_s"`
	BatchMillis       Spread  `json:"batch_ms"`
	CPUSecondsPer1000 float64 `json:"cpu_s_per_1000_images"`
	CPUMicrosPerImage float64 `json:"cpu_us_per_image"`
	// ClientCPUMicrosPerImage and ServerCPUMicrosPerImage split CPUMicrosPerImage when the server
	// is another process; absent when it runs in-process.
	ClientCPUMicrosPerImage float64      `json:"client_cpu_us_per_image,omitempty"`
	ServerCPUMicrosPerImage float64      `json:"server_cpu_us_per_image,omitempty"`
	Stages                  []StageTimes `json:"stages"`
}

// Spread is the distribution of time per batch, in milliseconds.
type Spread struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// StageTimes is one server stage's latency over the window, from its /metrics histogram.
type StageTimes struct {
	Stage  string  `json:"stage"`
	Count  float64 `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	TotalS float64 `json:"total_s"`
}

// medianFigures takes the median of each figure over runs separately; a stage's figures are the
// medians over the runs that report that stage.
func medianFigures(runs []Figures) Figures {
	pick := func(f func(Figures) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	m := Figures{
		Seconds:                 pick(func(f Figures) float64 { return f.Seconds }),
		Batches:                 int64(math.Round(pick(func(f Figures) float64 { return float64(f.Batches) }))),
		Images:                  int64(math.Round(pick(func(f Figures) float64 { return float64(f.Images) }))),
		Bytes:                   int64(math.Round(pick(func(f Figures) float64 { return float64(f.Bytes) }))),
		ImagesPerSec:            pick(func(f Figures) float64 { return f.ImagesPerSec }),
		MBPerSec:                pick(func(f Figures) float64 { return f.MBPerSec }),
		BatchesPerSec:           pick(func(f Figures) float64 { return f.BatchesPerSec }),
		CPUSecondsPer1000:       pick(func(f Figures) float64 { return f.CPUSecondsPer1000 }),
		CPUMicrosPerImage:       pick(func(f Figures) float64 { return f.CPUMicrosPerImage }),
		ClientCPUMicrosPerImage: pick(func(f Figures) float64 { return f.ClientCPUMicrosPerImage }),
		ServerCPUMicrosPerImage: pick(func(f Figures) float64 { return f.ServerCPUMicrosPerImage }),
		BatchMillis: Spread{
			P50: pick(func(f Figures) float64 { return f.BatchMillis.P50 }),
			P99: pick(func(f Figures) float64 { return f.BatchMillis.P99 }),
			Max: pick(func(f Figures) float64 { return f.BatchMillis.Max }),
		},
	}
	byStage := map[string][]StageTimes{}
	for _, r := range runs {
		for _, s := range r.Stages {
			byStage[s.Stage] = append(byStage[s.Stage], s)
		}
	}
	for name, ss := range byStage {
		of := func(f func(StageTimes) float64) float64 {
			xs := make([]float64, len(ss))
			for i, s := range ss {
				xs[i] = f(s)
			}
			return median(xs)
		}
		m.Stages = append(m.Stages, StageTimes{
			Stage:  name,
			Count:  of(func(s StageTimes) float64 { return s.Count }),
			MeanMs: of(func(s StageTimes) float64 { return s.MeanMs }),
			P50Ms:  of(func(s StageTimes) float64 { return s.P50Ms }),
			P99Ms:  of(func(s StageTimes) float64 { return s.P99Ms }),
			TotalS: of(func(s StageTimes) float64 { return s.TotalS }),
		})
	}
	sortStages(m.Stages)
	return m
}

func sortStages(s []StageTimes) {
	slices.SortFunc(s, func(a, b StageTimes) int { return cmp.Compare(a.Stage, b.Stage) })
}

// WriteText prints the report for people: the medians, then one line per run.
func (r *Report) WriteText(w io.Writer) error {
	c := r.Config
	where := c.URL
	if c.InProcess {
		where = fmt.Sprintf("in-process server on %s (%d workers)", c.Dataset, c.Workers)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "facestream bench: %s\n", where)
	profile := c.Profile
	if profile == "" {
		profile = "the server's default"
	}
	fmt.Fprintf(tw, "%d streams × batch %d, %dx%dx%d, profile %s, format %s; %d run(s) of %s after %s warm-up; %d CPUs\n\n",
		c.Streams, c.Batch, r.Image.Height, r.Image.Width, r.Image.Channels, profile, c.Format,
		len(r.Runs), seconds(c.DurationS), seconds(c.WarmupS), r.Machine.CPUs)
	m := r.Median
	fmt.Fprintf(tw, "images/s\t%.0f\n", m.ImagesPerSec)
	fmt.Fprintf(tw, "MB/s\t%.1f\n", m.MBPerSec)
	fmt.Fprintf(tw, "batches/s\t%.2f\n", m.BatchesPerSec)
	fmt.Fprintf(tw, "time per batch\tp50 %.1f ms   p99 %.1f ms   max %.1f ms\n", m.BatchMillis.P50, m.BatchMillis.P99, m.BatchMillis.Max)
	fmt.Fprintf(tw, "CPU per image\t%.1f µs (%s)\n", m.CPUMicrosPerImage, r.CPUScope)
	if m.ServerCPUMicrosPerImage > 0 {
		fmt.Fprintf(tw, "\tserver %.1f µs + client %.1f µs\n", m.ServerCPUMicrosPerImage, m.ClientCPUMicrosPerImage)
	}
	if len(m.Stages) > 0 {
		fmt.Fprintf(tw, "\nserver stage\tcount\tmean ms\tp50 ms\tp99 ms\ttotal s\n")
		for _, s := range m.Stages {
			fmt.Fprintf(tw, "%s\t%.0f\t%.3f\t%.3f\t%.3f\t%.2f\n", s.Stage, s.Count, s.MeanMs, s.P50Ms, s.P99Ms, s.TotalS)
		}
	}
	if len(r.Runs) > 1 {
		fmt.Fprintf(tw, "\nrun\timages/s\tMB/s\tp50 ms\tp99 ms\tCPU µs/img\n")
		for i, f := range r.Runs {
			fmt.Fprintf(tw, "%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\n", i+1, f.ImagesPerSec, f.MBPerSec, f.BatchMillis.P50, f.BatchMillis.P99, f.CPUMicrosPerImage)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func seconds(s float64) string { return fmt.Sprintf("%gs", s) }
