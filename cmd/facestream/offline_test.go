package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facestream/facestream/offline"
)

func TestParseOffline(t *testing.T) {
	config := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(config, []byte("model: m.onnx\nselect: {t: p10, keep_min: 2}\nequalize: {policy: sqrt}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stage, p, part, _, err := parseOffline([]string{"augment", "DS", "--out", "EQ", "--config", config, "--keep-min", "5",
		"--part", "1/3", "--robust", "true", "--b", "p90"})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Config
	if stage != "augment" || p.Dataset != "DS" || p.Out != "EQ" || part != (offline.Part{Index: 1, Count: 3}) {
		t.Fatalf("stage %s, pipeline %+v, part %+v", stage, p, part)
	}
	// The file sets what it names, a flag wins over the file, the rest keeps its default.
	if c.Model != "m.onnx" || c.Select.T != "p10" || c.Select.KeepMin != 5 || !c.Select.Robust || c.Augment.B != "p90" ||
		c.Equalize.Policy != offline.PolicySqrt || c.Augment.A != "t" {
		t.Fatalf("config %+v", c)
	}
	bad := []struct {
		args []string
		err  string
	}{
		{nil, "want a stage"},
		{[]string{"clean", "DS", "--out", "EQ"}, "want a stage"},
		{[]string{"run", "DS"}, "--out is required"},
		{[]string{"run", "DS", "--out", "EQ", "--t", "p200"}, "select.t"},
		{[]string{"run", "DS", "--out", "EQ", "--keep-min", "x"}, "--keep-min"},
		{[]string{"run", "DS", "--out", "EQ", "--policy", "lvis"}, "equalize.policy"},
		{[]string{"equalize", "DS", "--out", "EQ", "--part", "0/2"}, "--part splits"},
		{[]string{"run", "DS", "--out", "EQ", "--config", "/nonexistent.yaml"}, "read config"},
	}
	for _, tc := range bad {
		if _, _, _, _, err := parseOffline(tc.args); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("parseOffline(%q) = %v, want an error containing %q", tc.args, err, tc.err)
		}
	}
}
