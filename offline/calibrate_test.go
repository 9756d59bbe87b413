package offline

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// photosAlong returns n unit embeddings of dim 4 near axis (a unit vector), with jitter.
func photosAlong(r *rand.Rand, axis []float32, n int, jitter float64) [][]float32 {
	out := make([][]float32, n)
	for k := range out {
		v := slices.Clone(axis)
		for j := range v {
			v[j] += float32(jitter * r.NormFloat64())
		}
		normalize(v)
		out[k] = v
	}
	return out
}

// randomClusters is per photos for each of classes identities, around random unit directions of
// dimension d, jittered by jitter.
func randomClusters(r *rand.Rand, classes, per, d int, jitter float64) *embeddings {
	e := &embeddings{dim: d}
	for c := range classes {
		for _, v := range photosAlong(r, randomUnit(r, d), per, jitter) {
			e.ids, e.labels, e.emb = append(e.ids, int64(e.len())), append(e.labels, int32(c)), append(e.emb, v...)
		}
	}
	return e
}

// randomUnit is a random direction of dimension d.
func randomUnit(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	for j := range v {
		v[j] = float32(r.NormFloat64())
	}
	normalize(v)
	return v
}

func unit(v ...float32) []float32 {
	normalize(v)
	return v
}

// TestMarginRule: photos filed under identity 0 at several distances from identity 1. A photo
// nearer 1's centre by more than the margin is out whatever its own cosine (above t here); one
// nearer by less stays. With action relabel, a photo that looks like a member of identity 1 (its
// cosine there above the first quartile of all own cosines) joins it; one merely nearer is dropped.
func TestMarginRule(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	e := &embeddings{dim: 4}
	add := func(label int32, v []float32) int {
		e.ids, e.labels, e.emb = append(e.ids, int64(e.len())), append(e.labels, label), append(e.emb, v...)
		return e.len() - 1
	}
	for _, v := range photosAlong(r, unit(1, 0, 0, 0), 60, 0.05) {
		add(0, v)
	}
	for _, v := range photosAlong(r, unit(0, 1, 0, 0), 60, 0.05) {
		add(1, v)
	}
	nearer := add(0, unit(0.6, 0.8, 0, 0))      // own ≈ 0.6 > t, other ≈ 0.8: out by the margin
	member := add(0, unit(0.02, 1, 0.02, 0))    // a photo of identity 1 filed under 0
	tie := add(0, unit(0.70, 0.72, 0, 0))       // other − own ≈ 0.02 < margin: stays
	lowBoth := add(0, unit(0.25, 0.4, 0.88, 0)) // nearer 1, but below t there
	for _, action := range []string{ActionDrop, ActionRelabel} {
		cfg := SelectConfig{T: "0.5", KeepMin: 3, Nearest: true, Margin: 0.05, Action: action}
		sel, err := selectBase(e, 2, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{nearer, lowBoth} {
			if sel.base[i] || sel.why[i] != nearerOther || sel.nearest[i] != 1 {
				t.Errorf("%s: photo %d nearer identity 1 (own %.3f, other %.3f): base %v, why %q, nearest %d",
					action, i, sel.cosine[i], sel.nearestCos[i], sel.base[i], sel.why[i], sel.nearest[i])
			}
		}
		relabel := action == ActionRelabel
		if sel.base[member] != relabel || (sel.why[member] == relabeled) != relabel || (sel.assigned[member] == 1) != relabel {
			t.Errorf("%s: the photo of identity 1: base %v, why %q, assigned %d (cosine there %.3f, relabel from %.3f)",
				action, sel.base[member], sel.why[member], sel.assigned[member], sel.nearestCos[member], sel.tRelabel)
		}
		if relabel && math.Abs(float64(sel.cosine[member])-float64(sel.nearestCos[member])) > 1e-6 {
			t.Errorf("relabeled photo's cosine %.4f is not the one to its new centre %.4f", sel.cosine[member], sel.nearestCos[member])
		}
		if !sel.base[tie] || sel.assigned[tie] != 0 {
			t.Errorf("%s: the photo within the margin: base %v, why %q, assigned %d (own %.3f, other %.3f)",
				action, sel.base[tie], sel.why[tie], sel.assigned[tie], sel.cosine[tie], sel.nearestCos[tie])
		}
		if n := countTrue(sel.base[:120]); n != 120 {
			t.Errorf("%s: %d of 120 clean photos kept", action, n)
		}
	}
	// Without the check, the photo above t stays: only the check sees it belongs elsewhere.
	sel, err := selectBase(e, 2, SelectConfig{T: "0.5", KeepMin: 3, Margin: 0.05, Action: ActionDrop})
	if err != nil {
		t.Fatal(err)
	}
	if !sel.base[nearer] || sel.nearest[nearer] != -1 {
		t.Errorf("nearest off: the photo nearer identity 1 base %v, nearest %d", sel.base[nearer], sel.nearest[nearer])
	}
}

// TestAutoT: t: auto is the cosine that impostor_far of the impostor cosines exceed, on every pair
// when they are few and on a sample when they are many; it removes photos of people outside the
// set filed under an identity.
func TestAutoT(t *testing.T) {
	for _, tc := range []struct {
		name             string
		classes, perEach int
		sampled          bool
	}{
		{"every pair", 40, 10, false},
		{"sampled", 1100, 2, true}, // 2,200 photos × 1,099 other identities > maxImpostorPairs
	} {
		t.Run(tc.name, func(t *testing.T) {
			const d = 16
			r := rand.New(rand.NewPCG(7, uint64(tc.classes)))
			e := randomClusters(r, tc.classes, tc.perEach, d, 0.08)
			outsider := e.len()
			v := make([]float32, d)
			for j := range v {
				v[j] = float32(r.NormFloat64())
			}
			normalize(v)
			e.ids, e.labels, e.emb = append(e.ids, int64(outsider)), append(e.labels, 0), append(e.emb, v...)

			const far = 0.03
			sel, err := selectBase(e, tc.classes, SelectConfig{T: "auto", ImpostorFAR: far, KeepMin: 1, Nearest: true, Margin: 0.05, Action: ActionDrop})
			if err != nil {
				t.Fatal(err)
			}
			// Every impostor pair, counted by brute force against the centres selectBase used.
			above, pairs := 0, 0
			for i := range e.len() {
				for c := range tc.classes {
					if c != int(e.labels[i]) {
						pairs++
						if float64(dot(e.row(i), sel.center(c))) > sel.t {
							above++
						}
					}
				}
			}
			if got := float64(above) / float64(pairs); math.Abs(got-far) > 0.002 {
				t.Errorf("t = %.4f: %.4f of %d impostor pairs above it, want %.3f", sel.t, got, pairs, far)
			}
			if want := min(pairs, maxImpostorPairs); len(sel.impostor) != want || !slices.IsSorted(sel.impostor) {
				t.Errorf("%d impostor cosines (sorted %v), want %d", len(sel.impostor), slices.IsSorted(sel.impostor), want)
			}
			if sel.base[outsider] {
				t.Errorf("the outsider (cosine %.3f to its centre) passed t = %.3f", sel.cosine[outsider], sel.t)
			}
		})
	}
	if _, err := autoT(nil, 0.03); err == nil {
		t.Error("t: auto without impostors was resolved")
	}
	if _, err := autoT([]float64{0.1, 0.2}, 1); err == nil {
		t.Error("impostor_far 1 was accepted")
	}
}

// TestWeakModelGuard: when the photos of an identity sit no nearer its centre than other people's
// photos do (a pre-model that does not separate them), S2 judges the model too weak, skips the
// margin rule and removes at most 2 % of the photos; clear clusters are cleaned as usual.
func TestWeakModelGuard(t *testing.T) {
	for _, tc := range []struct {
		name   string
		jitter float64
		weak   bool
	}{{"clear clusters", 0.05, false}, {"blurred clusters", 1.2, true}} {
		t.Run(tc.name, func(t *testing.T) {
			const classes = 60
			e := randomClusters(rand.New(rand.NewPCG(3, 4)), classes, 12, 8, tc.jitter)
			cfg := DefaultConfig().Select
			sel, err := selectBase(e, classes, cfg)
			if err != nil {
				t.Fatal(err)
			}
			removed := e.len() - countTrue(sel.base)
			t.Logf("overlap %.4f, weak %v, t %.3f, removed %d of %d", sel.overlap, sel.weak, sel.t, removed, e.len())
			if sel.weak != tc.weak {
				t.Fatalf("weak %v (overlap %.4f), want %v", sel.weak, sel.overlap, tc.weak)
			}
			if tc.weak {
				if float64(removed) > float64(e.len())*weakRemoved+1 || slices.ContainsFunc(sel.nearest, func(n int32) bool { return n >= 0 }) {
					t.Errorf("a weak pre-model removed %d of %d photos (nearest check run: %v)", removed, e.len(),
						slices.ContainsFunc(sel.nearest, func(n int32) bool { return n >= 0 }))
				}
				cfg.WeakOverlap = 0 // the guard off: the rules remove far more
				if off, err := selectBase(e, classes, cfg); err != nil || e.len()-countTrue(off.base) <= 3*removed {
					t.Errorf("without the guard %d removed (%v), with it %d", e.len()-countTrue(off.base), err, removed)
				}
			}
		})
	}
}
