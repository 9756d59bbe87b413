package recordio

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
)

// File is an indexed .rec file opened for random access.
type File struct {
	path  string
	f     *os.File
	size  int64
	index []IndexEntry // sorted by key
}

// IndexPath is the .idx that goes with a .rec: train.rec → train.idx.
func IndexPath(recPath string) string { return strings.TrimSuffix(recPath, ".rec") + ".idx" }

// Open opens recPath and the .idx beside it, refusing an index entry that
// points past the end of the .rec or a key listed twice. Without a .idx it
// indexes the .rec by reading it through once, numbering the records from 0
// as InsightFace's and MXNet's writers key them.
func Open(recPath string) (*File, error) {
	idxPath := IndexPath(recPath)
	entries, err := readIndexFile(idxPath)
	if errors.Is(err, fs.ErrNotExist) {
		entries, err = scanIndex(recPath)
	}
	if err != nil {
		return nil, err
	}
	f, err := os.Open(recPath)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	slices.SortFunc(entries, func(a, b IndexEntry) int { return cmp.Compare(a.Key, b.Key) })
	for i, e := range entries {
		if e.Offset+8 > st.Size() {
			f.Close()
			return nil, fmt.Errorf("%s: key %d points at offset %d, past the end of %s (%d bytes): %w",
				idxPath, e.Key, e.Offset, recPath, st.Size(), ErrCorrupt)
		}
		if i > 0 && entries[i-1].Key == e.Key {
			f.Close()
			return nil, fmt.Errorf("%s: key %d listed twice: %w", idxPath, e.Key, ErrCorrupt)
		}
	}
	return &File{path: recPath, f: f, size: st.Size(), index: entries}, nil
}

// readIndexFile reads the .idx at path.
func readIndexFile(path string) ([]IndexEntry, error) {
	idx, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	defer idx.Close()
	entries, err := ReadIndex(idx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return entries, nil
}

// scanIndex indexes the .rec at path by reading every record: record i gets key i.
func scanIndex(path string) ([]IndexEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := NewReader(bufio.NewReaderSize(f, 1<<20))
	var entries []IndexEntry
	for key := uint64(0); ; key++ {
		off := r.Offset()
		if _, err := r.Next(); errors.Is(err, io.EOF) {
			return entries, nil
		} else if err != nil {
			return nil, fmt.Errorf("index %s by reading it: %w", path, err)
		}
		entries = append(entries, IndexEntry{Key: key, Offset: off})
	}
}

// Close closes the .rec.
func (f *File) Close() error { return f.f.Close() }

// Path is the .rec's path.
func (f *File) Path() string { return f.path }

// Index is the index, sorted by key.
func (f *File) Index() []IndexEntry { return f.index }

// Record reads the whole record at offset off (a fresh slice the caller owns).
func (f *File) Record(off int64) ([]byte, error) {
	r := NewReader(io.NewSectionReader(f.f, off, f.size-off))
	r.off = off // so errors name offsets in the file
	rec, err := r.Next()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return rec, nil
}

// Image locates one image record of an InsightFace set.
type Image struct {
	Key      uint64
	Offset   int64
	Identity int64
}

// Images lists the image records in key order with their identities,
// reading only their headers. An InsightFace set starts with a header
// record (key 0, labels [first identity record, end)): images at keys 1 up
// to the first identity record, then identity records (empty payloads
// holding label ranges). Records are told apart by content: the header
// record is skipped, every other record with a payload is an image, empty
// ones are metadata. Where the header's count is exact in float32 (below
// 2^24, as in MS1M and WebFace; Glint360K is past it) it is checked.
func (f *File) Images() ([]Image, error) {
	hasHeader, announced := false, -1
	if len(f.index) > 0 && f.index[0].Key == 0 {
		h, payload, err := f.peek(f.index[0])
		if err != nil {
			return nil, err
		}
		if h.Flag >= 2 && payload == 0 {
			if !(h.Labels[0] >= 1 && h.Labels[0] <= h.Labels[1]) {
				return nil, fmt.Errorf("%s: header record labels [%g, %g) are not a key range: %w", f.path, h.Labels[0], h.Labels[1], ErrCorrupt)
			}
			hasHeader = true
			if h.Labels[0] <= 1<<24 {
				announced = int(h.Labels[0]) - 1
			}
		}
	}
	var images []Image
	for _, e := range f.index {
		if hasHeader && e.Key == 0 {
			continue
		}
		h, payload, err := f.peek(e)
		if err != nil {
			return nil, err
		}
		if payload == 0 {
			continue // an identity record, or an empty record: no image in it
		}
		id := h.Identity()
		if !(id >= 0 && id <= 1<<24) || id != float32(math.Trunc(float64(id))) {
			return nil, fmt.Errorf("%s: key %d: identity label %g is not a class index: %w", f.path, e.Key, id, ErrCorrupt)
		}
		images = append(images, Image{Key: e.Key, Offset: e.Offset, Identity: int64(id)})
	}
	if announced >= 0 && len(images) != announced {
		return nil, fmt.Errorf("%s: header record announces %d images, found %d: %w", f.path, announced, len(images), ErrCorrupt)
	}
	return images, nil
}

// peek reads the header (with at most two labels) of the record at e and
// the size of its payload, without reading the payload when the record is
// stored whole.
func (f *File) peek(e IndexEntry) (Header, int, error) {
	var buf [8 + HeaderSize + 8]byte
	n, err := f.f.ReadAt(buf[:], e.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return Header{}, 0, fmt.Errorf("%s: key %d: %w", f.path, e.Key, err)
	}
	word := binary.LittleEndian.Uint32(buf[4:])
	length := int(word & maxLength)
	prefix := min(length, HeaderSize+8)
	if n < 8+prefix || binary.LittleEndian.Uint32(buf[:]) != Magic || word>>29 != flagWhole ||
		e.Offset+8+int64(pad4(length)) > f.size {
		// Split, corrupt or truncated: the full reader joins it or names the problem.
		rec, err := f.Record(e.Offset)
		if err != nil {
			return Header{}, 0, fmt.Errorf("key %d: %w", e.Key, err)
		}
		h, start, err := parseHeader(rec, len(rec), 2)
		if err != nil {
			return Header{}, 0, fmt.Errorf("%s: key %d: %w", f.path, e.Key, err)
		}
		return h, len(rec) - start, nil
	}
	h, start, err := parseHeader(buf[8:8+prefix], length, 2)
	if err != nil {
		return Header{}, 0, fmt.Errorf("%s: key %d: %w", f.path, e.Key, err)
	}
	return h, length - start, nil
}

// Payload reads the payload (the encoded image) of the record at img.
func (f *File) Payload(img Image) ([]byte, error) {
	rec, err := f.Record(img.Offset)
	if err != nil {
		return nil, fmt.Errorf("key %d: %w", img.Key, err)
	}
	_, payload, err := ParseRecord(rec)
	if err != nil {
		return nil, fmt.Errorf("%s: key %d: %w", f.path, img.Key, err)
	}
	return payload, nil
}
