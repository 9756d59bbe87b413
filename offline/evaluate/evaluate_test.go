package evaluate

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/facestream/facestream/offline/report"
	"github.com/facestream/facestream/offline/synth"
)

func TestScore(t *testing.T) {
	// Photo 6 is a mislabeled photo of identity 2 filed under 1 and relabeled to 2; photo 7 a clean
	// photo relabeled away (wrongly); photo 8 an outsider relabeled (to someone it does not show).
	base := []bool{true, true, false, false, true, false, true, true, true}
	filed := []int32{0, 0, 0, 1, 1, 1, 1, 0, 0}
	assigned := []int32{0, 0, 0, 1, 1, 1, 2, 1, 1}
	kinds := []synth.Kind{synth.Clean, synth.Clean, synth.Clean, synth.Junk, synth.Mislabeled, synth.Mislabeled,
		synth.Mislabeled, synth.Clean, synth.Outsider}
	shows := []string{"p0", "p0", "p0", "", "p0", "p0", "p2", "p0", "stranger"}
	truth := &Truth{path: "truth.csv", byPath: map[string]synth.Photo{}}
	var decisions []Decision
	for i := range base {
		src := fmt.Sprintf("p%d/%d.jpg", filed[i], i)
		truth.byPath[src] = synth.Photo{Path: src, Kind: kinds[i], TrueIdentity: shows[i]}
		decisions = append(decisions, Decision{Source: src, Filed: filed[i], Assigned: assigned[i], Base: base[i]})
	}
	// A photo the truth does not list is not counted.
	decisions = append(decisions, Decision{Source: "p9/unlisted.jpg", Filed: 1, Assigned: 1})
	labelOf := map[string]int32{"p0": 0, "p1": 1, "p2": 2}
	got, err := truth.Score(decisions, labelOf)
	if err != nil {
		t.Fatal(err)
	}
	// Removed: photos 2, 3, 5, 6, 7, 8; of them noise: 3, 5, 6, 8.
	if got.CleanTotal != 4 || got.CleanKept != 2 || got.NoiseTotal != 5 || got.NoiseRemoved != 4 ||
		math.Abs(got.Precision-4.0/6) > 1e-12 || math.Abs(got.Recall-4.0/5) > 1e-12 || got.NoiseRemovedRate != got.Recall {
		t.Fatalf("truth %+v", got)
	}
	want := []report.KindScore{
		{Kind: "clean", Total: 4, Kept: 2, Removed: 2, Relabeled: 1, RemovedRate: 0.5},
		{Kind: "mislabeled", Total: 3, Kept: 1, Removed: 2, Relabeled: 1, RelabeledRight: 1, RemovedRate: 2.0 / 3},
		{Kind: "outsider", Total: 1, Removed: 1, Relabeled: 1, RemovedRate: 1},
		{Kind: "junk", Total: 1, Removed: 1, RemovedRate: 1},
	}
	if !slices.Equal(got.Kinds, want) {
		t.Fatalf("kinds %+v\nwant  %+v", got.Kinds, want)
	}
	if _, err := truth.Score(decisions[len(decisions)-1:], labelOf); err == nil {
		t.Fatal("a truth that matches no photo was scored")
	}
}
