package main

import (
	"os"
	"strings"
	"testing"
)

// TestURLLocationsAreRefused: a location with a scheme other than s3:// (and an s3:// one where
// a file, not a dataset, is named) is refused by every command that reads or writes a dataset, before
// anything is written (filepath would take gs://b/ds for the folder gs:).
func TestURLLocationsAreRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		run  func([]string) error
		args []string
	}{
		{runImport, []string{"imagefolder", "photos", "--out", "gs://bucket/ds"}},
		{runImport, []string{"imagefolder", "s3://bucket/photos", "--out", "ds"}},
		{runInspect, []string{"gs://bucket/ds"}},
		{runPlan, []string{"http://host/ds"}},
		{runExport, []string{"ds", "--parquet", "s3://bucket/x.parquet"}},
		{runOffline, []string{"run", "gs://bucket/raw", "--out", "eq", "--model", "m.onnx"}},
		{runOffline, []string{"run", "raw", "--out", "gs://bucket/eq", "--model", "m.onnx"}},
		{runOffline, []string{"embed", "raw", "--out", "eq", "--work", "gs://bucket/work", "--model", "m.onnx"}},
		{runServe, []string{"gs://bucket/ds"}},
	} {
		err := tc.run(tc.args)
		if err == nil || !strings.Contains(err.Error(), "locations are not supported") {
			t.Errorf("%q: %v, want the location refused", tc.args, err)
		}
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("refused commands wrote %v", entries)
	}
}
