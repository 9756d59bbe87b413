package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/internal/testdataset"
)

// writePlanDataset writes rows samples over classes identities, ids 100, 103,
// 106, ..., label = row % classes, every identity with the given quota.
func writePlanDataset(t *testing.T, kind string, rows, classes int, quota int32) string {
	t.Helper()
	return testdataset.Write(t, filepath.Join(t.TempDir(), "ds"), testdataset.Options{Kind: kind, Identities: classes,
		PerIdentity: rows / classes, Interleave: true, FirstID: 100, IDStep: 3, Quota: quota,
		Photo: func(label, i int) []byte { return []byte{byte(i*classes + label)} }})
}

func planOutput(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := writePlan(&out, args); err != nil {
		t.Fatalf("plan %v: %v", args, err)
	}
	return out.String()
}

func TestPlanRanksCoverTheDataset(t *testing.T) {
	dir := writePlanDataset(t, arrowio.KindRaw, 24, 4, 0)
	var all []string
	for rank := range 2 {
		all = append(all, strings.Fields(planOutput(t, dir, "--rank", strconv.Itoa(rank), "--world", "2", "--batch", "4", "--seed", "7"))...)
	}
	var want []string
	for row := range 24 {
		want = append(want, strconv.Itoa(100+3*row))
	}
	slices.Sort(all)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Fatalf("ranks printed ids %v, want every id once: %v", all, want)
	}
	full := strings.Fields(planOutput(t, dir, "--world", "2", "--batch", "4", "--seed", "7"))
	resumed := strings.Fields(planOutput(t, dir, "--world", "2", "--batch", "4", "--seed", "7", "--start", "5"))
	if !slices.Equal(resumed, full[5:]) {
		t.Fatalf("--start 5 printed %v, want %v", resumed, full[5:])
	}
}

func TestPlanJSONOfEqualizedDatasetIsBalanced(t *testing.T) {
	dir := writePlanDataset(t, arrowio.KindEqualized, 20, 4, 6)
	var got struct {
		Mode      string  `json:"mode"`
		Batch     int     `json:"batch"`
		Start     int     `json:"start"`
		Batches   int     `json:"batches"`
		IDs       []int64 `json:"ids"`
		Labels    []int32 `json:"labels"`
		Positions []int   `json:"positions"`
	}
	if err := json.Unmarshal([]byte(planOutput(t, dir, "--json", "--batch", "6", "--start", "2")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Mode != "balanced" || got.Batch != 6 || got.Start != 2 || got.Batches != 4 || len(got.IDs) != 22 {
		t.Fatalf("got mode %q batch %d start %d batches %d with %d ids; want balanced 6 2 4 with 22", got.Mode, got.Batch, got.Start, got.Batches, len(got.IDs))
	}
	for i, id := range got.IDs {
		if row := (id - 100) / 3; int32(row%4) != got.Labels[i] || got.Positions[i] != 2+i {
			t.Fatalf("entry %d: id %d label %d position %d", i, id, got.Labels[i], got.Positions[i])
		}
	}
}

func TestPlanRejectsBadInput(t *testing.T) {
	dir := writePlanDataset(t, arrowio.KindRaw, 12, 3, 0)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{dir, "--mode", "pk", "--batch", "4"}, "--p"},
		{[]string{dir, "--mode", "shuffle"}, "unknown sampling mode"},
		{[]string{dir, "--rank", "2", "--world", "2", "--batch", "2"}, "rank 2 outside"},
		{[]string{dir, "--batch", "4", "--start", "13"}, "start 13 outside"},
		{[]string{dir}, "batch size 256 exceeds"},
		{[]string{filepath.Join(dir, "missing"), "--batch", "2"}, "missing"},
	} {
		var out bytes.Buffer
		if err := writePlan(&out, tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("plan %v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}
