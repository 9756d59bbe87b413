package offline

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Spec is a threshold or a count given either as an absolute number ("0.65", "12") or as a
// quantile of a distribution the stage knows ("p10", "p99.5"), because good thresholds depend on
// the model and good counts on the dataset. A few stages accept a named value too ("t", "median").
type Spec string

// autoSpec is the value of a threshold the stage derives from the data itself (select.t: auto).
const autoSpec = "auto"

// IsAuto reports whether s asks the stage to derive the value from the data.
func (s Spec) IsAuto() bool { return strings.TrimSpace(string(s)) == autoSpec }

// Quantile reports whether s names a quantile, and which one in [0, 1].
func (s Spec) Quantile() (float64, bool, error) {
	str := strings.TrimSpace(string(s))
	if !strings.HasPrefix(str, "p") {
		return 0, false, nil
	}
	q, err := strconv.ParseFloat(str[1:], 64)
	if err != nil || q < 0 || q > 100 || math.IsNaN(q) {
		return 0, true, fmt.Errorf("quantile %q: want p0..p100", string(s))
	}
	return q / 100, true, nil
}

// Resolve turns s into a number: a quantile of sorted (ascending) values, or the absolute value.
// named maps the extra words a parameter accepts to their values.
func (s Spec) Resolve(sorted []float64, named map[string]float64) (float64, error) {
	str := strings.TrimSpace(string(s))
	if v, ok := named[str]; ok {
		return v, nil
	}
	q, isQuantile, err := s.Quantile()
	if err != nil {
		return 0, err
	}
	if isQuantile {
		if len(sorted) == 0 {
			return 0, fmt.Errorf("quantile %q of an empty distribution", string(s))
		}
		return quantile(sorted, q), nil
	}
	v, err := strconv.ParseFloat(str, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q: want a number or a quantile such as p10", string(s))
	}
	return v, nil
}

// validate checks the syntax of s without a distribution, so a config error shows before any work.
func (s Spec) validate(named ...string) error {
	if slices.Contains(named, strings.TrimSpace(string(s))) {
		return nil
	}
	m := map[string]float64{}
	_, err := s.Resolve([]float64{0}, m)
	return err
}

// quantile is the linearly interpolated q-quantile of sorted values (numpy's default method).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// quantileMap returns the quantiles of sorted values that the report records, keyed "p1", "p5", ...
func quantileMap(sorted []float64) map[string]float64 {
	if len(sorted) == 0 {
		return nil
	}
	points := [...]float64{0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99}
	m := make(map[string]float64, len(points))
	for _, q := range points {
		m["p"+strconv.FormatFloat(q*100, 'f', -1, 64)] = quantile(sorted, q)
	}
	return m
}
