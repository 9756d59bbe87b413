package augment

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFaceProfileMatchesDesign(t *testing.T) {
	p := mustBuiltin(t, "face")
	want := []op{
		{kind: kindFlip, p: 0.5},
		{kind: kindCrop, p: 1, scale: span{0.9, 1}, ratio: span{0.95, 1.05}},
		{kind: kindJitter, p: 0.2, brightness: 0.2, contrast: 0.2, saturation: 0.2},
		{kind: kindGrayscale, p: 0.1},
		{kind: kindBlur, p: 0.1, sigma: span{0.5, 1.5}},
		{kind: kindLowres, p: 0.1, scale: span{0.25, 1}},
	}
	if !reflect.DeepEqual(p.ops, want) {
		t.Errorf("face profile ops\n got %+v\nwant %+v", p.ops, want)
	}
	if none := mustBuiltin(t, "none"); len(none.ops) != 0 {
		t.Errorf("none profile has ops: %+v", none.ops)
	}
	if got := ProfileNames(); !reflect.DeepEqual(got, []string{"face", "none"}) {
		t.Errorf("ProfileNames() = %v", got)
	}
}

func TestProfileValidation(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"probability 1.5", `ops: [{op: flip, p: 1.5}]`, "probability p=1.5 is outside [0, 1]"},
		{"negative probability", `ops: [{op: grayscale, p: -0.1}]`, "outside [0, 1]"},
		{"empty range", `ops: [{op: blur, sigma: [1.5, 0.5]}]`, "empty range"},
		{"empty crop range", `ops: [{op: crop, scale: [1, 0.9]}]`, "empty range"},
		{"unknown op name", `ops: [{op: sharpen}]`, `unknown op name "sharpen"`},
		{"unknown field", `ops: [{op: flip, prob: 0.5}]`, "field prob not found"},
		{"field of another op", `ops: [{op: flip, sigma: [1, 2]}]`, `field "sigma" does not apply to flip`},
		{"one-number range", `ops: [{op: lowres, scale: [0.5]}]`, "must be a range [min, max]"},
		{"crop scale zero", `ops: [{op: crop, scale: [0, 1]}]`, "outside (0, 1]"},
		{"lowres above one", `ops: [{op: lowres, scale: [0.5, 2]}]`, "outside (0, 1]"},
		{"hue too big", `ops: [{op: jitter, hue: 0.6}]`, "hue=0.6 is outside [0, 0.5]"},
		{"erase value", `ops: [{op: erase, value: 300}]`, "value=300"},
		{"duplicate op", `ops: [{op: flip}, {op: flip}]`, "appears more than once"},
		{"geometry after pixels", `ops: [{op: blur}, {op: crop}]`, "must come before the others"},
		{"not yaml", `ops: [`, "parse profile"},
		{"JSON probability", `{"ops": [{"op": "flip", "p": 1.5}]}`, "outside [0, 1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseProfile([]byte(c.doc), "test")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestLoadProfileYAMLAndJSON(t *testing.T) {
	dir := t.TempDir()
	yamlPath := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(yamlPath, []byte("ops:\n  - op: flip\n    p: 0.25\n  - op: erase\n    p: 0.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfile(yamlPath)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "mine" || len(p.ops) != 2 || p.ops[0].p != 0.25 || p.ops[1].scale != (span{0.02, 0.33}) {
		t.Errorf("loaded %q %+v", p.Name, p.ops)
	}
	// A profile written as JSON reads back to the same ops, through a file and ResolveProfile.
	face := mustBuiltin(t, "face")
	data, err := json.Marshal(face)
	if err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(dir, "copy.json")
	if err := os.WriteFile(jsonPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ResolveProfile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if back.Name != "face" || !reflect.DeepEqual(back.ops, face.ops) {
		t.Errorf("JSON round trip: %q %+v, want %+v", back.Name, back.ops, face.ops)
	}
	if _, err := ResolveProfile("fancy"); err == nil || !strings.Contains(err.Error(), "not a built-in") {
		t.Errorf("ResolveProfile(fancy): %v", err)
	}
	if _, err := ResolveProfile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("ResolveProfile of a missing file: no error")
	}
}

func FuzzParseProfile(f *testing.F) {
	f.Add([]byte(faceProfile))
	f.Add([]byte(everyOpProfile))
	f.Add([]byte(`{"name": "j", "ops": [{"op": "blur", "sigma": [0.5, 1e308]}]}`))
	f.Add([]byte(`ops: [{op: crop, scale: [.nan, 1]}]`))
	img := encodePNG(f, face(1, 40, 30))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProfile(data, "fuzz")
		if err != nil {
			return
		}
		// Whatever validates must run, and write back to a document that validates the same.
		doc, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseProfile(doc, "")
		if err != nil || !reflect.DeepEqual(back.ops, p.ops) {
			t.Fatalf("round trip of %s: %v", doc, err)
		}
		dst := make([]byte, 16*16*3)
		for pos := range int64(4) {
			if err := NewWorker(p, 16, 16).Process(img, 1, 0, pos, dst); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeJPEG(f, face(1, 24, 20), 80))
	f.Add(encodePNG(f, face(2, 9, 7)))
	f.Add(jpegWithSize(f, 60000, 60000))
	f.Add(pngWithSize(f, 10000, 10000))
	if webp, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp"); err == nil {
		f.Add(webp)
	}
	f.Add([]byte("GIF89a"))
	f.Add([]byte("BM"))
	every, err := ParseProfile([]byte(everyOpProfile), "")
	if err != nil {
		f.Fatal(err)
	}
	// A worker on the AVX2 kernels (where the CPU has them) and one on the portable ones must
	// agree on whatever decodes: the differential catches a kernel that goes wrong at some size.
	fast, slow := NewWorker(every, 32, 40), NewWorker(every, 32, 40)
	slow.resize.scalar, slow.blur.scalar, slow.color.scalar = true, true, true
	got, want := make([]byte, 32*40*3), make([]byte, 32*40*3)
	f.Fuzz(func(t *testing.T, data []byte) {
		format, width, height, err := DecodeConfig(data)
		if err == nil && (format == "" || width <= 0 || height <= 0 || width*height > MaxPixels) {
			t.Fatalf("DecodeConfig = %q %dx%d with no error", format, width, height)
		}
		if img, err := DecodeImage(data); err == nil && img.Bounds().Empty() {
			t.Fatal("DecodeImage returned an empty image with no error")
		}
		// Must not panic; errors are expected.
		errFast, errSlow := fast.Process(data, 1, 0, 0, got), slow.Process(data, 1, 0, 0, want)
		if (errFast == nil) != (errSlow == nil) {
			t.Fatalf("AVX2 worker: %v, portable worker: %v", errFast, errSlow)
		}
		if errFast == nil && !bytes.Equal(got, want) {
			t.Fatalf("%s %dx%d: the AVX2 and portable kernels differ", format, width, height)
		}
	})
}
