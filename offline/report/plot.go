package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// chart is an SVG plot laid out in Go; the template only draws what it holds.
type chart struct {
	Title, Caption string
	Width, Height  float64
	Left, Top      float64 // plot area corner
	Right, Bottom  float64
	XLabel, YLabel string
	XTicks, YTicks []tick
	Bands          []rect
	Bars           []rect
	Lines          []line
	Markers        []marker
	Legend         []legendItem
	Empty          string // shown instead of the plot when there is nothing to draw
}

type tick struct {
	Pos   float64
	Label string
}

type rect struct {
	X, Y, W, H float64
	Class      string
	Tip        string
}

type line struct {
	D     string
	Class string
}

type marker struct {
	X      float64
	Label  string
	Class  string
	LabelY float64 // staggered so that labels of close markers do not overlap
	LabelX float64 // the label's anchor: right of the line, or left of it near the right edge
	Anchor string  // "start" or "end"
}

type legendItem struct{ Class, Label string }

// axis maps data values to pixels, linearly or on a log10 scale.
type axis struct {
	lo, hi   float64
	from, to float64
	log      bool
}

func (a axis) at(v float64) float64 {
	lo, hi := a.lo, a.hi
	if a.log {
		v, lo, hi = math.Log10(max(v, a.lo)), math.Log10(lo), math.Log10(hi)
	}
	if hi == lo {
		return a.from
	}
	return a.from + (v-lo)/(hi-lo)*(a.to-a.from)
}

func newChart(title, xlabel, ylabel string) *chart {
	return &chart{Title: title, XLabel: xlabel, YLabel: ylabel, Width: 1000, Height: 300,
		Left: 70, Top: 20, Right: 980, Bottom: 250}
}

func (c *chart) xAxis(lo, hi float64) axis { return axis{lo: lo, hi: hi, from: c.Left, to: c.Right} }
func (c *chart) yAxis(lo, hi float64, log bool) axis {
	return axis{lo: lo, hi: hi, from: c.Bottom, to: c.Top, log: log}
}

// linearTicks places about n ticks at round values (1, 2 or 5 × 10^k apart) within [lo, hi].
func linearTicks(a axis, n int) []tick { return ticksFrom(a, n, 0) }

// countTicks is linearTicks for counts: never a tick between two whole numbers.
func countTicks(a axis, n int) []tick { return ticksFrom(a, n, 1) }

func ticksFrom(a axis, n int, minStep float64) []tick {
	if !(a.hi > a.lo) {
		return []tick{{Pos: a.at(a.lo), Label: formatNumber(a.lo)}}
	}
	raw := (a.hi - a.lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	step = max(step, minStep)
	var ts []tick
	for v := math.Ceil(a.lo/step) * step; v <= a.hi+step*1e-9; v += step {
		ts = append(ts, tick{Pos: a.at(v), Label: formatNumber(v)})
	}
	return ts
}

// logTicks places ticks at the powers of ten within [lo, hi].
func logTicks(a axis) []tick {
	var ts []tick
	for p := math.Floor(math.Log10(a.lo)); p <= math.Log10(a.hi)+1e-9; p++ {
		v := math.Pow(10, p)
		if v >= a.lo*(1-1e-9) {
			ts = append(ts, tick{Pos: a.at(v), Label: formatNumber(v)})
		}
	}
	return ts
}

// formatValue prints a parameter such as a threshold with at most three decimals.
func formatValue(v float64) string { return formatNumber(math.Round(v*1000) / 1000) }

// formatNumber prints a tick value without float noise: 0.30000000000000004 → 0.3, 5000 → 5k.
func formatNumber(v float64) string {
	v = math.Round(v*1e6) / 1e6
	if v == 0 {
		v = 0 // not "-0" from a tick computed as −1 + 5·0.2
	}
	switch {
	case math.Abs(v) >= 1e6 && math.Mod(v, 1e6) == 0:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case math.Abs(v) >= 1e3 && math.Mod(v, 1e3) == 0:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// maxPathPoints bounds the points of a drawn series: more than the plot has pixels adds only bytes.
const maxPathPoints = 1200

// stepPath draws ys (already sorted for display) as a staircase over x = 0..len(ys), sampled down to
// maxPathPoints steps; ys are positive when the y axis is logarithmic.
func stepPath(x, y axis, ys []float64) string {
	var b strings.Builder
	n := len(ys)
	stride := max(1, (n+maxPathPoints-1)/maxPathPoints)
	for i := 0; i < n; i += stride {
		end := min(i+stride, n)
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		py := y.at(ys[i])
		fmt.Fprintf(&b, "%s%.1f %.1f H%.1f ", cmd, x.at(float64(i)), py, x.at(float64(end)))
	}
	return strings.TrimSpace(b.String())
}
