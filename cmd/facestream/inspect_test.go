package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facestream/facestream/arrowio"
)

// TestDatasetCommands runs synth → import → inspect → export (Parquet and
// RecordIO) → import of both, and expects the same samples every time.
func TestDatasetCommands(t *testing.T) {
	dir := t.TempDir()
	ds := filepath.Join(dir, "ds")
	run := func(f func([]string) error, args ...string) {
		t.Helper()
		if err := f(args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	run(runSynth, "--out", dir, "--identities", "12", "--seed", "4", "--size", "40")
	if err := runSynth([]string{"--out", dir, "--identities", "12"}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("synth over an existing set: %v, want a refusal naming --force", err)
	}
	run(runImport, "imagefolder", filepath.Join(dir, "images"), "--out", ds)
	if err := runImport([]string{"imagefolder", filepath.Join(dir, "images"), "--out", ds}); err == nil {
		t.Fatal("import over an existing dataset without --force succeeded")
	}
	run(runExport, ds, "--parquet", filepath.Join(dir, "set.parquet"), "--rec", filepath.Join(dir, "set.rec"))
	run(runImport, "parquet", filepath.Join(dir, "set.parquet"), "--out", filepath.Join(dir, "from-parquet"))
	run(runImport, "rec", "--verify", filepath.Join(dir, "set.rec"), "--out", filepath.Join(dir, "from-rec"))

	want := inspectJSON(t, ds, "--verify")
	if want.Kind != "raw" || want.Samples == 0 || want.Identities != 12 || want.Shards != 1 || want.Quarantined != 0 || !want.Verified {
		t.Fatalf("inspect: %+v", want)
	}
	total := 0
	for _, b := range want.Histogram {
		total += b.Identities
	}
	if total != 12 || len(want.Histogram) != 7 {
		t.Fatalf("histogram %+v covers %d identities, want 12", want.Histogram, total)
	}
	for _, other := range []string{"from-parquet", "from-rec"} {
		got := inspectJSON(t, filepath.Join(dir, other))
		if got.Samples != want.Samples || got.Identities != want.Identities || got.PerIdentity != want.PerIdentity {
			t.Errorf("%s: %+v, want the counts of %+v", other, got, want)
		}
		assertSameImages(t, ds, filepath.Join(dir, other))
	}

	var text bytes.Buffer
	if err := inspect(&text, []string{ds}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"samples", "identities", "shards", "quarantined", "2-4", "100+"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, text.String())
		}
	}
}

func inspectJSON(t *testing.T, ds string, flags ...string) inspection {
	t.Helper()
	var out bytes.Buffer
	if err := inspect(&out, append([]string{ds, "--json"}, flags...)); err != nil {
		t.Fatal(err)
	}
	var in inspection
	if err := json.Unmarshal(out.Bytes(), &in); err != nil {
		t.Fatalf("inspect --json: %v\n%s", err, out.String())
	}
	var keys map[string]any
	if err := json.Unmarshal(out.Bytes(), &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "samples", "identities", "shards", "quarantined"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("inspect --json lacks key %q", k)
		}
	}
	return in
}

func assertSameImages(t *testing.T, a, b string) {
	t.Helper()
	da, err := arrowio.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer da.Close()
	db, err := arrowio.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for row := range da.Len() {
		if da.ID(row) != db.ID(row) || da.Label(row) != db.Label(row) || !bytes.Equal(da.Image(row), db.Image(row)) {
			t.Fatalf("%s row %d differs from %s", b, row, a)
		}
	}
}
