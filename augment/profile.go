package augment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Op names accepted in a profile.
const (
	OpFlip      = "flip"      // horizontal flip
	OpCrop      = "crop"      // random resized crop (bilinear), scale and ratio ranges
	OpJitter    = "jitter"    // colour jitter: brightness, contrast, saturation, hue
	OpGrayscale = "grayscale" // luma to all three channels
	OpBlur      = "blur"      // gaussian blur, sigma range
	OpLowres    = "lowres"    // downscale by a factor in scale, then back up
	OpErase     = "erase"     // random erasing of a rectangle (scale, ratio, fill value)
)

// knownOps lists the op names for error messages.
const knownOps = "flip, crop, jitter, grayscale, blur, lowres, erase"

// OpSpec is one op of a profile as written in YAML or JSON. Fields an op does not use must be absent.
//
//	flip:      p
//	crop:      p, scale [min,max] (area fraction), ratio [min,max] (width/height)
//	jitter:    p, brightness, contrast, saturation (0..1), hue (0..0.5)
//	grayscale: p
//	blur:      p, sigma [min,max] (pixels of the output)
//	lowres:    p, scale [min,max] (linear factor, 0<scale<=1)
//	erase:     p, scale [min,max] (area fraction), ratio [min,max], value (0..255 fill)
//
// p defaults to 1. A range is a two-element list with min <= max (min == max draws a constant).
type OpSpec struct {
	Op         string    `yaml:"op" json:"op"`
	P          *float64  `yaml:"p,omitempty" json:"p,omitempty"`
	Scale      []float64 `yaml:"scale,omitempty" json:"scale,omitempty"`
	Ratio      []float64 `yaml:"ratio,omitempty" json:"ratio,omitempty"`
	Sigma      []float64 `yaml:"sigma,omitempty" json:"sigma,omitempty"`
	Brightness *float64  `yaml:"brightness,omitempty" json:"brightness,omitempty"`
	Contrast   *float64  `yaml:"contrast,omitempty" json:"contrast,omitempty"`
	Saturation *float64  `yaml:"saturation,omitempty" json:"saturation,omitempty"`
	Hue        *float64  `yaml:"hue,omitempty" json:"hue,omitempty"`
	Value      *float64  `yaml:"value,omitempty" json:"value,omitempty"`
}

// profileFile is the document LoadProfile and ParseProfile read.
type profileFile struct {
	Name string   `yaml:"name" json:"name"`
	Ops  []OpSpec `yaml:"ops" json:"ops"`
}

// opKind identifies a validated op.
type opKind uint8

const (
	kindFlip opKind = iota
	kindCrop
	kindJitter
	kindGrayscale
	kindBlur
	kindLowres
	kindErase
)

// span is a validated closed range [lo, hi].
type span struct{ lo, hi float64 }

// op is a validated op with its defaults filled in.
type op struct {
	kind       opKind
	p          float64
	scale      span // crop and erase: area fraction; lowres: linear factor
	ratio      span // crop and erase: aspect ratio
	sigma      span
	brightness float64
	contrast   float64
	saturation float64
	hue        float64
	value      uint8
}

// Profile is a validated online pipeline (named ops with probabilities and ranges).
// The geometric ops (flip, crop) come first and run fused with the resize; the others run in order.
type Profile struct {
	Name string
	ops  []op
	spec []OpSpec
}

// Spec returns the profile's ops with defaults filled in, as ParseProfile would read them
// (for /v1/info and for writing a profile back out).
func (p *Profile) Spec() []OpSpec { return slices.Clone(p.spec) }

// MarshalJSON writes the profile as the document ParseProfile reads.
func (p *Profile) MarshalJSON() ([]byte, error) {
	return json.Marshal(profileFile{Name: p.Name, Ops: p.spec})
}

// faceProfile is DESIGN.md's default online profile for aligned face crops.
const faceProfile = `
name: face
ops:
  - {op: flip, p: 0.5}
  - {op: crop, scale: [0.9, 1.0], ratio: [0.95, 1.05]}
  - {op: jitter, p: 0.2, brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0}
  - {op: grayscale, p: 0.1}
  - {op: blur, p: 0.1, sigma: [0.5, 1.5]}
  - {op: lowres, p: 0.1, scale: [0.25, 1.0]}
`

// noneProfile decodes and resizes only.
const noneProfile = `
name: none
ops: []
`

// builtinDoc returns the document of the built-in profile name.
func builtinDoc(name string) (string, bool) {
	switch name {
	case "face":
		return faceProfile, true
	case "none":
		return noneProfile, true
	}
	return "", false
}

// ProfileNames returns the built-in profile names, sorted.
func ProfileNames() []string { return []string{"face", "none"} }

// BuiltinProfile returns the built-in profile called name: "face" (DESIGN.md) or "none" (decode and resize only).
func BuiltinProfile(name string) (*Profile, error) {
	doc, ok := builtinDoc(name)
	if !ok {
		return nil, fmt.Errorf("unknown profile %q (built-in: %s)", name, strings.Join(ProfileNames(), ", "))
	}
	return ParseProfile([]byte(doc), name)
}

// ResolveProfile returns the built-in profile nameOrPath, or loads it from a YAML or JSON file
// when it is not a built-in name.
func ResolveProfile(nameOrPath string) (*Profile, error) {
	if _, ok := builtinDoc(nameOrPath); ok {
		return BuiltinProfile(nameOrPath)
	}
	if !strings.ContainsAny(nameOrPath, `/\.`) {
		return nil, fmt.Errorf("unknown profile %q: not a built-in (%s) nor a file path", nameOrPath, strings.Join(ProfileNames(), ", "))
	}
	return LoadProfile(nameOrPath)
}

// LoadProfile reads and validates a profile from a YAML or JSON file. A file without a name
// takes its base name without extension.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	p, err := ParseProfile(data, name)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	return p, nil
}

// ParseProfile reads and validates a profile from YAML or JSON (JSON is read as YAML).
// name is used when the document has no name of its own.
func ParseProfile(data []byte, name string) (*Profile, error) {
	var doc profileFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse profile: %w", err)
	}
	if doc.Name == "" {
		doc.Name = name
	}
	if doc.Name == "" {
		return nil, errors.New("profile has no name")
	}
	p := &Profile{Name: doc.Name}
	seen := make(map[string]bool, len(doc.Ops))
	for i, s := range doc.Ops {
		o, norm, err := compileOp(s)
		if err != nil {
			return nil, fmt.Errorf("profile %q: op %d (%s): %w", doc.Name, i+1, s.Op, err)
		}
		if seen[s.Op] {
			return nil, fmt.Errorf("profile %q: op %d (%s): appears more than once", doc.Name, i+1, s.Op)
		}
		seen[s.Op] = true
		if o.geometric() && i > 0 && !p.ops[i-1].geometric() {
			return nil, fmt.Errorf("profile %q: op %d (%s): geometric ops (flip, crop) must come before the others", doc.Name, i+1, s.Op)
		}
		p.ops = append(p.ops, o)
		p.spec = append(p.spec, norm)
	}
	return p, nil
}

func (o op) geometric() bool { return o.kind == kindFlip || o.kind == kindCrop }

// opParams says which optional fields an op reads; ok is false for an unknown op.
func opParams(name string) (fields []string, ok bool) {
	switch name {
	case OpFlip, OpGrayscale:
		return nil, true
	case OpCrop:
		return []string{"scale", "ratio"}, true
	case OpJitter:
		return []string{"brightness", "contrast", "saturation", "hue"}, true
	case OpBlur:
		return []string{"sigma"}, true
	case OpLowres:
		return []string{"scale"}, true
	case OpErase:
		return []string{"scale", "ratio", "value"}, true
	}
	return nil, false
}

// compileOp validates s and returns the op and its normalized spec (defaults filled in).
func compileOp(s OpSpec) (op, OpSpec, error) {
	allowed, ok := opParams(s.Op)
	if !ok {
		return op{}, s, fmt.Errorf("unknown op name %q (known: %s)", s.Op, knownOps)
	}
	for _, f := range []struct {
		name    string
		present bool
	}{
		{"scale", s.Scale != nil}, {"ratio", s.Ratio != nil}, {"sigma", s.Sigma != nil},
		{"brightness", s.Brightness != nil}, {"contrast", s.Contrast != nil}, {"saturation", s.Saturation != nil},
		{"hue", s.Hue != nil}, {"value", s.Value != nil},
	} {
		if field := f.name; f.present && !slices.Contains(allowed, field) {
			return op{}, s, fmt.Errorf("field %q does not apply to %s (fields: %s)", field, s.Op, strings.Join(append([]string{"p"}, allowed...), ", "))
		}
	}
	o := op{p: 1}
	if s.P != nil {
		o.p = *s.P
	}
	if !(o.p >= 0 && o.p <= 1) {
		return op{}, s, fmt.Errorf("probability p=%g is outside [0, 1]", o.p)
	}
	var err error
	switch s.Op {
	case OpFlip:
		o.kind = kindFlip
	case OpGrayscale:
		o.kind = kindGrayscale
	case OpCrop:
		o.kind = kindCrop
		if o.scale, err = rangeParam("scale", s.Scale, span{0.08, 1}, 0, 1, false); err != nil {
			return op{}, s, err
		}
		if o.ratio, err = rangeParam("ratio", s.Ratio, span{3.0 / 4, 4.0 / 3}, 0, math.Inf(1), false); err != nil {
			return op{}, s, err
		}
	case OpJitter:
		o.kind = kindJitter
		for _, f := range []struct {
			name string
			v    *float64
			dst  *float64
			max  float64
		}{
			{"brightness", s.Brightness, &o.brightness, 1},
			{"contrast", s.Contrast, &o.contrast, 1},
			{"saturation", s.Saturation, &o.saturation, 1},
			{"hue", s.Hue, &o.hue, 0.5},
		} {
			if f.v == nil {
				continue
			}
			if !(*f.v >= 0 && *f.v <= f.max) {
				return op{}, s, fmt.Errorf("%s=%g is outside [0, %g]", f.name, *f.v, f.max)
			}
			*f.dst = *f.v
		}
	case OpBlur:
		o.kind = kindBlur
		if o.sigma, err = rangeParam("sigma", s.Sigma, span{0.1, 2}, 0, 20, true); err != nil {
			return op{}, s, err
		}
	case OpLowres:
		o.kind = kindLowres
		if o.scale, err = rangeParam("scale", s.Scale, span{0.25, 1}, 0, 1, false); err != nil {
			return op{}, s, err
		}
	case OpErase:
		o.kind = kindErase
		if o.scale, err = rangeParam("scale", s.Scale, span{0.02, 0.33}, 0, 1, false); err != nil {
			return op{}, s, err
		}
		if o.ratio, err = rangeParam("ratio", s.Ratio, span{0.3, 3.3}, 0, math.Inf(1), false); err != nil {
			return op{}, s, err
		}
		if s.Value != nil {
			v := *s.Value
			if !(v >= 0 && v <= 255) || v != math.Trunc(v) {
				return op{}, s, fmt.Errorf("value=%g is not an integer in [0, 255]", v)
			}
			o.value = uint8(v)
		}
	}
	return o, o.spec(s.Op), nil
}

// rangeParam validates a [min, max] range: two finite numbers, lo <= hi, lo above low (or equal
// when lowInclusive) and hi at most high. A missing range takes def.
func rangeParam(name string, v []float64, def span, low, high float64, lowInclusive bool) (span, error) {
	if v == nil {
		return def, nil
	}
	if len(v) != 2 {
		return span{}, fmt.Errorf("%s must be a range [min, max], got %d numbers", name, len(v))
	}
	r := span{v[0], v[1]}
	if math.IsNaN(r.lo) || math.IsNaN(r.hi) || math.IsInf(r.lo, 0) || math.IsInf(r.hi, 0) {
		return span{}, fmt.Errorf("%s [%g, %g] is not finite", name, r.lo, r.hi)
	}
	if r.lo > r.hi {
		return span{}, fmt.Errorf("%s [%g, %g] is an empty range (min > max)", name, r.lo, r.hi)
	}
	if r.lo < low || (r.lo == low && !lowInclusive) || r.hi > high {
		lowBracket := "("
		if lowInclusive {
			lowBracket = "["
		}
		return span{}, fmt.Errorf("%s [%g, %g] is outside %s%g, %g]", name, r.lo, r.hi, lowBracket, low, high)
	}
	return r, nil
}

// spec writes o back as a fully specified OpSpec.
func (o op) spec(name string) OpSpec {
	p := o.p
	s := OpSpec{Op: name, P: &p}
	rng := func(r span) []float64 { return []float64{r.lo, r.hi} }
	num := func(v float64) *float64 { return &v }
	switch o.kind {
	case kindCrop:
		s.Scale, s.Ratio = rng(o.scale), rng(o.ratio)
	case kindJitter:
		s.Brightness, s.Contrast, s.Saturation, s.Hue = num(o.brightness), num(o.contrast), num(o.saturation), num(o.hue)
	case kindBlur:
		s.Sigma = rng(o.sigma)
	case kindLowres:
		s.Scale = rng(o.scale)
	case kindErase:
		s.Scale, s.Ratio, s.Value = rng(o.scale), rng(o.ratio), num(float64(o.value))
	}
	return s
}
