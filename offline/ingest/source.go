package ingest

import (
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/offline/recordio"
)

// source is a set of photos grouped by identity, listed in output order:
// identities sorted, photos sorted within each.
type source interface {
	// Identities are the identity names in output order.
	Identities() []string
	// Len is the number of photos (and of stray files, which belong to no identity).
	Len() int
	// Entry says whose photo i is (-1: a stray file) and where it came from.
	Entry(i int) (identity int, origin string)
	// Read returns photo i's bytes. Safe for concurrent use.
	Read(i int) ([]byte, error)
	Close() error
}

// folderSource is an ImageFolder tree: SRC/<identity>/<image>, sub-folders included.
type folderSource struct {
	root       string
	identities []string
	entries    []folderEntry
}

type folderEntry struct {
	identity int
	rel      string // slash-separated, relative to root
}

func openFolder(root string) (*folderSource, error) {
	top, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("source folder: %w", err)
	}
	s := &folderSource{root: root}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("source folder: %w", err)
	}
	for _, d := range top { // ReadDir sorts by name
		dir := filepath.Join(root, d.Name())
		if d.Type()&fs.ModeSymlink != 0 { // a linked identity folder counts as one
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				if dir, err = filepath.EvalSymlinks(dir); err != nil {
					return nil, fmt.Errorf("list %s: %w", root, err)
				}
				if rel, err := filepath.Rel(dir, realRoot); err == nil && filepath.IsLocal(rel) {
					// A link to the source folder (or a folder above it) is no identity: it would
					// hold a copy of every photo. It is reported as a stray entry.
					s.entries = append(s.entries, folderEntry{identity: -1, rel: d.Name()})
					continue
				}
				d = fs.FileInfoToDirEntry(st)
			}
		}
		if !d.IsDir() {
			s.entries = append(s.entries, folderEntry{identity: -1, rel: d.Name()})
			continue
		}
		id := len(s.identities)
		s.identities = append(s.identities, d.Name())
		err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			s.entries = append(s.entries, folderEntry{identity: id, rel: d.Name() + "/" + filepath.ToSlash(rel)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", root, err)
		}
	}
	if len(s.identities) == 0 {
		return nil, fmt.Errorf("source folder %s holds no identity folders (want SRC/<identity>/<image>)", root)
	}
	// Stray files sort first so the photos stay grouped by identity.
	slices.SortStableFunc(s.entries, func(a, b folderEntry) int { return cmp.Compare(a.identity, b.identity) })
	return s, nil
}

func (s *folderSource) Identities() []string { return s.identities }
func (s *folderSource) Len() int             { return len(s.entries) }
func (s *folderSource) Entry(i int) (int, string) {
	return s.entries[i].identity, s.entries[i].rel
}

// Read quarantines a file it cannot read (a dangling link, a link to a
// folder, no permission): that is the file's fault, not the import's.
func (s *folderSource) Read(i int) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(s.entries[i].rel)))
	if err != nil {
		return nil, &unreadable{err}
	}
	return data, nil
}
func (s *folderSource) Close() error { return nil }

// unreadable marks a read error that quarantines the file instead of failing the import.
type unreadable struct{ err error }

func (u *unreadable) Error() string { return "unreadable: " + u.err.Error() }
func (u *unreadable) Unwrap() error { return u.err }

// recSource is an InsightFace RecordIO set; identities are the integer labels, sorted.
type recSource struct {
	f          *recordio.File
	identities []string
	images     []recordio.Image // sorted by (identity, key)
	rank       map[int64]int    // identity label → index in identities
}

// openRec opens a .rec, or the train.rec in a folder as InsightFace ships them.
func openRec(path string) (*recSource, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "train.rec")
	}
	f, err := recordio.Open(path)
	if err != nil {
		return nil, err
	}
	images, err := f.Images()
	if err != nil {
		f.Close()
		return nil, err
	}
	slices.SortStableFunc(images, func(a, b recordio.Image) int { return cmp.Compare(a.Identity, b.Identity) })
	s := &recSource{f: f, images: images, rank: map[int64]int{}}
	for _, im := range images {
		if _, ok := s.rank[im.Identity]; !ok {
			s.rank[im.Identity] = len(s.identities)
			s.identities = append(s.identities, strconv.FormatInt(im.Identity, 10))
		}
	}
	return s, nil
}

func (s *recSource) Identities() []string { return s.identities }
func (s *recSource) Len() int             { return len(s.images) }
func (s *recSource) Entry(i int) (int, string) {
	return s.rank[s.images[i].Identity], strconv.FormatUint(s.images[i].Key, 10)
}
func (s *recSource) Read(i int) ([]byte, error) { return s.f.Payload(s.images[i]) }
func (s *recSource) Close() error               { return s.f.Close() }

// parquetSource reads rows of a Parquet file; its reader is serialised by a mutex, and the
// rows are read nearly in file order when the file is grouped by identity, as exports are.
type parquetSource struct {
	mu   sync.Mutex
	p    *arrowio.ParquetImages
	rows []int64 // sorted by (identity, row)
}

func openParquet(path, imageColumn, labelColumn string) (*parquetSource, error) {
	p, err := arrowio.OpenParquetImages(path, imageColumn, labelColumn)
	if err != nil {
		return nil, err
	}
	rows := make([]int64, p.NumRows())
	for i := range rows {
		rows[i] = int64(i)
	}
	slices.SortStableFunc(rows, func(a, b int64) int { return cmp.Compare(p.RowIdentity(a), p.RowIdentity(b)) })
	return &parquetSource{p: p, rows: rows}, nil
}

func (s *parquetSource) Identities() []string { return s.p.Identities() }
func (s *parquetSource) Len() int             { return len(s.rows) }
func (s *parquetSource) Entry(i int) (int, string) {
	return int(s.p.RowIdentity(s.rows[i])), strconv.FormatInt(s.rows[i], 10)
}
func (s *parquetSource) Read(i int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p.Image(s.rows[i])
}
func (s *parquetSource) Close() error {
	s.mu.Lock() // not under a Read
	defer s.mu.Unlock()
	return s.p.Close()
}
