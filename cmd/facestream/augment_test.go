package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facestream/facestream/internal/testdataset"
)

// writeImageDataset writes perIdentity photos of each of two identities, alternately, each photo
// a different size.
func writeImageDataset(t *testing.T, perIdentity int) string {
	t.Helper()
	return testdataset.Write(t, filepath.Join(t.TempDir(), "ds"), testdataset.Options{Identities: 2, PerIdentity: perIdentity,
		Interleave: true, Photo: func(label, i int) []byte { return testdataset.JPEG(t, 60+2*i+label, 70, label, i) }})
}

func TestAugmentPreview(t *testing.T) {
	ds := writeImageDataset(t, 3)
	out := filepath.Join(t.TempDir(), "grid.png")
	// The dataset comes before the flags, as with every dataset command.
	if err := runAugment([]string{"preview", ds, "--profile", "face", "--out", out, "--photos", "3", "--draws", "4", "--size", "32", "--seed", "9"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	grid, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	cell := 32 + previewGutter
	if b := grid.Bounds(); b.Dx() != 5*cell+previewGutter || b.Dy() != 3*cell+previewGutter {
		t.Fatalf("grid is %v, want %dx%d", b.Size(), 5*cell+previewGutter, 3*cell+previewGutter)
	}
	// At least one draw of each photo must differ from the plain resize beside it.
	for row := range 3 {
		plain := cellPixels(grid, 0, row, cell)
		differs := false
		for col := 1; col <= 4; col++ {
			differs = differs || !bytes.Equal(cellPixels(grid, col, row, cell), plain)
		}
		if !differs {
			t.Errorf("row %d: all 4 draws equal the plain photo", row)
		}
	}
}

func cellPixels(img image.Image, col, row, cell int) []byte {
	var px []byte
	for y := range cell - previewGutter {
		for x := range cell - previewGutter {
			r, g, b, _ := img.At(previewGutter+col*cell+x, previewGutter+row*cell+y).RGBA()
			px = append(px, byte(r>>8), byte(g>>8), byte(b>>8))
		}
	}
	return px
}

func TestAugmentErrors(t *testing.T) {
	ds := writeImageDataset(t, 1)
	out := filepath.Join(t.TempDir(), "grid.png")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "want a subcommand"},
		{[]string{"shuffle"}, "unknown augment subcommand"},
		{[]string{"preview", ds}, "--out is required"},
		{[]string{"preview", ds, "--out", out, "--profile", "sparkly"}, "unknown profile"},
		{[]string{"preview", ds, "--out", out, "--draws", "0"}, "positive"},
		{[]string{"preview", filepath.Join(t.TempDir(), "nope"), "--out", out}, "nope"},
		{[]string{"bench", t.TempDir()}, "has no .jpg"},
	} {
		err := silently(t, func() error { return runAugment(c.args) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("augment %q: error %v, want %q", c.args, err, c.want)
		}
	}
}

func TestAugmentBench(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i))+".jpg"), testdataset.JPEG(t, 112, 112, 0, i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link to an image counts; a link to a folder does not.
	if err := os.Symlink(filepath.Join(dir, "fa.jpg"), filepath.Join(dir, "link.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "folder.jpg")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeAugment(&out, []string{"bench", dir, "--seconds", "0.2", "--workers", "2"}); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"files": 4`, `"decode_img_per_s"`, `"process_img_per_s_per_worker"`, `"workers": 2`, `"kernels"`, `"decode_scale": "1/1"`, `"process_img_per_cpu_s"`} {
		if !strings.Contains(out.String(), field) {
			t.Errorf("bench output lacks %s:\n%s", field, out.String())
		}
	}
	// A dangling link is an error that names it.
	if err := os.Symlink(filepath.Join(dir, "gone.jpg"), filepath.Join(dir, "dangling.jpg")); err != nil {
		t.Fatal(err)
	}
	err := writeAugment(&out, []string{"bench", dir, "--seconds", "0.2"})
	if err == nil || !strings.Contains(err.Error(), "dangling.jpg") {
		t.Errorf("dangling link: got %v, want an error naming it", err)
	}
}

// silently runs f with stderr discarded (usage text on errors).
func silently(t *testing.T, f func() error) error {
	t.Helper()
	stderr := os.Stderr
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	os.Stderr = null
	defer func() { os.Stderr = stderr }()
	return f()
}
