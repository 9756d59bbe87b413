package offline

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/internal/testdataset"
)

// writeTinyDataset writes a one-photo dataset of the kind, made from source.
func writeTinyDataset(t *testing.T, dir, kind, source string) {
	testdataset.Write(t, dir, testdataset.Options{Kind: kind, Source: source, Identities: 1, PerIdentity: 1,
		Photo: func(int, int) []byte { return []byte{1} }})
}

// TestCheckOutputRefusesForeignDatasets: S4 rewrites --out from scratch, so a dataset there that an
// earlier run of the same raw dataset did not write is only replaced with --force.
func TestCheckOutputRefusesForeignDatasets(t *testing.T) {
	root := t.TempDir()
	raw := filepath.Join(root, "raw")
	mine := filepath.Join(root, "eq")
	writeTinyDataset(t, mine, arrowio.KindEqualized, raw)
	otherRaw := filepath.Join(root, "other-raw")
	writeTinyDataset(t, otherRaw, arrowio.KindRaw, "/photos")
	otherEq := filepath.Join(root, "other-eq")
	writeTinyDataset(t, otherEq, arrowio.KindEqualized, "/elsewhere/raw")
	for _, tc := range []struct {
		out   string
		force bool
		ok    bool
	}{
		{filepath.Join(root, "new"), false, true},
		{mine, false, true},
		{otherRaw, false, false},
		{otherEq, false, false},
		{otherRaw, true, true},
	} {
		err := checkOutput(tc.out, raw, tc.force)
		if tc.ok && err != nil {
			t.Errorf("%s (force %v): %v", tc.out, tc.force, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "--force")) {
			t.Errorf("%s (force %v): %v, want a refusal that mentions --force", tc.out, tc.force, err)
		}
	}
}

// TestWorkFolderApart: a work folder that is the output or the raw dataset is refused before
// anything runs, since S4 and import rewrite those folders.
func TestWorkFolderApart(t *testing.T) {
	root := t.TempDir()
	raw := filepath.Join(root, "raw")
	writeTinyDataset(t, raw, arrowio.KindRaw, "/photos")
	out := filepath.Join(root, "eq")
	for _, work := range []string{out, raw, filepath.Join(raw, "w"), filepath.Join(out, "report"), filepath.Join(out, "embeddings", "w")} {
		p := &Pipeline{Dataset: raw, Out: out, Work: work, Config: DefaultConfig()}
		if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "work folder") {
			t.Errorf("--work %s: %v, want a refusal naming the work folder", work, err)
		}
	}
	for _, work := range []string{filepath.Join(out, ".work"), filepath.Join(out, "scratch"), filepath.Join(root, "w")} {
		if err := checkWorkFolder(work, out, raw); err != nil {
			t.Errorf("--work %s: %v", work, err)
		}
	}
}
