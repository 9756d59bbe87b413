package report

import (
	"slices"
	"testing"
)

func labels(ts []tick) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Label
	}
	return out
}

func TestTicks(t *testing.T) {
	ax := func(lo, hi float64, log bool) axis { return axis{lo: lo, hi: hi, from: 0, to: 100, log: log} }
	for _, tc := range []struct {
		name string
		got  []tick
		want []string
	}{
		{"unit interval", linearTicks(ax(0, 1, false), 5), []string{"0", "0.2", "0.4", "0.6", "0.8", "1"}},
		{"cosines", linearTicks(ax(-1, 1, false), 10), []string{"-1", "-0.8", "-0.6", "-0.4", "-0.2", "0", "0.2", "0.4", "0.6", "0.8", "1"}},
		{"small counts stay whole", countTicks(ax(0, 2.16, false), 5), []string{"0", "1", "2"}},
		{"identities", linearTicks(ax(0, 30000, false), 8), []string{"0", "5k", "10k", "15k", "20k", "25k", "30k"}},
		{"log", logTicks(ax(1, 1000, true)), []string{"1", "10", "100", "1k"}},
		{"empty range", linearTicks(ax(3, 3, false), 5), []string{"3"}},
	} {
		if got := labels(tc.got); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := logTicks(ax(1, 1000, true)); got[0].Pos != 0 || got[3].Pos != 100 {
		t.Errorf("log ticks at %v, want the ends of the axis", got)
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{0.881412: "0.881", 0.65: "0.65", 1e6: "1M", 12000: "12k", 12345: "12345", -0.1: "-0.1"} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
}
