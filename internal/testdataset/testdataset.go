// Package testdataset writes small datasets of synthetic photos for the tests of every package
// that reads one: identities of a few photos each, as tiny gradient JPEGs by default.
package testdataset

import (
	"bytes"
	"cmp"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"

	"github.com/facestream/facestream/arrowio"
)

// Options shape a dataset. Photo i of identity label is sample FirstID + IDStep*row, where row
// counts identity by identity (or round-robin over the identities with Interleave).
type Options struct {
	Kind        string // arrowio.KindRaw when empty
	Source      string // the manifest's source
	Identities  int
	PerIdentity int
	Interleave  bool  // rows go round-robin over the identities instead of identity by identity
	Size        int   // JPEG's photos are Size×Size, as the manifest records; 0: 40, not recorded
	FirstID     int64 // the first sample's id
	IDStep      int64 // 0: 1
	Quota       int32 // every identity's quota (equalized datasets)
	// Photo, when set, gives the encoded bytes of photo i of identity label instead of JPEG's.
	Photo func(label, i int) []byte
}

// Identity is the name of identity label.
func Identity(label int) string { return fmt.Sprintf("person%03d", label) }

// Write writes the dataset into dir (a new folder) and returns dir.
func Write(t testing.TB, dir string, o Options) string {
	t.Helper()
	kind, step := cmp.Or(o.Kind, arrowio.KindRaw), cmp.Or(o.IDStep, 1)
	w, err := arrowio.Create(dir, arrowio.WriterOptions{Kind: kind, Source: o.Source, ImageHeight: o.Size, ImageWidth: o.Size})
	if err != nil {
		t.Fatal(err)
	}
	for row := range o.Identities * o.PerIdentity {
		label, i := row/o.PerIdentity, row%o.PerIdentity
		if o.Interleave {
			label, i = row%o.Identities, row/o.Identities
		}
		var photo []byte
		if o.Photo != nil {
			photo = o.Photo(label, i)
		} else {
			size := cmp.Or(o.Size, 40)
			photo = JPEG(t, size, size, label, i)
		}
		s := arrowio.Sample{ID: o.FirstID + step*int64(row), Label: int32(label), Image: photo, Parent: -1, Weight: 1,
			Sim: float32(math.NaN()), Source: fmt.Sprintf("%s/%02d.jpg", Identity(label), i)}
		if err := w.Append(&s); err != nil {
			t.Fatal(err)
		}
	}
	classes := make([]arrowio.Class, o.Identities)
	for c := range classes {
		classes[c] = arrowio.Class{Label: int32(c), Identity: Identity(c), Quota: o.Quota}
	}
	if _, err := w.Finish(classes); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Open writes the dataset into a temporary folder and opens it until the test ends.
func Open(t testing.TB, o Options) *arrowio.Dataset {
	t.Helper()
	ds, err := arrowio.Open(Write(t, t.TempDir(), o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	return ds
}

// JPEG encodes Gradient(w, h, label, i) at quality 90.
func JPEG(t testing.TB, w, h, label, i int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, Gradient(w, h, label, i), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Gradient draws a w×h gradient whose colours depend on the identity and the photo, with a
// bright disc off centre so that flips, crops and colour changes all show.
func Gradient(w, h, label, i int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(label*25 + x*3), uint8(i*12 + y*3), uint8((x + y + label*i) * 2), 255}
			if dx, dy := x-w/3, y-h/3; dx*dx+dy*dy < w*h/25 {
				c = color.RGBA{250, 230, 200, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}
