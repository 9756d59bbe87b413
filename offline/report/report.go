// Package report records what the offline stages did to a dataset: report.json for machines and a
// self-contained report.html (inline SVG plots and images, no external URL) for people.
package report

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/facestream/facestream/arrowio"
)

// Folder is the report's folder inside a dataset.
const Folder = "report"

// Truth scores S2's cleaning against planted noise, with "removed" as the positive class.
type Truth struct {
	CleanTotal, CleanKept, NoiseTotal, NoiseRemoved    int
	Precision, Recall, CleanKeptRate, NoiseRemovedRate float64
}

// Example is one kept offline augmentation (ID) of an original photo (Parent).
type Example struct {
	Parent int64   `json:"parent"`
	ID     int64   `json:"id"`
	Recipe string  `json:"recipe"`
	Sim    float32 `json:"sim"`
}

// Report is everything the offline stages record. JSON cannot carry NaN or infinity: a stage that
// has no value for a rate should leave it zero.
type Report struct {
	Dataset, Output, Model string
	Created                time.Time
	Raw                    struct {
		Samples, Identities int
		Sizes               []int // photos per identity before S2
	}
	S2 struct {
		TSpec     string
		T         float64
		KeepMin   int
		Robust    bool
		Kept      int
		Removed   int
		Cosine    Histogram
		Quantiles map[string]float64
		Truth     *Truth
	}
	S3 struct {
		ASpec, BSpec      string
		A, B              float64
		N, MaxAttempts    int
		Attempts          int
		Accepted          int
		AcceptPerIdentity []float64
		Cosine            Histogram
		Examples          []Example
	}
	S4 struct {
		Policy, TargetSpec string
		Target, Cap        int
		Before, After      Balance
		Quotas             []int
	}
	Timings map[string]float64 // seconds per stage
}

// Write writes dir/report/report.json and dir/report/report.html, each atomically. images returns
// the encoded bytes of a sample by id for the grid of augmentation examples; it may be nil, and may
// return nil for an id it does not know (the cell then says so).
func Write(dir string, r *Report, images func(id int64) []byte) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report of %s: %w", dir, err)
	}
	page, err := renderHTML(r, images)
	if err != nil {
		return fmt.Errorf("render report of %s: %w", dir, err)
	}
	out := filepath.Join(dir, Folder)
	if err := arrowio.WriteFileAtomic(filepath.Join(out, "report.json"), append(js, '\n')); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := arrowio.WriteFileAtomic(filepath.Join(out, "report.html"), page); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
