package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sampleReport is a report as the stages would fill it for a long-tailed set of 300 identities,
// with images for the grid drawn here.
func sampleReport(t testing.TB) (*Report, func(id int64) []byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := &Report{Dataset: "/data/synth-raw", Output: "/data/synth-eq", Model: "testdata/premodel-synth.onnx",
		Created: time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)}
	const identities = 300
	var cos []float32
	for c := range identities {
		n := 2 + int(400*math.Pow(float64(c+1), -1.1)) // Zipf-like sizes, from ~400 down to 2
		r.Raw.Sizes = append(r.Raw.Sizes, n)
		r.Raw.Samples += n
		for range n {
			if rng.Float64() < 0.05 {
				cos = append(cos, float32(rng.NormFloat64()*0.1+0.2)) // planted noise
			} else {
				cos = append(cos, float32(min(rng.NormFloat64()*0.07+0.82, 1)))
			}
		}
	}
	r.Raw.Identities = identities
	r.S2.TSpec, r.S2.T, r.S2.KeepMin = "0.65", 0.65, 3
	var cand []float32
	for _, c := range cos {
		if float64(c) > r.S2.T {
			r.S2.Kept++
		} else {
			r.S2.Removed++
		}
		cand = append(cand, float32(float64(c)-math.Abs(rng.NormFloat64()*0.12)))
	}
	r.S2.Cosine = HistogramOf(cos, -1, 1, 100)
	r.S2.Quantiles = map[string]float64{"p50": 0.82, "p5": 0.31, "p10": 0.7, "p90": 0.9}
	r.S2.Truth = &Truth{CleanTotal: 9500, CleanKept: 9450, NoiseTotal: 500, NoiseRemoved: 470,
		Precision: 0.904, Recall: 0.94, CleanKeptRate: 0.9947, NoiseRemovedRate: 0.94,
		Kinds: []KindScore{{Kind: "clean", Total: 9500, Kept: 9450, Removed: 50, RemovedRate: 50.0 / 9500},
			{Kind: "mislabeled", Total: 300, Kept: 10, Removed: 290, Relabeled: 40, RelabeledRight: 38, RemovedRate: 290.0 / 300},
			{Kind: "outsider", Total: 200, Kept: 20, Removed: 180, RemovedRate: 0.9}}}
	var impostor []float64
	for range 50000 {
		impostor = append(impostor, rng.NormFloat64()*0.12+0.1)
	}
	r.S2.Impostor, r.S2.ImpostorFAR, r.S2.Margin, r.S2.Action = HistogramOf(impostor, -1, 1, 100), 0.05, 0.12, "drop"
	for k, reason := range []string{"cosine at most t", "nearer another identity", "nearer another identity"} {
		a := Audit{ID: int64(2000 + k), Source: fmt.Sprintf("id%05d/%04d.jpg", k, k), Identity: fmt.Sprintf("id%05d", k),
			Reason: reason, Cosine: 0.1 * float64(k), Typical: []int64{int64(3000 + 3*k), int64(3001 + 3*k), int64(3002 + 3*k)}}
		if reason != "cosine at most t" {
			a.Suggested, a.SuggestedCosine, a.SuggestedTypical = "id00042", 0.7, []int64{4000, 4001, 4002}
		}
		r.S2.Audit = append(r.S2.Audit, a)
	}
	r.S3.ASpec, r.S3.BSpec, r.S3.A, r.S3.B, r.S3.N, r.S3.MaxAttempts = "0.55", "0.85", 0.55, 0.85, 20, 100
	r.S3.Cosine = HistogramOf(cand, -1, 1, 100)
	r.S3.Attempts = len(cand)
	for _, c := range cand {
		if float64(c) > r.S3.A && float64(c) < r.S3.B {
			r.S3.Accepted++
		}
	}
	for range identities {
		r.S3.AcceptPerIdentity = append(r.S3.AcceptPerIdentity, min(1, max(0, rng.NormFloat64()*0.15+0.6)))
	}
	recipes := []string{"rotate(7.5)", "jpeg(42)+blur(1.1)", "occlude(0.36)", "grayscale+crop(0.8)", "lowres(0.4)", "jitter(0.5)"}
	for p := range int64(20) {
		for k := range int64(2 + p%7) {
			r.S3.Examples = append(r.S3.Examples, Example{Parent: p, ID: 1000 + 10*p + k,
				Recipe: recipes[(p+k)%int64(len(recipes))], Sim: float32(0.6 + 0.02*float64(k))})
		}
	}
	r.S4.Policy, r.S4.TargetSpec, r.S4.Target = "balanced", "median", 12
	for range identities {
		r.S4.Quotas = append(r.S4.Quotas, r.S4.Target)
	}
	r.S4.Before = BalanceOf(floats(r.Raw.Sizes))
	r.S4.After = BalanceOf(floats(r.S4.Quotas))
	r.Timings = map[string]float64{"equalize": 3.2, "embed": 41.5, "select": 0.4, "augment": 88.1}
	images := func(id int64) []byte {
		if id == 1023 {
			return nil // a sample the caller cannot find: the page must say so, not fail
		}
		return face(t, id, id < 1000)
	}
	return r, images
}

func floats(xs []int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// face draws a 112×112 placeholder with a distinct hue per id; originals are PNG, augmentations JPEG,
// as they are in a dataset imported from PNG files.
func face(t testing.TB, id int64, asPNG bool) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 112, 112))
	for y := range 112 {
		for x := range 112 {
			dx, dy := float64(x-56)/40, float64(y-60)/50
			shade := uint8(60)
			if dx*dx+dy*dy < 1 {
				shade = 200
			}
			img.Set(x, y, color.RGBA{shade, uint8(int64(x)*2 + id*37), uint8(y * 2), 255})
		}
	}
	var b bytes.Buffer
	var err error
	if asPNG {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestWriteRoundTrips(t *testing.T) {
	dir := t.TempDir()
	r, images := sampleReport(t)
	if err := Write(dir, r, images); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, Folder, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("report.json does not parse: %v", err)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("report.json does not round-trip:\n got %+v\nwant %+v", back, *r)
	}
	page, err := os.ReadFile(filepath.Join(dir, Folder, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	checkHTML(t, page)
	for _, want := range []string{"t = 0.65", "a = 0.55", "b = 0.85", "90.4 %", "no image #1023",
		"data:image/png;base64,", "data:image/jpeg;base64,", "jpeg(42)"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if n := bytes.Count(page, []byte("<svg")); n != 5 {
		t.Errorf("%d plots, want 5", n)
	}
	// The audit: each removed photo beside its identity's typical photos, and the nearer identity's.
	for _, id := range []int64{2000, 3000, 3002, 2001, 4000, 4002} {
		if !bytes.Contains(page, []byte(fmt.Sprintf(`alt="sample %d"`, id))) {
			t.Errorf("the audit lacks photo %d", id)
		}
	}
}

func TestWriteWithoutImagesOrStages(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, &Report{Dataset: "empty"}, nil); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, Folder, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	checkHTML(t, page)
	for _, want := range []string{"no identities recorded", "no cosines recorded", "cannot be scored", "No kept augmentations"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

func TestWriteRefusesNaN(t *testing.T) {
	r := &Report{}
	r.S2.T = math.NaN()
	if err := Write(t.TempDir(), r, nil); err == nil || !strings.Contains(err.Error(), "encode report") {
		t.Errorf("Write with NaN: %v, want an encode error", err)
	}
}

var (
	tagPattern  = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(/?)>`)
	voidElement = map[string]bool{"meta": true, "br": true, "img": true, "link": true, "hr": true, "input": true}
	// Anything the page would fetch: the report must open with no network.
	externalRef = regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:|//)|url\(\s*['"]?(https?:|//)|@import`)
)

// htmlProblem checks the page's structure without an HTML parser (x/net/html is not a dependency):
// a doctype, every element closed in order, nothing external referenced.
func htmlProblem(page []byte) error {
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) {
		return fmt.Errorf("no doctype")
	}
	if m := externalRef.Find(page); m != nil {
		return fmt.Errorf("references something external: %s", m)
	}
	var open []string
	for _, m := range tagPattern.FindAllSubmatch(page, -1) {
		closing, name, selfClosing := len(m[1]) > 0, strings.ToLower(string(m[2])), len(m[3]) > 0
		switch {
		case voidElement[name] || selfClosing:
		case !closing:
			open = append(open, name)
		case len(open) == 0 || open[len(open)-1] != name:
			return fmt.Errorf("</%s> closes %v", name, open)
		default:
			open = open[:len(open)-1]
		}
	}
	if len(open) != 0 {
		return fmt.Errorf("unclosed elements %v", open)
	}
	return nil
}

func checkHTML(t *testing.T, page []byte) {
	t.Helper()
	if err := htmlProblem(page); err != nil {
		t.Errorf("report.html: %v", err)
	}
}

func TestHTMLProblemCatchesBrokenPages(t *testing.T) {
	for _, page := range []string{
		"<html></html>",
		"<!DOCTYPE html><html><body><div></body></html>",
		"<!DOCTYPE html><html><body>",
		`<!DOCTYPE html><html><img src="https://example.com/x.png"></html>`,
		`<!DOCTYPE html><html><style>@import "x.css";</style></html>`,
	} {
		if htmlProblem([]byte(page)) == nil {
			t.Errorf("htmlProblem accepted %q", page)
		}
	}
	if err := htmlProblem([]byte(`<!DOCTYPE html><html><meta charset="utf-8"><svg><path d="M0 0"/></svg><br></html>`)); err != nil {
		t.Errorf("htmlProblem refused a good page: %v", err)
	}
}

// TestReportRendersInChromium renders report.html headless and checks a real page came out. Set
// REPORT_SCREENSHOT=path to keep the screenshot for a look.
func TestReportRendersInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (make setup installs it)")
	}
	if testing.Short() {
		t.Skip("renders a page in a browser")
	}
	dir := t.TempDir()
	r, images := sampleReport(t)
	if err := Write(dir, r, images); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot,
		"--window-size=1200,2400", "file://"+filepath.Join(dir, Folder, "report.html"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 2400 {
		t.Errorf("screenshot is %v, want 1200×2400", b)
	}
	// A blank or error page has a handful of colours; the plots and photos give thousands.
	colours := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			colours[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)] = true
		}
	}
	if len(colours) < 500 {
		t.Errorf("screenshot has %d colours: the page did not render", len(colours))
	}
	// Every image of the page loads: the page's own script counts the broken ones on <body>.
	cmd = exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+filepath.Join(dir, Folder, "report.html"))
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	page, err := os.ReadFile(filepath.Join(dir, Folder, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	imgs := bytes.Count(page, []byte("<img "))
	if want := fmt.Sprintf(`data-images="%d" data-images-broken="0"`, imgs); imgs < 30 || !bytes.Contains(dom, []byte(want)) {
		m := regexp.MustCompile(`<body[^>]*>`).Find(dom)
		t.Errorf("the page has %d <img>; the browser's body says %s, want %s", imgs, m, want)
	}
	for _, want := range []string{"Removed photos, to audit by eye", "nearer another identity (2 shown)", "genuine and impostor cosines", "outsider photos removed"} {
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if keep := os.Getenv("REPORT_SCREENSHOT"); keep != "" {
		if err := os.WriteFile(keep, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprintf(os.Stderr, "screenshot: %d bytes, %d colours\n", len(data), len(colours))
}
