package main

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facestream/facestream/arrowio"
)

// gradientJPEG encodes a w×h colour gradient with a bright disc off centre, so that flips,
// crops and colour changes all show.
func gradientJPEG(t *testing.T, w, h, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8(seed * 40), 255}
			if dx, dy := x-w/3, y-h/3; dx*dx+dy*dy < w*h/25 {
				c = color.RGBA{250, 230, 200, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeImageDataset(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ds")
	w, err := arrowio.Create(dir, arrowio.WriterOptions{Kind: "raw"})
	if err != nil {
		t.Fatal(err)
	}
	for row := range n {
		s := arrowio.Sample{ID: int64(row), Label: int32(row % 2), Image: gradientJPEG(t, 60+row, 70, row), Parent: -1, Weight: 1, Sim: float32(math.NaN())}
		if err := w.Append(&s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Finish([]arrowio.Class{{Label: 0, Identity: "a"}, {Label: 1, Identity: "b"}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestAugmentPreview(t *testing.T) {
	ds := writeImageDataset(t, 5)
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
		if err := os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i))+".jpg"), gradientJPEG(t, 112, 112, i), 0o644); err != nil {
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
