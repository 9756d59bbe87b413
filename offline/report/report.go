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

// Truth scores S2's cleaning against planted noise, with "removed" as the positive class: a photo
// relabeled to another identity counts as removed from the one it was filed under.
type Truth struct {
	CleanTotal       int         `json:"clean_total"`
	CleanKept        int         `json:"clean_kept"`
	NoiseTotal       int         `json:"noise_total"`
	NoiseRemoved     int         `json:"noise_removed"`
	Precision        float64     `json:"precision"`
	Recall           float64     `json:"recall"`
	CleanKeptRate    float64     `json:"clean_kept_rate"`
	NoiseRemovedRate float64     `json:"noise_removed_rate"`
	Kinds            []KindScore `json:"kinds"` // one row per kind of photo the truth lists
}

// KindScore is S2's decisions on the photos of one kind (clean, mislabeled, junk, outsider).
type KindScore struct {
	Kind    string `json:"kind"`
	Total   int    `json:"total"`
	Kept    int    `json:"kept"`    // in the base of the identity they are filed under
	Removed int    `json:"removed"` // out of it: dropped, or relabeled
	// Of the removed, those relabeled, and of these, those moved to the identity they truly show.
	Relabeled      int     `json:"relabeled,omitempty"`
	RelabeledRight int     `json:"relabeled_right,omitempty"`
	RemovedRate    float64 `json:"removed_rate"`
}

// Audit is one photo S2 took out of the identity it is filed under, with the most typical photos
// (highest cosine to the centre) of that identity and, when it is nearer another identity, of that
// one. IDs are sample ids in the raw dataset.
type Audit struct {
	ID               int64   `json:"id"`
	Source           string  `json:"source"`
	Identity         string  `json:"identity"`
	Reason           string  `json:"reason"`
	Cosine           float64 `json:"cosine"` // to the centre of the identity it is filed under
	Typical          []int64 `json:"typical"`
	Suggested        string  `json:"suggested,omitempty"`
	SuggestedCosine  float64 `json:"suggested_cosine,omitempty"`
	SuggestedTypical []int64 `json:"suggested_typical,omitempty"`
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
	Dataset string    `json:"dataset"`
	Output  string    `json:"output"`
	Model   string    `json:"model"`
	Created time.Time `json:"created"`
	Raw     struct {
		Samples    int   `json:"samples"`
		Identities int   `json:"identities"`
		Sizes      []int `json:"sizes"` // photos per identity before S2
	} `json:"raw"`
	S2 struct {
		TSpec       string  `json:"t_spec"`
		T           float64 `json:"t"`
		KeepMin     int     `json:"keep_min"`
		Robust      bool    `json:"robust"`
		Kept        int     `json:"kept"`
		Removed     int     `json:"removed"`
		ImpostorFAR float64 `json:"impostor_far"`
		// Overlap is the share of impostor cosines above the median genuine cosine; Weak says the
		// pre-model was judged too weak for the data (overlap above the limit), and S2 cleaned
		// conservatively.
		Overlap float64 `json:"overlap"`
		Weak    bool    `json:"weak,omitempty"`
		Margin  float64 `json:"margin"`
		Action  string  `json:"action"`
		// Of the removed: at most t, nearer another identity by more than the margin, and the
		// photos that did not decode (no cosine, outside Cosine and Quantiles).
		BelowT      int `json:"below_t"`
		NearerOther int `json:"nearer_other"`
		Undecodable int `json:"undecodable,omitempty"`
		Relabeled   int `json:"relabeled,omitempty"` // of the kept
		// Cosine is the genuine side (photos to the centre of their identity), Impostor photos to
		// other identities' centres (all pairs, or a sample).
		Impostor  Histogram          `json:"impostor"`
		Cosine    Histogram          `json:"cosine"`
		Quantiles map[string]float64 `json:"quantiles"`
		Truth     *Truth             `json:"truth,omitempty"`
		// Audit is a sample of the removed (and relabeled) photos, worst first per reason, to check
		// by eye beside typical photos of their identity.
		Audit []Audit `json:"audit,omitempty"`
	} `json:"s2"`
	S3 struct {
		ASpec             string    `json:"a_spec"`
		BSpec             string    `json:"b_spec"`
		A                 float64   `json:"a"`
		B                 float64   `json:"b"`
		N                 int       `json:"n"`
		MaxAttempts       int       `json:"max_attempts"`
		Attempts          int       `json:"attempts"`
		Accepted          int       `json:"accepted"`
		AcceptPerIdentity []float64 `json:"accept_per_identity"`
		Cosine            Histogram `json:"cosine"`
		Examples          []Example `json:"examples"`
	} `json:"s3"`
	S4 struct {
		Policy     string  `json:"policy"`
		TargetSpec string  `json:"target_spec"`
		Target     int     `json:"target"`
		Cap        int     `json:"cap"`
		Before     Balance `json:"before"`
		After      Balance `json:"after"`
		Quotas     []int   `json:"quotas"`
	} `json:"s4"`
	Timings map[string]float64 `json:"timings"` // seconds per stage
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
