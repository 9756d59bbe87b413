package arrowio

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// FormatVersion is the version of the on-disk layout this package reads and writes.
const FormatVersion = 1

// ManifestName is the file whose presence makes a folder a dataset; it is written last.
const ManifestName = "dataset.json"

// Dataset kinds.
const (
	KindRaw       = "raw"
	KindEqualized = "equalized"
)

// FileInfo names a file of the dataset with what a reader checks against.
type FileInfo struct {
	File   string `json:"file"` // relative to the dataset folder
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Stage records how a stage produced (part of) this dataset, so a rerun can tell whether it is stale.
type Stage struct {
	Params      map[string]any `json:"params,omitempty"`
	Fingerprint string         `json:"fingerprint,omitempty"`
	Model       string         `json:"model,omitempty"` // fingerprint of the model used, if any
}

// Manifest is dataset.json.
type Manifest struct {
	FormatVersion int              `json:"format_version"`
	Kind          string           `json:"kind"`
	Source        string           `json:"source"`
	Created       time.Time        `json:"created"`
	Samples       int64            `json:"samples"`
	Identities    int              `json:"identities"`
	ImageHeight   int              `json:"image_height,omitempty"`
	ImageWidth    int              `json:"image_width,omitempty"`
	Counts        map[string]int64 `json:"counts,omitempty"`
	Classes       FileInfo         `json:"classes"`
	Shards        []FileInfo       `json:"shards"`
	Stages        map[string]Stage `json:"stages,omitempty"`
}

// ErrNotDataset is returned for a folder without a manifest.
var ErrNotDataset = errors.New("not a facestream dataset (no " + ManifestName + ")")

// ReadManifest reads and validates dir/dataset.json.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotDataset)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	if m.FormatVersion != FormatVersion {
		return fmt.Errorf("format version %d, this facestream reads %d", m.FormatVersion, FormatVersion)
	}
	if m.Kind != KindRaw && m.Kind != KindEqualized {
		return fmt.Errorf("unknown kind %q", m.Kind)
	}
	var rows int64
	for _, s := range m.Shards {
		if !filepath.IsLocal(s.File) {
			return fmt.Errorf("shard path %q escapes the dataset folder", s.File)
		}
		rows += s.Rows
	}
	if rows != m.Samples {
		return fmt.Errorf("shards hold %d rows, manifest says %d samples", rows, m.Samples)
	}
	if !filepath.IsLocal(m.Classes.File) {
		return fmt.Errorf("classes path %q escapes the dataset folder", m.Classes.File)
	}
	return nil
}

// Count returns a named extra count (0 when absent).
func (m *Manifest) Count(key string) int64 { return m.Counts[key] }

// ContentHashes is the sha256 of classes.arrow and of every shard, in order: two datasets with
// equal hashes hold the same bytes, whatever their manifests' timestamps and stage records.
func (m *Manifest) ContentHashes() []string {
	out := []string{m.Classes.SHA256}
	for _, s := range m.Shards {
		out = append(out, s.SHA256)
	}
	return out
}

func marshalManifest(m *Manifest) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(data, '\n'), nil
}
