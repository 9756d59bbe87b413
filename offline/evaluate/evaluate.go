// Package evaluate scores the offline stages against the truth of planted label noise, the
// truth.csv that synth and plant write: which mislabeled, outsider and junk photos S2 removed,
// which clean ones it kept, and whether its relabelings were right. It is evaluation, not part
// of the pipeline: no stage reads the truth, only the report shows the score.
package evaluate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/facestream/facestream/offline/report"
	"github.com/facestream/facestream/offline/synth"
)

// Truth is a truth file of planted noise, by source path inside the imported ImageFolder.
type Truth struct {
	path   string
	byPath map[string]synth.Photo
}

// Load reads the truth file at path.
func Load(path string) (*Truth, error) {
	photos, err := synth.ReadTruth(path)
	if err != nil {
		return nil, err
	}
	t := &Truth{path: path, byPath: make(map[string]synth.Photo, len(photos))}
	for _, p := range photos {
		t.byPath[p.Path] = p
	}
	return t, nil
}

// Path is the file the truth was read from.
func (t *Truth) Path() string { return t.path }

// Lists reports whether the truth lists the photo at source, a path inside the ImageFolder.
func (t *Truth) Lists(source string) bool {
	_, ok := t.byPath[source]
	return ok
}

// Decision is what S2 decided for one photo.
type Decision struct {
	Source   string // the photo's path inside the ImageFolder, truth.csv's path column
	Filed    int32  // the identity it is filed under
	Assigned int32  // the identity whose base it joins: Filed unless relabeled
	Base     bool   // in the base of the identity it is assigned to
}

// Score counts S2's decisions against the truth, with "removed" as the positive class; labelOf
// gives the label of each of the dataset's identities by name. A photo is kept when it stays in
// the base of the identity it is filed under; relabeled, it is removed from it. Photos the truth
// does not list are not counted; a truth that lists none of them is an error.
func (t *Truth) Score(decisions []Decision, labelOf map[string]int32) (*report.Truth, error) {
	sc := &report.Truth{}
	removed := 0
	kinds := map[synth.Kind]*report.KindScore{}
	for _, d := range decisions {
		p, ok := t.byPath[d.Source]
		if !ok {
			continue
		}
		trueLabel, known := labelOf[p.TrueIdentity]
		if !known {
			trueLabel = -1
		}
		k := kinds[p.Kind]
		if k == nil {
			k = &report.KindScore{Kind: string(p.Kind)}
			kinds[p.Kind] = k
		}
		k.Total++
		kept := d.Base && d.Assigned == d.Filed
		if kept {
			k.Kept++
		} else {
			k.Removed++
			removed++
			if d.Base {
				k.Relabeled++
				if d.Assigned == trueLabel {
					k.RelabeledRight++
				}
			}
		}
		if p.Kind == synth.Clean {
			sc.CleanTotal++
			if kept {
				sc.CleanKept++
			}
			continue
		}
		sc.NoiseTotal++
		if !kept {
			sc.NoiseRemoved++
		}
	}
	if sc.CleanTotal+sc.NoiseTotal == 0 {
		return nil, fmt.Errorf("truth %s lists none of the dataset's photos (matched by source path)", t.path)
	}
	// Clean first, then the kinds of noise in a fixed order; kinds this version does not know last.
	rank := func(k string) int {
		return cmp.Or(slices.Index([]synth.Kind{synth.Clean, synth.Mislabeled, synth.Outsider, synth.Junk}, synth.Kind(k))+1, 5)
	}
	for _, k := range kinds {
		k.RemovedRate = ratio(k.Removed, k.Total)
		sc.Kinds = append(sc.Kinds, *k)
	}
	slices.SortFunc(sc.Kinds, func(a, b report.KindScore) int {
		return cmp.Or(cmp.Compare(rank(a.Kind), rank(b.Kind)), strings.Compare(a.Kind, b.Kind))
	})
	sc.Precision = ratio(sc.NoiseRemoved, removed)
	sc.Recall = ratio(sc.NoiseRemoved, sc.NoiseTotal)
	sc.CleanKeptRate = ratio(sc.CleanKept, sc.CleanTotal)
	sc.NoiseRemovedRate = sc.Recall
	return sc, nil
}

// ratio is k/n, 0 when n is 0 (JSON has no NaN).
func ratio(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}
