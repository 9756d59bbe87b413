package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Sample is one line of the Prometheus text exposition format: a metric name, its labels and value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseMetrics reads the Prometheus text format (what VictoriaMetrics/metrics writes on /metrics).
// Comments and blank lines are skipped; a timestamp after the value is accepted and ignored.
func ParseMetrics(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d %q: %w", n, line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

func parseSample(line string) (Sample, error) {
	nameEnd := strings.IndexAny(line, "{ \t")
	if nameEnd <= 0 {
		return Sample{}, fmt.Errorf("no metric name and value")
	}
	s := Sample{Name: line[:nameEnd]}
	rest := line[nameEnd:]
	if rest[0] == '{' {
		labels, after, err := parseLabels(rest[1:])
		if err != nil {
			return Sample{}, err
		}
		s.Labels, rest = labels, after
	}
	fields := strings.Fields(rest)
	if len(fields) != 1 && len(fields) != 2 {
		return Sample{}, fmt.Errorf("want a value and an optional timestamp, got %d fields", len(fields))
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return Sample{}, fmt.Errorf("value: %w", err)
	}
	s.Value = v
	return s, nil
}

// parseLabels reads `k="v",k2="v2"}` and returns the labels and what follows the closing brace.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t")
		if strings.HasPrefix(s, "}") {
			return labels, s[1:], nil
		}
		key, quoted, found := strings.Cut(s, "=")
		key = strings.TrimSpace(key)
		quoted = strings.TrimLeft(quoted, " \t")
		if !found || key == "" || !strings.HasPrefix(quoted, `"`) {
			return nil, "", fmt.Errorf("malformed label near %q", s)
		}
		value, n, err := unquoteLabel(quoted[1:])
		if err != nil {
			return nil, "", fmt.Errorf("label %s: %w", key, err)
		}
		labels[key] = value
		s = strings.TrimLeft(quoted[1+n:], " \t")
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		} else if !strings.HasPrefix(s, "}") {
			return nil, "", fmt.Errorf("want , or } after label %s", key)
		}
	}
}

// unquoteLabel reads a label value up to its closing quote, undoing the format's three escapes
// (\\, \" and \n), and returns it with the number of bytes consumed including the quote.
func unquoteLabel(s string) (string, int, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 == len(s) {
				return "", 0, fmt.Errorf("unterminated escape")
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case '\\', '"':
				b.WriteByte(s[i])
			default:
				return "", 0, fmt.Errorf("unknown escape \\%c", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated label value")
}

// Bucket is one histogram bucket: Count observations in (Lower, Upper].
type Bucket struct {
	Lower, Upper float64
	Count        float64
}

// Histogram is a latency histogram read from /metrics, its buckets sorted and not cumulative.
type Histogram struct {
	Buckets []Bucket
	Sum     float64
	Count   float64
}

// Histograms collects the histograms of metric name, keyed by the value of label by (e.g. "stage").
// It reads both VictoriaMetrics buckets (`_bucket{vmrange="lo...hi"}`, one count per range) and
// Prometheus buckets (`_bucket{le="hi"}`, cumulative).
func Histograms(samples []Sample, name, by string) (map[string]*Histogram, error) {
	hs := map[string]*Histogram{}
	get := func(key string) *Histogram {
		h := hs[key]
		if h == nil {
			h = &Histogram{}
			hs[key] = h
		}
		return h
	}
	cumulative := map[string]bool{}
	for _, s := range samples {
		key := s.Labels[by]
		switch s.Name {
		case name + "_sum":
			get(key).Sum = s.Value
		case name + "_count":
			get(key).Count = s.Value
		case name + "_bucket":
			b, isLE, err := parseBucket(s.Labels)
			if err != nil {
				return nil, fmt.Errorf("%s{%s=%q}: %w", s.Name, by, key, err)
			}
			b.Count = s.Value
			h := get(key)
			h.Buckets = append(h.Buckets, b)
			cumulative[key] = cumulative[key] || isLE
		}
	}
	for key, h := range hs {
		slices.SortFunc(h.Buckets, func(a, b Bucket) int { return compareFloat(a.Upper, b.Upper) })
		if cumulative[key] {
			// le buckets count everything at or below; the lower bound of each is the previous upper.
			for i := len(h.Buckets) - 1; i > 0; i-- {
				h.Buckets[i].Count -= h.Buckets[i-1].Count
				h.Buckets[i].Lower = h.Buckets[i-1].Upper
			}
		}
	}
	return hs, nil
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func parseBucket(labels map[string]string) (Bucket, bool, error) {
	if r, ok := labels["vmrange"]; ok {
		lo, hi, found := strings.Cut(r, "...")
		if !found {
			return Bucket{}, false, fmt.Errorf("vmrange %q: want lo...hi", r)
		}
		l, err := strconv.ParseFloat(lo, 64)
		if err != nil {
			return Bucket{}, false, fmt.Errorf("vmrange %q: %w", r, err)
		}
		u, err := strconv.ParseFloat(hi, 64)
		if err != nil {
			return Bucket{}, false, fmt.Errorf("vmrange %q: %w", r, err)
		}
		return Bucket{Lower: l, Upper: u}, false, nil
	}
	if le, ok := labels["le"]; ok {
		u, err := strconv.ParseFloat(le, 64)
		if err != nil {
			return Bucket{}, true, fmt.Errorf("le %q: %w", le, err)
		}
		return Bucket{Upper: u}, true, nil
	}
	return Bucket{}, false, fmt.Errorf("bucket without vmrange or le label")
}

// Since returns the observations h gained since the earlier snapshot old (counters only grow),
// so that observations made during warm-up are excluded.
func (h *Histogram) Since(old *Histogram) *Histogram {
	d := &Histogram{Sum: h.Sum, Count: h.Count, Buckets: slices.Clone(h.Buckets)}
	if old == nil {
		return d
	}
	d.Sum -= old.Sum
	d.Count -= old.Count
	for _, ob := range old.Buckets {
		for i := range d.Buckets {
			if d.Buckets[i].Upper == ob.Upper {
				d.Buckets[i].Count -= ob.Count
				break
			}
		}
	}
	return d
}

// Mean is the mean observation; zero for an empty histogram.
func (h *Histogram) Mean() float64 {
	if h.Count <= 0 {
		return 0
	}
	return h.Sum / h.Count
}

// Quantile estimates the q-quantile (0 < q <= 1) by linear interpolation inside the bucket where the
// cumulative count reaches q of the total; a bucket open to +Inf gives its lower bound. Zero when empty.
func (h *Histogram) Quantile(q float64) float64 {
	var total float64
	for _, b := range h.Buckets {
		total += b.Count
	}
	if total <= 0 {
		return 0
	}
	target := q * total
	var seen float64
	for _, b := range h.Buckets {
		if b.Count <= 0 {
			continue
		}
		if seen+b.Count >= target {
			if math.IsInf(b.Upper, 1) {
				return b.Lower
			}
			return b.Lower + (b.Upper-b.Lower)*(target-seen)/b.Count
		}
		seen += b.Count
	}
	return h.Buckets[len(h.Buckets)-1].Upper
}

// Value returns the value of the sample named name whose labels include want; false when absent.
func Value(samples []Sample, name string, want map[string]string) (float64, bool) {
next:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for k, v := range want {
			if s.Labels[k] != v {
				continue next
			}
		}
		return s.Value, true
	}
	return 0, false
}
