package offline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/facestream/facestream/offline/report"
)

// normalize scales v to unit length.
func normalize(v []float32) {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(n))
	}
}

// clusteredEmbeddings makes perClass photos for each of classes identities around random unit
// directions (cosine to the direction about 0.9), and replaces the photos listed in outliers with
// random directions: the shape of a cleanable set.
func clusteredEmbeddings(classes, perClass, dim int, outliers map[int]bool) *embeddings {
	rng := rand.New(rand.NewPCG(1, 2))
	e := &embeddings{dim: dim}
	for c := range classes {
		dir := randomUnit(rng, dim)
		for k := range perClass {
			v := randomUnit(rng, dim)
			if !outliers[e.len()] {
				for i := range v {
					v[i] = 2*dir[i] + 0.1*v[i]*float32(k%3)
				}
				normalize(v)
			}
			e.ids = append(e.ids, int64(e.len()))
			e.labels = append(e.labels, int32(c))
			e.emb = append(e.emb, v...)
		}
	}
	return e
}

func TestSelectBase(t *testing.T) {
	outliers := map[int]bool{3: true, 11: true, 12: true, 25: true}
	e := clusteredEmbeddings(4, 8, 32, outliers)
	for _, robust := range []bool{false, true} {
		sel, err := selectBase(e, 4, SelectConfig{T: "0.65", KeepMin: 3, Robust: robust})
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range sel.base {
			if b == outliers[i] {
				t.Errorf("robust=%v: photo %d (outlier %v) cosine %.3f base %v", robust, i, outliers[i], sel.cosine[i], b)
			}
		}
		for c := range 4 {
			var n float64
			for _, v := range sel.centers[c*32 : (c+1)*32] {
				n += float64(v) * float64(v)
			}
			if math.Abs(n-1) > 1e-5 {
				t.Errorf("centre %d has norm² %v", c, n)
			}
		}
	}
	// A threshold no photo passes leaves each identity its keep_min best.
	sel, err := selectBase(e, 4, SelectConfig{T: "0.999", KeepMin: 3})
	if err != nil {
		t.Fatal(err)
	}
	for c, rows := range rowsByClass(e.labels, 4) {
		kept := 0
		for _, i := range rows {
			if sel.base[i] {
				kept++
				if outliers[i] {
					t.Errorf("identity %d kept outlier %d among its best", c, i)
				}
			}
		}
		if kept != 3 {
			t.Errorf("identity %d kept %d, want keep_min 3", c, kept)
		}
	}
	// A quantile threshold removes that share of photos.
	sel, err = selectBase(e, 4, SelectConfig{T: "p25", KeepMin: 0})
	if err != nil {
		t.Fatal(err)
	}
	if removed := len(sel.base) - countTrue(sel.base); removed != 8 {
		t.Errorf("t = p25 removed %d of 32 photos, want 8", removed)
	}
	if _, err := selectBase(e, 3, SelectConfig{T: "0.5"}); err == nil {
		t.Error("a label outside the classes was accepted")
	}
}

// A two-photo identity holding another identity's face: its centre is their midpoint, so both pass
// t; only the nearest-centre check sees that the intruder sits nearer its true identity.
func TestSelectNearest(t *testing.T) {
	e := clusteredEmbeddings(4, 8, 32, nil)
	pair := clusteredEmbeddings(5, 2, 32, nil) // identity 4 of this set is new to e
	own, intruder := pair.row(8), e.row(0)
	e.ids, e.labels = append(e.ids, 32, 33), append(e.labels, 4, 4)
	e.emb = append(append(e.emb, own...), intruder...)
	for _, nearest := range []bool{false, true} {
		sel, err := selectBase(e, 5, SelectConfig{T: "0.65", KeepMin: 3, Nearest: nearest})
		if err != nil {
			t.Fatal(err)
		}
		if !sel.base[32] || sel.base[33] != !nearest {
			t.Errorf("nearest=%v: own photo kept %v, intruder kept %v (cosines %.3f, %.3f)", nearest, sel.base[32], sel.base[33], sel.cosine[32], sel.cosine[33])
		}
		if kept := countTrue(sel.base[:32]); kept != 32 {
			t.Errorf("nearest=%v: %d of 32 clean photos kept", nearest, kept)
		}
	}
}

// TestSelectSkipsUndecodable: photos with zero embeddings (they did not decode) are out of the base
// for that reason, and the other photos are judged as if they were not there at all.
func TestSelectSkipsUndecodable(t *testing.T) {
	outliers := map[int]bool{3: true, 11: true, 25: true}
	e := clusteredEmbeddings(6, 8, 32, outliers)
	zero := map[int]bool{2: true, 11: true, 17: true}
	for i := 40; i < 48; i++ { // identity 5 decodes not at all
		zero[i] = true
	}
	rest := &embeddings{dim: e.dim}
	for i := range e.len() {
		if zero[i] {
			clear(e.row(i))
			continue
		}
		rest.ids, rest.labels = append(rest.ids, e.ids[i]), append(rest.labels, e.labels[i])
		rest.emb = append(rest.emb, e.row(i)...)
	}
	for _, cfg := range []SelectConfig{{T: "0.65", KeepMin: 3, Nearest: true}, {T: "p20", KeepMin: 2, Robust: true}} {
		sel, err := selectBase(e, 6, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := selectBase(rest, 6, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if sel.t != ref.t {
			t.Errorf("%+v: t %v, %v without the undecodable photos", cfg, sel.t, ref.t)
		}
		k := 0
		for i := range e.len() {
			if zero[i] {
				if sel.base[i] || sel.why[i] != undecodable {
					t.Errorf("%+v: undecodable photo %d: base %v, why %q", cfg, i, sel.base[i], sel.why[i])
				}
				continue
			}
			if sel.base[i] != ref.base[k] || sel.why[i] != ref.why[k] {
				t.Errorf("%+v: photo %d: base %v (%q), %v (%q) without the undecodable photos", cfg, i, sel.base[i], sel.why[i], ref.base[k], ref.why[k])
			}
			if !sel.base[i] && sel.why[i] == inBase {
				t.Errorf("%+v: photo %d is out of the base without a reason", cfg, i)
			}
			k++
		}
	}
}

func countTrue(v []bool) int {
	n := 0
	for _, x := range v {
		if x {
			n++
		}
	}
	return n
}

func TestQuotas(t *testing.T) {
	cases := []struct {
		policy      string
		target, cap int
		count, want []int
	}{
		{PolicyBalanced, 10, 0, []int{1, 10, 100, 0}, []int{10, 10, 10, 0}},
		{PolicyBalanced, 10, 5, []int{1, 10, 100}, []int{5, 5, 5}},
		{PolicySqrt, 16, 0, []int{1, 4, 16, 100}, []int{4, 8, 16, 100}},
		{PolicySqrt, 16, 50, []int{1, 100}, []int{4, 50}},
	}
	for _, tc := range cases {
		if got := quotas(tc.policy, tc.target, tc.cap, tc.count); !slices.Equal(got, tc.want) {
			t.Errorf("quotas(%s, T=%d, cap=%d, %v) = %v, want %v", tc.policy, tc.target, tc.cap, tc.count, got, tc.want)
		}
	}
	if got := used(10, 4, 9); got != 6 {
		t.Errorf("an identity of 4 clean photos with 9 augmentations uses %d to reach 10, want 6", got)
	}
	if got := used(10, 12, 9); got != 0 {
		t.Errorf("an identity above the target uses %d augmentations, want 0", got)
	}
}

func TestTargetAndCap(t *testing.T) {
	clean := []int{0, 2, 3, 5, 8, 40}
	cases := []struct {
		spec   Spec
		target bool
		want   int
		err    bool
	}{
		{"median", true, 5, false},
		{"p0", true, 2, false},
		{"12", true, 12, false},
		{"0.2", true, 0, true},
		{"none", false, 0, false},
		{"p100", false, 40, false},
		{"20", false, 20, false},
	}
	for _, tc := range cases {
		f := headCap
		if tc.target {
			f = targetSize
		}
		got, err := f(tc.spec, clean)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q (target %v) = %d, %v; want %d", tc.spec, tc.target, got, err, tc.want)
		}
	}
	if _, err := targetSize("median", []int{0, 0}); err == nil {
		t.Error("a target over no clean identity resolved")
	}
}

func TestEmbeddingsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.arrow")
	want := clusteredEmbeddings(3, 4, 5, nil)
	if err := writeEmbeddings(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := readEmbeddings(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.dim != want.dim || !slices.Equal(got.ids, want.ids) || !slices.Equal(got.labels, want.labels) || !slices.Equal(got.emb, want.emb) {
		t.Fatalf("read back %+v, wrote %+v", got, want)
	}
	if err := os.WriteFile(path, []byte("not arrow"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readEmbeddings(path); err == nil {
		t.Fatal("a file that is not Arrow was read as embeddings")
	}
}

func TestStageRunner(t *testing.T) {
	root := t.TempDir()
	var logs bytes.Buffer
	st := &stages{dir: filepath.Join(root, "stages"), log: slog.New(slog.NewTextHandler(&logs, nil))}
	runs := 0
	work := func() ([]string, any, error) {
		runs++
		if err := os.WriteFile(filepath.Join(root, "out.bin"), []byte("result"), 0o644); err != nil {
			return nil, nil, err
		}
		return []string{"out.bin"}, map[string]int{"n": 1}, nil
	}
	spec := &stageSpec{name: "demo", inputs: []string{"in"}, params: map[string]int{"p": 1}, root: root}
	steps := []struct {
		name   string
		before func()
		runs   int
	}{
		{"first run", func() {}, 1},
		{"unchanged is skipped", func() {}, 1},
		{"changed parameters rerun", func() { spec.params = map[string]int{"p": 2} }, 2},
		{"changed input reruns", func() { spec.inputs = []string{"other"} }, 3},
		{"corrupt output reruns", func() { os.WriteFile(filepath.Join(root, "out.bin"), []byte("resulT"), 0o644) }, 4},
		{"missing output reruns", func() { os.Remove(filepath.Join(root, "out.bin")) }, 5},
		{"missing record reruns", func() { os.Remove(st.path("demo")) }, 6},
		{"then skipped again", func() {}, 6},
	}
	for _, s := range steps {
		s.before()
		rec, err := st.run(context.Background(), spec, work)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if runs != s.runs {
			t.Fatalf("%s: work ran %d times, want %d\n%s", s.name, runs, s.runs, logs.String())
		}
		var stats map[string]int
		if err := rec.stats(&stats); err != nil || stats["n"] != 1 {
			t.Fatalf("%s: stats %v, %v", s.name, stats, err)
		}
	}
	if !strings.Contains(logs.String(), "skipped") || !strings.Contains(logs.String(), "out.bin is missing") {
		t.Fatalf("the log does not say what was skipped and why stages reran:\n%s", logs.String())
	}
	// A cancelled context stops a stale stage before its work; a current one is still reported.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := st.run(ctx, spec, work); err != nil {
		t.Fatalf("current stage with a cancelled context: %v", err)
	}
	spec.params = map[string]int{"p": 3}
	if _, err := st.run(ctx, spec, work); !errors.Is(err, context.Canceled) || runs != 6 {
		t.Fatalf("stale stage with a cancelled context: %v after %d runs, want context.Canceled and no run", err, runs)
	}
}

func TestTrimAndAddHistogram(t *testing.T) {
	h := report.Histogram{Edges: []float64{0, 0.25, 0.5, 0.75, 1}, Counts: []int{0, 3, 0, 0}}
	if got := trimHistogram(h); !slices.Equal(got.Counts, []int{3}) || !slices.Equal(got.Edges, []float64{0.25, 0.5}) {
		t.Fatalf("trim %+v", got)
	}
	if got := trimHistogram(h, 0.8); !slices.Equal(got.Counts, []int{3, 0, 0}) || got.Edges[0] != 0.25 {
		t.Fatalf("trim keeping the mark 0.8: %+v", got)
	}
	sum := addHistogram(addHistogram(report.Histogram{}, h), h)
	if !slices.Equal(sum.Counts, []int{0, 6, 0, 0}) || !slices.Equal(h.Counts, []int{0, 3, 0, 0}) {
		t.Fatalf("sum %+v, and the addend became %+v", sum, h)
	}
}
