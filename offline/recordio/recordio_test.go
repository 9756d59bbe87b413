package recordio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func le32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// TestWriterLayout checks the bytes against dmlc-core's RecordIOWriter:
// padding to 4 bytes, and a record holding the magic at aligned offsets
// split into start/middle/end parts without it.
func TestWriterLayout(t *testing.T) {
	magic := le32(Magic)
	split := append(append(append([]byte("abcd"), magic...), magic...), "xyz"...)
	tests := []struct {
		name string
		data []byte
		want []byte
	}{
		{"empty", nil, le32(Magic, 0)},
		{"padded", []byte("hello"), append(append(le32(Magic, 5), "hello"...), 0, 0, 0)},
		{"aligned", []byte("abcd"), append(le32(Magic, 4), "abcd"...)},
		{"unaligned magic stays", append([]byte("ab"), magic...), append(append(le32(Magic, 6), "ab"...), append(magic, 0, 0)...)},
		{"split", split, bytes.Join([][]byte{
			le32(Magic, 1<<29|4), []byte("abcd"),
			le32(Magic, 2<<29|0),
			le32(Magic, 3<<29|3), []byte("xyz"), {0},
		}, nil)},
		{"magic first", magic, bytes.Join([][]byte{le32(Magic, 1<<29|0), le32(Magic, 3<<29|0)}, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := NewWriter(&buf).Write(tt.data); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), tt.want) {
				t.Fatalf("wrote\n% x\nwant\n% x", buf.Bytes(), tt.want)
			}
			got, err := NewReader(&buf).Next()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Fatalf("read back %q, want %q", got, tt.data)
			}
		})
	}
}

func TestReaderSequence(t *testing.T) {
	records := [][]byte{[]byte("one"), nil, bytes.Repeat(le32(Magic), 5), []byte("four four")}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var offsets []int64
	for _, r := range records {
		off, err := w.Write(r)
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, off)
	}
	r := NewReader(bytes.NewReader(buf.Bytes()))
	for i, want := range records {
		if r.Offset() != offsets[i] {
			t.Fatalf("record %d at offset %d, writer said %d", i, r.Offset(), offsets[i])
		}
		got, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d: %q, want %q", i, got, want)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last record: %v, want io.EOF", err)
	}
}

func TestReaderCorrupt(t *testing.T) {
	var good bytes.Buffer
	if _, err := NewWriter(&good).Write([]byte("payload!")); err != nil {
		t.Fatal(err)
	}
	full := good.Bytes()
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"truncated header", full[:5], io.ErrUnexpectedEOF},
		{"truncated data", full[:12], io.ErrUnexpectedEOF},
		{"bad magic", append(le32(0xdeadbeef, 0), full...), ErrCorrupt},
		{"end without start", le32(Magic, 3<<29), ErrCorrupt},
		{"start without end", le32(Magic, 1<<29), io.ErrUnexpectedEOF},
		{"start then whole", le32(Magic, 1<<29, Magic, 0), ErrCorrupt},
		{"unknown flag", le32(Magic, 1<<29, Magic, 5<<29), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.data)).Next()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	tests := []struct {
		name     string
		h        Header
		identity float32
	}{
		{"scalar", Header{Label: 42, ID: 7, ID2: 9}, 42},
		{"label array", Header{Labels: []float32{3, 1.5, -2}, ID: 1}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := AppendRecord(nil, tt.h, []byte("jpeg"))
			h, payload, err := ParseRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(payload) != "jpeg" || h.Identity() != tt.identity || h.ID != tt.h.ID || h.ID2 != tt.h.ID2 {
				t.Fatalf("parsed %+v payload %q", h, payload)
			}
			if len(tt.h.Labels) > 0 && (h.Flag != uint32(len(tt.h.Labels)) || h.Label != 0) {
				t.Fatalf("label array header %+v, want flag %d and label 0 as MXNet packs it", h, len(tt.h.Labels))
			}
		})
	}
	for _, bad := range [][]byte{nil, make([]byte, 23), le32(9, 0, 0, 0, 0, 0, 1)} {
		if _, _, err := ParseRecord(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ParseRecord(% x): %v, want ErrCorrupt", bad, err)
		}
	}
}

// imageWithMagic is a fake image whose bytes hold the magic at an offset
// that is 4-aligned within the record, so the writer must split it.
func imageWithMagic(i int) []byte {
	img := append([]byte{0xff, 0xd8, 0xff, byte(i)}, le32(Magic)...)
	return append(img, "rest of the image"...)
}

type fixture struct {
	identity int
	image    []byte
}

func writeSet(t *testing.T, dir string, images []fixture, identities int) string {
	t.Helper()
	path := filepath.Join(dir, "train.rec")
	w, err := CreateSet(path, len(images), identities)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		if err := w.Add(im.identity, im.image); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSetRoundTrip(t *testing.T) {
	images := []fixture{
		{0, []byte("first image")},
		{0, imageWithMagic(1)},
		{1, []byte("second identity")},
		{2, imageWithMagic(3)},
		{2, []byte("x")},
	}
	path := writeSet(t, t.TempDir(), images, 3)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := len(f.Index()); n != 1+len(images)+3 {
		t.Fatalf("index has %d entries, want header + %d images + 3 identity records", n, len(images))
	}
	got, err := f.Images()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(images) {
		t.Fatalf("%d images, want %d", len(got), len(images))
	}
	for i, im := range got {
		if im.Key != uint64(i+1) || im.Identity != int64(images[i].identity) {
			t.Errorf("image %d: %+v, want key %d identity %d", i, im, i+1, images[i].identity)
		}
		payload, err := f.Payload(im)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(payload, images[i].image) {
			t.Errorf("image %d: payload %q, want %q", i, payload, images[i].image)
		}
	}
	// The identity records hold the key ranges of their images.
	rec, err := f.Record(f.Index()[len(images)+1+2].Offset)
	if err != nil {
		t.Fatal(err)
	}
	h, payload, err := ParseRecord(rec)
	if err != nil || len(payload) != 0 || len(h.Labels) != 2 || h.Labels[0] != 4 || h.Labels[1] != 6 {
		t.Fatalf("identity record of class 2: %+v payload %d bytes, err %v; want labels [4 6)", h, len(payload), err)
	}
}

// TestNoHeaderRecord reads a set without InsightFace's header record:
// every record with a payload is an image, empty ones are skipped.
func TestNoHeaderRecord(t *testing.T) {
	dir := t.TempDir()
	var rec bytes.Buffer
	w := NewWriter(&rec)
	var idx []IndexEntry
	for key, r := range [][]byte{
		AppendRecord(nil, Header{Labels: []float32{5, 0.5}}, []byte("a")),
		AppendRecord(nil, Header{Label: 6}, []byte("b")),
		AppendRecord(nil, Header{Labels: []float32{0, 2}}, nil),
	} {
		off, err := w.Write(r)
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, IndexEntry{Key: uint64(key + 10), Offset: off})
	}
	path := filepath.Join(dir, "plain.rec")
	writeFiles(t, path, rec.Bytes(), idx)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	images, err := f.Images()
	if err != nil {
		t.Fatal(err)
	}
	want := []Image{{Key: 10, Offset: idx[0].Offset, Identity: 5}, {Key: 11, Offset: idx[1].Offset, Identity: 6}}
	if len(images) != 2 || images[0] != want[0] || images[1] != want[1] {
		t.Fatalf("images %+v, want %+v", images, want)
	}
}

func writeFiles(t *testing.T, recPath string, rec []byte, idx []IndexEntry) {
	t.Helper()
	if err := os.WriteFile(recPath, rec, 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteIndex(&b, idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(IndexPath(recPath), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	images := []fixture{{0, []byte("image zero")}, {1, bytes.Repeat([]byte("big image "), 50)}}
	path := writeSet(t, dir, images, 2)
	rec, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	idx := f.Index()
	f.Close()

	t.Run("idx past end", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "past.rec")
		writeFiles(t, p, rec, append(idx, IndexEntry{Key: 99, Offset: int64(len(rec)) + 100}))
		if _, err := Open(p); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open: %v, want an error about key 99 past the end", err)
		}
	})
	t.Run("truncated rec", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "cut.rec")
		cut := int(idx[2].Offset) + 100 // inside the second image
		writeFiles(t, p, rec[:cut], idx[:3])
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Images(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Images: %v, want a truncation error", err)
		}
	})
	t.Run("missing idx: the rec is read through", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "alone.rec")
		if err := os.WriteFile(p, rec, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if !slices.Equal(f.Index(), idx) {
			t.Fatalf("index read through the rec: %+v, want the .idx's %+v", f.Index(), idx)
		}
		got, err := f.Images()
		if err != nil || len(got) != len(images) {
			t.Fatalf("Images: %d, %v; want %d images", len(got), err, len(images))
		}
	})
	t.Run("missing idx, truncated rec", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "alone-cut.rec")
		if err := os.WriteFile(p, rec[:idx[2].Offset+100], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(p); !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "alone-cut.rec") {
			t.Fatalf("Open: %v, want a truncation error naming the file", err)
		}
	})
	t.Run("missing rec", func(t *testing.T) {
		if _, err := Open(filepath.Join(t.TempDir(), "none.rec")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Open: %v, want not-exist", err)
		}
	})
	t.Run("header announces more images", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "short.rec")
		writeFiles(t, p, rec, append(idx[:1:1], idx[2:]...)) // key 1 missing from the index
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Images(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Images: %v, want ErrCorrupt", err)
		}
	})
}

func TestSetWriterRefuses(t *testing.T) {
	dir := t.TempDir()
	w, err := CreateSet(filepath.Join(dir, "bad.rec"), 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(1, []byte("x")); err == nil {
		t.Error("identity 1 before identity 0 accepted")
	}
	if err := w.Add(0, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close with fewer images than announced succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed set left %d files behind", len(entries))
	}
}

func FuzzReader(f *testing.F) {
	var seed bytes.Buffer
	w := NewWriter(&seed)
	for _, r := range [][]byte{
		AppendRecord(nil, Header{Label: 1}, []byte("jpeg")),
		AppendRecord(nil, Header{Labels: []float32{1, 2}}, imageWithMagic(0)),
	} {
		if _, err := w.Write(r); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(seed.Bytes())
	f.Add(le32(Magic, 1<<29|4, 1, Magic, 3<<29))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		var back bytes.Buffer
		rw := NewWriter(&back)
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if h, payload, err := ParseRecord(rec); err == nil && len(payload)+HeaderSize+4*int(h.Flag) != len(rec) {
				t.Fatalf("header %+v and %d-byte payload do not add up to %d bytes", h, len(payload), len(rec))
			}
			if _, err := rw.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		// A well-formed stream rewrites to itself, except for padding
		// bytes, which the writer zeroes.
		again := NewReader(bytes.NewReader(back.Bytes()))
		r = NewReader(bytes.NewReader(data))
		for {
			want, err := r.Next()
			if err == io.EOF {
				break
			}
			want = bytes.Clone(want)
			got, err := again.Next()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("rewritten record %q (%v), want %q", got, err, want)
			}
		}
	})
}

// FuzzFile feeds arbitrary .rec bytes and .idx text through Open, Images
// and Payload: errors are fine, panics and reads past the data are not.
func FuzzFile(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.rec")
	w, err := CreateSet(path, 2, 2)
	if err != nil {
		f.Fatal(err)
	}
	for i, img := range [][]byte{imageWithMagic(0), []byte("plain")} {
		if err := w.Add(i, img); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	rec, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	idx, err := os.ReadFile(IndexPath(path))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rec, string(idx))
	f.Add(rec[:len(rec)-5], string(idx))
	f.Add(le32(Magic, 24, 2, 0, 0, 0, 0, 0), "0\t0\n")
	f.Fuzz(func(t *testing.T, rec []byte, idx string) {
		path := filepath.Join(t.TempDir(), "f.rec")
		if err := os.WriteFile(path, rec, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(IndexPath(path), []byte(idx), 0o644); err != nil {
			t.Fatal(err)
		}
		file, err := Open(path)
		if err != nil {
			return
		}
		defer file.Close()
		images, err := file.Images()
		if err != nil {
			return
		}
		for _, im := range images {
			payload, err := file.Payload(im)
			if err == nil && len(payload) > len(rec) {
				t.Fatalf("key %d: %d-byte payload from a %d-byte file", im.Key, len(payload), len(rec))
			}
		}
	})
}
