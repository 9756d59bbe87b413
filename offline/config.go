package offline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config holds every parameter of the offline stages; one YAML file (examples/pipeline.yaml) sets
// them all, command-line flags override single values.
type Config struct {
	Model    string         `yaml:"model"`   // pre-model (.onnx) of S1
	OrtLib   string         `yaml:"ort_lib"` // ONNX Runtime shared library; "" → embed.LibraryPath
	Truth    string         `yaml:"truth"`   // truth.csv of planted noise; "" → looked up beside the raw source
	Seed     uint64         `yaml:"seed"`    // seeds S3's recipes
	Embed    EmbedConfig    `yaml:"embed"`
	Select   SelectConfig   `yaml:"select"`
	Augment  AugmentConfig  `yaml:"augment"`
	Equalize EqualizeConfig `yaml:"equalize"`
}

// EmbedConfig is how photos become embeddings (S2 and S3).
type EmbedConfig struct {
	Batch   int        `yaml:"batch"`
	Mean    [3]float32 `yaml:"mean"`
	Std     [3]float32 `yaml:"std"`
	BGR     bool       `yaml:"bgr"`
	Threads int        `yaml:"threads"` // ORT intra-op threads, 0: automatic; does not change results
	Workers int        `yaml:"workers"` // Go decode workers, 0: automatic; does not change results
}

// SelectConfig is S2: which photos form an identity's base.
type SelectConfig struct {
	// T is the cosine to the centre a photo must exceed: "auto" (from the impostor cosines, see
	// ImpostorFAR), an absolute cosine, or a quantile (p10) of all photos' cosines.
	T Spec `yaml:"t"`
	// ImpostorFAR is t: auto's false-accept rate: the fraction of impostor cosines (photos to
	// other identities' centres) above t.
	ImpostorFAR float64 `yaml:"impostor_far"`
	KeepMin     int     `yaml:"keep_min"` // the best photos of an identity kept whatever their cosine
	Robust      bool    `yaml:"robust"`   // recompute each centre from its first-pass base, so noise does not pull it
	// Nearest checks every photo against every identity's centre: a photo nearer another
	// identity's centre than its own by more than Margin is out, whatever its own cosine.
	Nearest bool    `yaml:"nearest"`
	Margin  float64 `yaml:"margin"`
	// Action is what becomes of a photo nearer another identity: drop, or relabel (it joins that
	// identity when its cosine there looks like a member's; else it is dropped).
	Action string `yaml:"action"`
	// WeakOverlap is the share of impostor cosines above the median genuine cosine beyond which
	// the pre-model is judged too weak for the data: S2 then skips the margin rule and removes at
	// most 2 % of the photos by t. 0 turns the guard off.
	WeakOverlap float64 `yaml:"weak_overlap"`
}

// AugmentConfig is S3: offline augmentation of the base, kept by cosine window.
type AugmentConfig struct {
	// A and B bound the cosine of a kept candidate to its centre, a < cos < b: absolute, "t", or a
	// quantile of the base's cosines.
	A        Spec `yaml:"a"`
	B        Spec `yaml:"b"`
	N        Spec `yaml:"n"`        // kept candidates wanted per identity; "auto": up to S4's target
	Attempts int  `yaml:"attempts"` // candidates tried per wanted image before the identity gives up
	MinOps   int  `yaml:"min_ops"`  // recipe ops per candidate
	MaxOps   int  `yaml:"max_ops"`
	Quality  int  `yaml:"quality"` // JPEG quality of kept candidates
}

// EqualizeConfig is S4: quotas and weights.
type EqualizeConfig struct {
	Policy string `yaml:"policy"` // balanced | sqrt
	Target Spec   `yaml:"target"` // "median" clean identity size, a number, or a quantile of clean sizes
	Cap    Spec   `yaml:"cap"`    // most draws per epoch of one identity; "none", a number or a quantile of clean sizes
}

// Policies of S4.
const (
	PolicyBalanced = "balanced"
	PolicySqrt     = "sqrt"
)

// DefaultConfig is the configuration when nothing overrides it. Why each default is what it
// is, with the figures on real faces and synth: offline/README.md, "Parameters and why these
// defaults" (the one place that says it).
func DefaultConfig() Config {
	return Config{
		Seed: 1,
		Embed: EmbedConfig{
			Batch: 64,
			Mean:  [3]float32{127.5, 127.5, 127.5},
			Std:   [3]float32{127.5, 127.5, 127.5},
		},
		Select: SelectConfig{T: autoSpec, ImpostorFAR: 0.05, KeepMin: 1, Robust: true, Nearest: true, Margin: 0.12,
			Action: ActionDrop, WeakOverlap: 0.01},
		Augment:  AugmentConfig{A: "t", B: "p95", N: "auto", Attempts: 5, MinOps: 1, MaxOps: 3, Quality: 95},
		Equalize: EqualizeConfig{Policy: PolicyBalanced, Target: "median", Cap: "none"},
	}
}

// LoadConfig reads a YAML file over the defaults. Unknown keys are errors: a misspelt parameter
// silently left at its default would be worse.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes YAML over DefaultConfig and validates the result.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("more than one YAML document")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks every parameter's range and syntax.
func (c *Config) Validate() error {
	checks := []struct {
		name string
		err  error
	}{
		{"select.t", c.Select.T.validate(autoSpec)},
		{"augment.a", c.Augment.A.validate("t")},
		{"augment.b", c.Augment.B.validate("t")},
		{"equalize.target", c.Equalize.Target.validate("median")},
		{"equalize.cap", c.Equalize.Cap.validate("none")},
	}
	for _, ch := range checks {
		if ch.err != nil {
			return fmt.Errorf("%s: %w", ch.name, ch.err)
		}
	}
	if _, err := c.Augment.fixedN(); err != nil {
		return fmt.Errorf("augment.n: %w", err)
	}
	switch {
	case c.Embed.Batch < 1:
		return fmt.Errorf("embed.batch %d: want ≥ 1", c.Embed.Batch)
	case c.Embed.Std[0] == 0 || c.Embed.Std[1] == 0 || c.Embed.Std[2] == 0:
		return fmt.Errorf("embed.std %v: want non-zero values", c.Embed.Std)
	case c.Select.KeepMin < 0:
		return fmt.Errorf("select.keep_min %d: want ≥ 0", c.Select.KeepMin)
	case !(c.Select.ImpostorFAR > 0 && c.Select.ImpostorFAR < 1):
		return fmt.Errorf("select.impostor_far %g: want 0 < far < 1", c.Select.ImpostorFAR)
	case !(c.Select.Margin >= 0 && c.Select.Margin < 2):
		return fmt.Errorf("select.margin %g: want 0 ≤ margin < 2", c.Select.Margin)
	case !(c.Select.WeakOverlap >= 0 && c.Select.WeakOverlap <= 1):
		return fmt.Errorf("select.weak_overlap %g: want 0..1", c.Select.WeakOverlap)
	case c.Select.Action != ActionDrop && c.Select.Action != ActionRelabel:
		return fmt.Errorf("select.action %q: want %s or %s", c.Select.Action, ActionDrop, ActionRelabel)
	case c.Augment.Attempts < 1:
		return fmt.Errorf("augment.attempts %d: want ≥ 1", c.Augment.Attempts)
	case c.Augment.MinOps < 1 || c.Augment.MaxOps < c.Augment.MinOps:
		return fmt.Errorf("augment.min_ops %d, max_ops %d: want 1 ≤ min_ops ≤ max_ops", c.Augment.MinOps, c.Augment.MaxOps)
	case c.Augment.Quality < 1 || c.Augment.Quality > 100:
		return fmt.Errorf("augment.quality %d: want 1..100", c.Augment.Quality)
	case c.Equalize.Policy != PolicyBalanced && c.Equalize.Policy != PolicySqrt:
		return fmt.Errorf("equalize.policy %q: want %s or %s", c.Equalize.Policy, PolicyBalanced, PolicySqrt)
	}
	return nil
}

// fixedN is the configured n, or -1 for "auto".
func (a *AugmentConfig) fixedN() (int, error) {
	s := strings.TrimSpace(string(a.N))
	if s == "auto" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q: want auto or a count ≥ 0", s)
	}
	return n, nil
}

// Part is one of N identity ranges, so S2's embedding and S3 run as parallel jobs.
type Part struct{ Index, Count int }

// ParsePart reads "i/N" (0 ≤ i < N).
func ParsePart(s string) (Part, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Part{}, fmt.Errorf("part %q: want i/N with 0 ≤ i < N", s)
	}
	return Part{i, n}, nil
}

// Labels is the part's range of labels out of classes identities: [lo, hi).
func (p Part) Labels(classes int) (lo, hi int) {
	return p.Index * classes / p.Count, (p.Index + 1) * classes / p.Count
}

func (p Part) String() string { return fmt.Sprintf("%05d-of-%05d", p.Index, p.Count) }
