package bench

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

func TestParseMetrics(t *testing.T) {
	in := `# HELP x help text
# TYPE facestream_streams_open gauge
facestream_streams_open 3
facestream_bytes_sent_total 1.5e+09 1712345678000
facestream_stage_seconds_bucket{stage="decode_augment",vmrange="1.000e-03...1.136e-03"} 7

odd{a="q\"uote\\slash\nline", b = "x" } -2.5
`
	got, err := ParseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d samples, want 4: %+v", len(got), got)
	}
	if v, ok := Value(got, "facestream_bytes_sent_total", nil); !ok || v != 1.5e9 {
		t.Errorf("bytes_sent = %v, %v; want 1.5e9", v, ok)
	}
	if v, ok := Value(got, "facestream_stage_seconds_bucket", map[string]string{"stage": "decode_augment"}); !ok || v != 7 {
		t.Errorf("bucket = %v, %v; want 7", v, ok)
	}
	odd := got[3]
	if odd.Labels["a"] != "q\"uote\\slash\nline" || odd.Labels["b"] != "x" || odd.Value != -2.5 {
		t.Errorf("escaped labels: %+v", odd)
	}
	if _, ok := Value(got, "missing", nil); ok {
		t.Error("Value found a metric that is not there")
	}
}

func TestParseMetricsRefuses(t *testing.T) {
	for _, line := range []string{
		"novalue",
		"x{a=\"1\"}",
		"x{a=1} 2",
		"x{a=\"1\" 2",
		"x{a=\"1\\q\"} 2",
		"x 1 2 3",
		"x abc",
		"{a=\"1\"} 2",
	} {
		if _, err := ParseMetrics(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}

// observe records values (seconds) into a VictoriaMetrics histogram of the stage metric and returns
// what the library writes on /metrics, so the parser is checked against the real format.
func observe(t *testing.T, set *metrics.Set, stage string, values ...float64) []Sample {
	t.Helper()
	h := set.GetOrCreateHistogram(stageMetric + `{stage="` + stage + `"}`)
	for _, v := range values {
		h.Update(v)
	}
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	samples, err := ParseMetrics(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return samples
}

func TestVictoriaMetricsHistogram(t *testing.T) {
	set := metrics.NewSet()
	// Warm-up: 100 slow observations that Since must remove.
	warm := make([]float64, 100)
	for i := range warm {
		warm[i] = 0.5
	}
	before := observe(t, set, "decode_augment", warm...)
	// Window: 1..1000 µs, so the median is ~500 µs and p99 ~990 µs.
	var window []float64
	for i := 1; i <= 1000; i++ {
		window = append(window, float64(i)*1e-6)
	}
	observe(t, set, "encode", 0.002)
	after := observe(t, set, "decode_augment", window...)

	old, err := Histograms(before, stageMetric, "stage")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := Histograms(after, stageMetric, "stage")
	if err != nil {
		t.Fatal(err)
	}
	d := cur["decode_augment"].Since(old["decode_augment"])
	if d.Count != 1000 {
		t.Fatalf("count in window = %v, want 1000", d.Count)
	}
	if want := 1000 * 1001 / 2 * 1e-6; math.Abs(d.Sum-want) > 1e-9 {
		t.Errorf("sum = %v, want %v", d.Sum, want)
	}
	// VictoriaMetrics buckets are 18 per decade (±13 %); interpolation stays well inside one.
	for _, c := range []struct{ q, want float64 }{{0.5, 500e-6}, {0.99, 990e-6}} {
		if got := d.Quantile(c.q); math.Abs(got-c.want)/c.want > 0.13 {
			t.Errorf("q%v = %v, want %v within 13%%", c.q, got, c.want)
		}
	}
	st, err := stageTimes(before, after)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Stage != "decode_augment" || st[1].Stage != "encode" || st[1].Count != 1 {
		t.Errorf("stage times = %+v", st)
	}
	if math.Abs(st[0].MeanMs-0.5005) > 1e-9 || math.Abs(st[0].TotalS-0.5005) > 1e-9 {
		t.Errorf("decode_augment mean %v ms total %v s, want 0.5005 both", st[0].MeanMs, st[0].TotalS)
	}
}

func TestPrometheusLeHistogram(t *testing.T) {
	set := metrics.NewSet()
	h := set.GetOrCreatePrometheusHistogramExt(stageMetric+`{stage="write"}`, []float64{0.001, 0.002, 0.004})
	for _, v := range []float64{0.0005, 0.0015, 0.0015, 0.003, 0.01} {
		h.Update(v)
	}
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	samples, err := ParseMetrics(&buf)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := Histograms(samples, stageMetric, "stage")
	if err != nil {
		t.Fatal(err)
	}
	w := hs["write"]
	var counts []float64
	for _, b := range w.Buckets {
		counts = append(counts, b.Count)
	}
	if want := []float64{1, 2, 1, 1}; !equalFloats(counts, want) {
		t.Fatalf("de-cumulated bucket counts %v, want %v (buckets %+v)", counts, want, w.Buckets)
	}
	// Half of 5 is 2.5: the middle of the (1 ms, 2 ms] bucket, which holds observations 2 and 3.
	if got := w.Quantile(0.5); math.Abs(got-0.00175) > 1e-12 {
		t.Errorf("median = %v, want 0.00175", got)
	}
	// The top observation lies in (4 ms, +Inf]: its estimate is the bucket's lower bound.
	if got := w.Quantile(1); got != 0.004 {
		t.Errorf("max = %v, want 0.004", got)
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzParseMetrics: whatever parses prints back (as the Prometheus text format) to lines that parse
// to the same samples, and its histograms are sorted and empty since themselves.
func FuzzParseMetrics(f *testing.F) {
	f.Add("a 1\nb{x=\"y\"} 2 3\n# c\n")
	f.Add(`h_bucket{vmrange="1.000e-03...1.136e-03"} 7` + "\n")
	f.Add(`h_bucket{le="+Inf"} 7` + "\nh_bucket{le=\"0.5\",x=\"a\\\\b\\nc\\\"\"} 3\nh_sum -Inf\nh_count NaN\n")
	f.Fuzz(func(t *testing.T, in string) {
		samples, err := ParseMetrics(strings.NewReader(in))
		if err != nil {
			return
		}
		var text strings.Builder
		for _, s := range samples {
			writeSample(&text, s)
		}
		back, err := ParseMetrics(strings.NewReader(text.String()))
		if err != nil {
			t.Fatalf("%q printed as %q does not parse: %v", in, text.String(), err)
		}
		if !slices.EqualFunc(back, samples, sameSample) {
			t.Fatalf("%q printed as %q parses to %+v, want %+v", in, text.String(), back, samples)
		}
		hs, err := Histograms(samples, "h", "x")
		if err != nil {
			return
		}
		for key, h := range hs {
			if !slices.IsSortedFunc(h.Buckets, func(a, b Bucket) int { return compareFloat(a.Upper, b.Upper) }) {
				t.Fatalf("histogram %q: buckets not sorted: %+v", key, h.Buckets)
			}
			_ = h.Quantile(0.5)
			d := h.Since(h)
			if finite(h.Count) && d.Count != 0 || d.Mean() != 0 && finite(h.Sum) && finite(h.Count) {
				t.Fatalf("histogram %q since itself: count %v, mean %v", key, d.Count, d.Mean())
			}
		}
	})
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// writeSample prints s as one line of the text format, labels sorted, values escaped.
func writeSample(w *strings.Builder, s Sample) {
	w.WriteString(s.Name)
	if len(s.Labels) > 0 {
		w.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(s.Labels)) {
			if i > 0 {
				w.WriteByte(',')
			}
			v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s.Labels[k])
			fmt.Fprintf(w, "%s=\"%s\"", k, v)
		}
		w.WriteByte('}')
	}
	fmt.Fprintf(w, " %s\n", strconv.FormatFloat(s.Value, 'g', -1, 64))
}

func sameSample(a, b Sample) bool {
	return a.Name == b.Name && maps.Equal(a.Labels, b.Labels) &&
		(a.Value == b.Value || math.IsNaN(a.Value) && math.IsNaN(b.Value))
}
