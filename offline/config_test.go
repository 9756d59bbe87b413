package offline

import (
	"math"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name, yaml string
		check      func(c Config) bool
		err        string
	}{
		{"empty is the defaults", "", func(c Config) bool {
			return c.Select.T == "auto" && c.Select.ImpostorFAR == 0.05 && c.Select.Margin == 0.12 && c.Select.KeepMin == 1 && c.Select.Robust && c.Augment.B == "p95"
		}, ""},
		{"relabel", "select: {action: relabel, margin: 0.1, impostor_far: 0.01}\n", func(c Config) bool {
			return c.Select.Action == ActionRelabel && c.Select.Margin == 0.1 && c.Select.ImpostorFAR == 0.01
		}, ""},
		{"bad action", "select: {action: keep}\n", nil, "select.action"},
		{"bad far", "select: {impostor_far: 0}\n", nil, "select.impostor_far"},
		{"bad margin", "select: {margin: -0.1}\n", nil, "select.margin"},
		{"numbers become specs", "select:\n  t: 0.7\n", func(c Config) bool { return c.Select.T == "0.7" }, ""},
		{"quantile t", "select: {t: p10, robust: true}\n", func(c Config) bool { return c.Select.T == "p10" && c.Select.Robust }, ""},
		{"other sections keep defaults", "equalize: {policy: sqrt}\n", func(c Config) bool { return c.Equalize.Policy == PolicySqrt && c.Augment.Quality == 95 }, ""},
		{"mean and std", "embed: {mean: [0, 0, 0], std: [255, 255, 255], bgr: true}\n", func(c Config) bool { return c.Embed.Std[2] == 255 && c.Embed.BGR }, ""},
		{"unknown key", "select: {tt: 0.5}\n", nil, "field tt not found"},
		{"unknown section", "sampler: {}\n", nil, "field sampler not found"},
		{"bad quantile", "select: {t: p101}\n", nil, "select.t"},
		{"bad number", "augment: {b: high}\n", nil, "augment.b"},
		{"bad n", "augment: {n: -2}\n", nil, "augment.n"},
		{"bad ops", "augment: {min_ops: 3, max_ops: 2}\n", nil, "min_ops"},
		{"bad policy", "equalize: {policy: lvis}\n", nil, "equalize.policy"},
		{"bad cap", "equalize: {cap: all}\n", nil, "equalize.cap"},
		{"zero std", "embed: {std: [1, 0, 1]}\n", nil, "embed.std"},
		{"two documents", "seed: 1\n---\nseed: 2\n", nil, "more than one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v does not hold what %q says", c, tc.yaml)
			}
		})
	}
}

func TestSpecResolve(t *testing.T) {
	sorted := []float64{0.1, 0.2, 0.3, 0.4, 0.5}
	named := map[string]float64{"t": 0.65}
	cases := []struct {
		spec Spec
		want float64
		err  bool
	}{
		{"0.65", 0.65, false},
		{" -0.2 ", -0.2, false},
		{"p0", 0.1, false},
		{"p100", 0.5, false},
		{"p50", 0.3, false},
		{"p12.5", 0.15, false},
		{"t", 0.65, false},
		{"p", 0, true},
		{"p-1", 0, true},
		{"pNaN", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"median", 0, true},
	}
	for _, tc := range cases {
		got, err := tc.spec.Resolve(sorted, named)
		if (err != nil) != tc.err || (!tc.err && math.Abs(got-tc.want) > 1e-12) {
			t.Errorf("Resolve(%q) = %v, %v; want %v (error %v)", tc.spec, got, err, tc.want, tc.err)
		}
	}
	if _, err := Spec("p10").Resolve(nil, nil); err == nil {
		t.Error("a quantile of an empty distribution resolved")
	}
}

func TestParsePart(t *testing.T) {
	for _, s := range []string{"0/1", "3/4"} {
		if _, err := ParsePart(s); err != nil {
			t.Errorf("ParsePart(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "1/1", "-1/2", "1", "a/b", "0/0", "2/1"} {
		if _, err := ParsePart(s); err == nil {
			t.Errorf("ParsePart(%q) accepted", s)
		}
	}
	// Parts tile the labels with no gap or overlap.
	for _, n := range []int{1, 2, 3, 7} {
		next := 0
		for i := range n {
			lo, hi := Part{i, n}.Labels(10)
			if lo != next || hi < lo {
				t.Fatalf("part %d/%d of 10 labels is [%d,%d), want it to start at %d", i, n, lo, hi, next)
			}
			next = hi
		}
		if next != 10 {
			t.Fatalf("%d parts cover %d of 10 labels", n, next)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("select: {t: p10}\naugment: {a: t, b: p95, n: auto}\n"))
	f.Add([]byte("equalize: {policy: sqrt, target: 12, cap: p99}\n"))
	f.Add([]byte("embed: {mean: [1,2,3]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		// Whatever parses must be a configuration the stages accept.
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted %q, Validate refuses it: %v", data, err)
		}
	})
}

func FuzzSpec(f *testing.F) {
	for _, s := range []string{"0.65", "p10", "t", "p99.9", "1e3", "-p3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sorted := []float64{-1, 0, 0.5, 1}
		v, err := Spec(s).Resolve(sorted, nil)
		if err != nil {
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("Resolve(%q) = %v", s, v)
		}
		if _, isQ, _ := Spec(s).Quantile(); isQ && (v < -1 || v > 1) {
			t.Fatalf("quantile %q = %v outside the distribution", s, v)
		}
	})
}

// The shipped example documents every parameter at its default; it must stay in step.
func TestExampleConfigIsTheDefaults(t *testing.T) {
	got, err := LoadConfig("../examples/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultConfig(); got != want {
		t.Fatalf("examples/pipeline.yaml gives\n%+v\nthe defaults are\n%+v", got, want)
	}
}
