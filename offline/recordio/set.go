package recordio

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// SetWriter writes an InsightFace-style set: a header record at key 0,
// the images at keys 1..n grouped by identity, then one identity record per
// class (empty payload, labels [first key, end key)), and the .idx beside it.
// Both files appear under their names only when Close succeeds.
type SetWriter struct {
	recPath    string
	rec, idx   *os.File
	bw         *bufio.Writer
	w          *Writer
	images     int
	identities int
	entries    []IndexEntry
	starts     []uint64 // first image key of each identity
	buf        []byte
}

// CreateSet starts a set of exactly images records in identities classes.
func CreateSet(recPath string, images, identities int) (*SetWriter, error) {
	if images < 0 || identities < 0 {
		return nil, fmt.Errorf("create %s: negative counts %d images, %d identities", recPath, images, identities)
	}
	dir := filepath.Dir(recPath)
	rec, err := os.CreateTemp(dir, ".rec-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", recPath, err)
	}
	idx, err := os.CreateTemp(dir, ".idx-*")
	if err != nil {
		rec.Close()
		os.Remove(rec.Name())
		return nil, fmt.Errorf("create %s: %w", IndexPath(recPath), err)
	}
	bw := bufio.NewWriterSize(rec, 1<<20)
	s := &SetWriter{recPath: recPath, rec: rec, idx: idx, bw: bw, w: NewWriter(bw), images: images, identities: identities}
	firstIdentity := float32(images + 1)
	if err := s.write(0, Header{Labels: []float32{firstIdentity, firstIdentity + float32(identities)}}, nil); err != nil {
		s.Abort()
		return nil, err
	}
	return s, nil
}

func (s *SetWriter) write(key uint64, h Header, payload []byte) error {
	s.buf = AppendRecord(s.buf[:0], h, payload)
	off, err := s.w.Write(s.buf)
	if err != nil {
		return fmt.Errorf("%s: %w", s.recPath, err)
	}
	s.entries = append(s.entries, IndexEntry{Key: key, Offset: off})
	return nil
}

// Add writes the next image. Identities must run 0, 1, 2, ... in order,
// each with at least one image.
func (s *SetWriter) Add(identity int, image []byte) error {
	key := uint64(len(s.entries))
	switch {
	case int(key) > s.images:
		return fmt.Errorf("%s: more than the %d images announced", s.recPath, s.images)
	case identity == len(s.starts) && identity < s.identities:
		s.starts = append(s.starts, key)
	case identity != len(s.starts)-1:
		return fmt.Errorf("%s: identity %d after identity %d: identities must be added in order 0..%d", s.recPath, identity, len(s.starts)-1, s.identities-1)
	}
	return s.write(key, Header{Label: float32(identity), ID: key}, image)
}

// Close writes the identity records and the index, syncs both files and
// moves them to their names.
func (s *SetWriter) Close() error {
	if len(s.entries)-1 != s.images || len(s.starts) != s.identities {
		s.Abort()
		return fmt.Errorf("%s: wrote %d images in %d identities, announced %d in %d", s.recPath, len(s.entries)-1, len(s.starts), s.images, s.identities)
	}
	for c, start := range s.starts {
		end := uint64(s.images + 1)
		if c+1 < len(s.starts) {
			end = s.starts[c+1]
		}
		key := uint64(s.images + 1 + c)
		if err := s.write(key, Header{Labels: []float32{float32(start), float32(end)}, ID: key}, nil); err != nil {
			s.Abort()
			return err
		}
	}
	err := s.bw.Flush()
	if err == nil {
		err = WriteIndex(s.idx, s.entries)
	}
	for _, f := range []*os.File{s.rec, s.idx} {
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(s.idx.Name(), IndexPath(s.recPath))
	}
	if err == nil {
		err = os.Rename(s.rec.Name(), s.recPath)
	}
	if err != nil {
		s.Abort()
		return fmt.Errorf("write %s: %w", s.recPath, err)
	}
	return nil
}

// Abort removes the temporary files.
func (s *SetWriter) Abort() {
	for _, f := range []*os.File{s.rec, s.idx} {
		f.Close()
		os.Remove(f.Name())
	}
}
