package report

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"
)

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"px":        func(v float64) string { return fmt.Sprintf("%.1f", v) }, // one decimal is plenty in a 1000-unit view box
	"pct":       func(v float64) string { return fmt.Sprintf("%.1f %%", 100*v) },
	"num":       func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"plus":      func(a, b float64) float64 { return a + b },
	"orDefault": orDefault,
}).Parse(pageTemplate))

// Grid bounds: the page is meant to be opened, not scrolled for minutes.
const (
	maxGridParents   = 16
	maxGridPerParent = 7
)

type view struct {
	*Report
	Stages  []stageTime
	Quants  []quantile
	Charts  []*chart
	Grid    []gridRow
	GridCap string
	Audit   []auditGroup
}

// auditGroup is the audit's photos removed for one reason.
type auditGroup struct {
	Reason string
	Rows   []auditRow
}

// auditRow is a removed photo beside typical photos of its identity and of the one it is nearer.
type auditRow struct {
	Photo     gridCell
	Identity  string
	Typical   []gridCell
	Suggested string
	Nearer    []gridCell
}

type stageTime struct {
	Name    string
	Seconds float64
}

type quantile struct {
	Name  string
	Value float64
}

type gridRow struct {
	Original gridCell
	Augments []gridCell
}

type gridCell struct {
	ID      int64
	Caption string
	Src     template.URL
}

func renderHTML(r *Report, images func(id int64) []byte) ([]byte, error) {
	v := view{Report: r, Stages: stageTimes(r.Timings), Quants: quantiles(r.S2.Quantiles)}
	v.Charts = []*chart{sizesChart(r), s2Chart(r), calibrationChart(r), s3Chart(r), acceptanceChart(r)}
	v.Grid, v.GridCap = grid(r.S3.Examples, images)
	v.Audit = audit(r.S2.Audit, images)
	var b bytes.Buffer
	if err := page.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// stageOrder lists the runner's stages in pipeline order; other timings follow alphabetically.
var stageOrder = []string{"embed", "select", "augment", "equalize"}

func stageTimes(t map[string]float64) []stageTime {
	out := make([]stageTime, 0, len(t))
	for name, s := range t {
		out = append(out, stageTime{name, s})
	}
	rank := func(name string) int {
		if i := slices.Index(stageOrder, name); i >= 0 {
			return i
		}
		return len(stageOrder)
	}
	slices.SortFunc(out, func(a, b stageTime) int {
		return cmp.Or(cmp.Compare(rank(a.Name), rank(b.Name)), strings.Compare(a.Name, b.Name))
	})
	return out
}

// quantiles orders "p5", "p10", "p50" … by their number, anything else by name after them.
func quantiles(q map[string]float64) []quantile {
	out := make([]quantile, 0, len(q))
	for name, v := range q {
		out = append(out, quantile{name, v})
	}
	key := func(name string) float64 {
		var p float64
		if _, err := fmt.Sscanf(name, "p%g", &p); err == nil {
			return p
		}
		return math.Inf(1)
	}
	slices.SortFunc(out, func(a, b quantile) int {
		return cmp.Or(cmp.Compare(key(a.Name), key(b.Name)), strings.Compare(a.Name, b.Name))
	})
	return out
}

func sortedDesc[T int | float64](xs []T) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	slices.SortFunc(out, func(a, b float64) int { return cmp.Compare(b, a) })
	return out
}

// sizesChart draws photos per identity before S2 and draws per epoch after S4, each sorted from the
// largest identity down, on a log scale so that the head and the tail are both readable.
func sizesChart(r *Report) *chart {
	c := newChart("Photos per identity, before and after equalization", "identities, largest first", "photos (log)")
	before, after := sortedDesc(r.Raw.Sizes), sortedDesc(r.S4.Quotas)
	n := max(len(before), len(after))
	top := 1.0
	if len(before) > 0 {
		top = max(top, before[0])
	}
	if len(after) > 0 {
		top = max(top, after[0])
	}
	if n == 0 {
		c.Empty = "no identities recorded"
		return c
	}
	x, y := c.xAxis(0, float64(n)), c.yAxis(1, math.Pow(10, math.Ceil(math.Log10(top)+1e-9)), true)
	c.XTicks, c.YTicks = linearTicks(x, 8), logTicks(y)
	for _, s := range []struct {
		ys    []float64
		class string
		label string
	}{{before, "before", "raw photos"}, {after, "after", "quota after S4"}} {
		if len(s.ys) == 0 {
			continue
		}
		c.Lines = append(c.Lines, line{D: stepPath(x, y, s.ys), Class: s.class})
		c.Legend = append(c.Legend, legendItem{s.class, s.label})
	}
	c.Caption = fmt.Sprintf("%d identities. Balance before: entropy %.4f, max/min %.1f, Gini %.3f; after: entropy %.4f, max/min %.1f, Gini %.3f.",
		n, r.S4.Before.Entropy, r.S4.Before.MaxMinRatio, r.S4.Before.Gini, r.S4.After.Entropy, r.S4.After.MaxMinRatio, r.S4.After.Gini)
	return c
}

// histogramChart draws h as bars, classed by where each bin's centre falls, with vertical markers.
func histogramChart(title string, h Histogram, class func(centre float64) string, markers []marker) *chart {
	c := newChart(title, "cosine to the identity centre", "photos")
	if len(h.Counts) == 0 || h.Total() == 0 {
		c.Empty = "no cosines recorded"
		return c
	}
	peak := slices.Max(h.Counts)
	x, y := c.xAxis(h.Edges[0], h.Edges[len(h.Edges)-1]), c.yAxis(0, float64(peak)*1.08, false)
	c.XTicks, c.YTicks = linearTicks(x, 10), countTicks(y, 5)
	for i, n := range h.Counts {
		lo, hi := h.Edges[i], h.Edges[i+1]
		x0, x1, top := x.at(lo), x.at(hi), y.at(float64(n))
		c.Bars = append(c.Bars, rect{X: x0, Y: top, W: max(x1-x0-0.5, 0.5), H: c.Bottom - top,
			Class: class((lo + hi) / 2), Tip: fmt.Sprintf("%.3f – %.3f: %d", lo, hi, n)})
	}
	for _, m := range markers {
		if m.X >= x.lo && m.X <= x.hi {
			m.X, m.LabelY = x.at(m.X), c.Top+12+16*float64(len(c.Markers))
			m.LabelX, m.Anchor = m.X+5, "start"
			if m.X > c.Right-120 {
				m.LabelX, m.Anchor = m.X-5, "end"
			}
			c.Markers = append(c.Markers, m)
		}
	}
	return c
}

func s2Chart(r *Report) *chart {
	t := r.S2.T
	c := histogramChart("S2: cosine of every photo to its identity centre", r.S2.Cosine,
		func(centre float64) string {
			if centre > t {
				return "kept"
			}
			return "removed"
		},
		[]marker{{X: t, Label: "t = " + formatValue(t), Class: "t"}})
	c.Legend = []legendItem{{"kept", "kept (cos > t)"}, {"removed", "removed"}}
	c.Caption = fmt.Sprintf("t = %s (%s): %d kept, %d removed.", formatValue(t), orDefault(r.S2.TSpec), r.S2.Kept, r.S2.Removed)
	if r.S2.Undecodable > 0 {
		c.Caption += fmt.Sprintf(" %d of the removed did not decode.", r.S2.Undecodable)
	}
	return c
}

// calibrationChart draws the two distributions t: auto reads: each photo's cosine to its own
// identity's centre (genuine, noise included) and to the other identities' centres (impostor), as
// shares of their totals so that both show whatever their sizes.
func calibrationChart(r *Report) *chart {
	c := newChart("S2: genuine and impostor cosines", "cosine to a centre", "share of the distribution")
	g, im := r.S2.Cosine, r.S2.Impostor
	if g.Total() == 0 || im.Total() == 0 {
		c.Empty = "no impostor cosines recorded"
		return c
	}
	lo, hi := min(g.Edges[0], im.Edges[0]), max(g.Edges[len(g.Edges)-1], im.Edges[len(im.Edges)-1])
	shares := func(h Histogram) ([]float64, float64) {
		out, total, peak := make([]float64, len(h.Counts)), float64(h.Total()), 0.0
		for i, n := range h.Counts {
			out[i] = float64(n) / total
			peak = max(peak, out[i])
		}
		return out, peak
	}
	gs, gp := shares(g)
	is, ip := shares(im)
	x, y := c.xAxis(lo, hi), c.yAxis(0, max(gp, ip)*1.08, false)
	c.XTicks, c.YTicks = linearTicks(x, 10), linearTicks(y, 5)
	c.Lines = []line{{D: histogramPath(x, y, im.Edges, is), Class: "impostor"}, {D: histogramPath(x, y, g.Edges, gs), Class: "genuine"}}
	c.Legend = []legendItem{{"genuine", "photo to its own centre"}, {"impostor", "photo to another identity's centre"}}
	t := r.S2.T
	if t >= lo && t <= hi {
		c.Markers = []marker{{X: x.at(t), Label: "t = " + formatValue(t), Class: "t", LabelX: x.at(t) + 5, LabelY: c.Top + 12, Anchor: "start"}}
	}
	c.Caption = fmt.Sprintf("t = %s (%s", formatValue(t), orDefault(r.S2.TSpec))
	if r.S2.TSpec == "auto" {
		c.Caption += fmt.Sprintf(": %.3g of impostor cosines above it", r.S2.ImpostorFAR)
	}
	c.Caption += fmt.Sprintf("). %d impostor cosines (all pairs, or a sample), %d genuine.", im.Total(), g.Total())
	return c
}

// histogramPath is a step line over the bins of edges at heights ys.
func histogramPath(x, y axis, edges []float64, ys []float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "M%.1f %.1f", x.at(edges[0]), y.at(0))
	for i, v := range ys {
		fmt.Fprintf(&b, " V%.1f H%.1f", y.at(v), x.at(edges[i+1]))
	}
	fmt.Fprintf(&b, " V%.1f", y.at(0))
	return b.String()
}

func s3Chart(r *Report) *chart {
	a, b := r.S3.A, r.S3.B
	c := histogramChart("S3: cosine of augmented candidates to their identity centre", r.S3.Cosine,
		func(centre float64) string {
			if centre > a && centre < b {
				return "accepted"
			}
			return "rejected"
		},
		[]marker{{X: a, Label: "a = " + formatValue(a), Class: "ab"}, {X: b, Label: "b = " + formatValue(b), Class: "ab"},
			{X: r.S2.T, Label: "t", Class: "t"}})
	c.Legend = []legendItem{{"accepted", "in (a, b): eligible"}, {"rejected", "outside (a, b)"}}
	c.Caption = fmt.Sprintf("a = %s (%s), b = %s (%s): %d of %d candidates accepted (%s), at most %d per identity.",
		formatValue(a), orDefault(r.S3.ASpec), formatValue(b), orDefault(r.S3.BSpec),
		r.S3.Accepted, r.S3.Attempts, ratio(r.S3.Accepted, r.S3.Attempts), r.S3.N)
	return c
}

func acceptanceChart(r *Report) *chart {
	c := newChart("S3: acceptance rate per identity", "identities, highest rate first", "accepted / attempts")
	rates := sortedDesc(r.S3.AcceptPerIdentity)
	if len(rates) == 0 {
		c.Empty = "no acceptance rates recorded"
		return c
	}
	x, y := c.xAxis(0, float64(len(rates))), c.yAxis(0, max(1, rates[0]), false)
	c.XTicks, c.YTicks = linearTicks(x, 8), linearTicks(y, 5)
	c.Lines = []line{{D: stepPath(x, y, rates) + fmt.Sprintf(" V%.1f H%.1f Z", c.Bottom, c.Left), Class: "area"}}
	var sum float64
	for _, v := range rates {
		sum += v
	}
	c.Caption = fmt.Sprintf("mean %.3f, median %.3f, lowest %.3f over %d identities.",
		sum/float64(len(rates)), rates[len(rates)/2], rates[len(rates)-1], len(rates))
	return c
}

func orDefault(spec string) string {
	if spec == "" {
		return "default"
	}
	return spec
}

func ratio(k, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(k)/float64(n))
}

// grid groups the kept augmentations by original, in the order the stage listed them.
func grid(examples []Example, images func(id int64) []byte) ([]gridRow, string) {
	if images == nil || len(examples) == 0 {
		return nil, ""
	}
	var rows []gridRow
	index := map[int64]int{}
	shown := 0
	for _, ex := range examples {
		i, ok := index[ex.Parent]
		if !ok {
			if len(rows) == maxGridParents {
				continue
			}
			i = len(rows)
			index[ex.Parent] = i
			rows = append(rows, gridRow{Original: cell(ex.Parent, fmt.Sprintf("original #%d", ex.Parent), images)})
		}
		if len(rows[i].Augments) < maxGridPerParent {
			rows[i].Augments = append(rows[i].Augments,
				cell(ex.ID, fmt.Sprintf("%s · cos %.3f", ex.Recipe, ex.Sim), images))
			shown++
		}
	}
	caption := fmt.Sprintf("%d of %d kept augmentations, beside their %d originals.", shown, len(examples), len(rows))
	return rows, caption
}

// audit lays out the removed photos of the report's audit, grouped by reason in its order.
func audit(rows []Audit, images func(id int64) []byte) []auditGroup {
	if images == nil {
		return nil
	}
	var out []auditGroup
	for _, a := range rows {
		if len(out) == 0 || out[len(out)-1].Reason != a.Reason {
			out = append(out, auditGroup{Reason: a.Reason})
		}
		caption := fmt.Sprintf("%s · cos %.3f", a.Source, a.Cosine)
		if a.Suggested != "" {
			caption += fmt.Sprintf(" · %.3f to %s", a.SuggestedCosine, a.Suggested)
		}
		row := auditRow{Photo: cell(a.ID, caption, images), Identity: a.Identity, Suggested: a.Suggested}
		for _, id := range a.Typical {
			row.Typical = append(row.Typical, cell(id, fmt.Sprintf("%s #%d", a.Identity, id), images))
		}
		for _, id := range a.SuggestedTypical {
			row.Nearer = append(row.Nearer, cell(id, fmt.Sprintf("%s #%d", a.Suggested, id), images))
		}
		g := &out[len(out)-1]
		g.Rows = append(g.Rows, row)
	}
	return out
}

func cell(id int64, caption string, images func(id int64) []byte) gridCell {
	return gridCell{ID: id, Caption: caption, Src: dataURL(images(id))}
}

// dataURL inlines an encoded image; bytes that are not an image a browser shows give "" (the page
// then says the image is missing rather than embedding arbitrary data).
func dataURL(b []byte) template.URL {
	if len(b) == 0 {
		return ""
	}
	typ := http.DetectContentType(b)
	switch typ {
	case "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp":
		// A data: URL built here from a sniffed image type is safe to mark as a URL.
		return template.URL("data:" + typ + ";base64," + base64.StdEncoding.EncodeToString(b))
	}
	return ""
}
