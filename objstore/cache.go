package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/facestream/facestream/arrowio"
)

// Cache is a folder of whole dataset files fetched from object storage, named by their sha256
// and verified against it, that several processes may share:
//
//	blobs/<sha256>        a verified file; blobs/<sha256>.etag the object's ETag when fetched
//	views/<manifest hash>/ a dataset folder: its dataset.json and symbolic links into blobs/
//	staging/<bucket>/<prefix>/ datasets written here before they are uploaded
//	.lock                 readers hold it shared until they have mapped their files; eviction exclusively
//
// Files arrive under temporary names and are renamed once synced and verified, so a reader never
// sees half a file; eviction removes the least recently used blobs above the size limit, and
// never while another process is between fetching and mapping.
type Cache struct {
	dir   string
	limit int64
	log   *slog.Logger
}

// DefaultDir is the cache folder when none is given: facestream under the user's cache folder.
func DefaultDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "facestream")
	}
	return filepath.Join(os.TempDir(), "facestream-cache")
}

// NewCache opens (creating) the cache in dir, holding at most limit bytes of blobs beyond the
// files of the datasets open at the time.
func NewCache(dir string, limit int64, log *slog.Logger) (*Cache, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("cache %s: size %d: want a positive size", dir, limit)
	}
	for _, sub := range []string{"blobs", "views", "staging"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("cache %s: %w", dir, err)
		}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Cache{dir: dir, limit: limit, log: log}, nil
}

// Staging is the local folder where a dataset bound for loc is written before Upload.
//
// Each location's folder is one path element below its bucket's, so no location's folder holds
// another's (s3://b and s3://b/eq would otherwise nest, and an import --force of one would wipe
// the other's staged files, or upload them).
func (c *Cache) Staging(loc Location) string {
	name := "@root"
	if loc.Prefix != "" {
		name = url.PathEscape(loc.Prefix)
	}
	return filepath.Join(c.dir, "staging", loc.Bucket, name)
}

// Fetched is a dataset whose files are in the cache, in the folder Dir, pinned there until
// Release: no process evicts a pinned file.
type Fetched struct {
	Dir   string
	Stats FetchStats
	cache *Cache
	lock  *os.File        // the cache's shared lock, held from the manifest's download to the pins
	pins  []*os.File      // its blobs, each open with a shared flock
	keep  map[string]bool // its blobs, by sha256
}

// FetchStats says what a Fetch moved.
type FetchStats struct {
	Files, Downloaded int
	Bytes             int64 // downloaded
	Elapsed           time.Duration
}

// Fetch brings every file of the dataset at loc into the cache, several at once, each verified
// against the manifest's sha256 before it is used: a file whose bytes in the bucket differ from
// the manifest is refused. A cached file is fetched again when the bucket's ETag for it changed.
func (c *Cache) Fetch(ctx context.Context, s *Store, loc Location) (f *Fetched, err error) {
	start := time.Now()
	lock, err := c.flock(syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	f = &Fetched{cache: c, lock: lock, keep: map[string]bool{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, f.Release())
			f = nil
		}
	}()
	if f.Dir, err = c.fetchManifest(ctx, s, loc); err != nil {
		return f, err
	}
	m, err := arrowio.ReadManifest(f.Dir)
	if err != nil {
		return f, fmt.Errorf("%s: %w", loc, err)
	}
	listing, err := s.list(ctx, loc)
	if err != nil {
		return f, err
	}
	files := append([]arrowio.FileInfo{m.Classes}, m.Shards...)
	var total int64
	for _, file := range files {
		total += file.Bytes
	}
	// A large cold fetch takes a while before anything else is said: say what it is doing.
	c.log.Info("fetching dataset into the cache", "dataset", loc.String(), "files", len(files), "MiB", total>>20, "cache", c.dir)
	var downloaded, bytes atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transfers)
	for _, file := range files {
		f.keep[file.SHA256] = true
		g.Go(func() error {
			got, err := c.ensure(gctx, s, loc, listing, file)
			if err != nil {
				return err
			}
			if got {
				downloaded.Add(1)
				bytes.Add(file.Bytes)
			}
			return link(filepath.Join(f.Dir, filepath.FromSlash(file.File)), c.blob(file.SHA256))
		})
	}
	if err := g.Wait(); err != nil {
		return f, err
	}
	if err := f.pin(); err != nil {
		return f, err
	}
	st := FetchStats{Files: len(files), Downloaded: int(downloaded.Load()), Bytes: bytes.Load(), Elapsed: time.Since(start)}
	f.Stats = st
	c.log.Info("fetched dataset into the cache", "dataset", loc.String(), "files", st.Files, "downloaded", st.Downloaded,
		"MiB", st.Bytes>>20, "seconds", st.Elapsed.Seconds(), "cache", c.dir)
	if err := c.evict(f.keep); err != nil {
		// The dataset is whole and pinned; an eviction that failed leaves the cache larger, not wrong.
		c.log.Warn("cache eviction failed", "cache", c.dir, "err", err)
	}
	return f, nil
}

// pin opens each of the dataset's blobs with a shared flock, which eviction respects file by
// file, then drops the cache's shared lock: while the lock is held no eviction runs, so every
// blob is still there to pin, and once pinned the dataset no longer needs to hold up the
// eviction of other files.
func (f *Fetched) pin() error {
	for sha := range f.keep {
		blob, err := os.Open(f.cache.blob(sha))
		if err != nil {
			return fmt.Errorf("cache %s: pin: %w", f.cache.dir, err)
		}
		f.pins = append(f.pins, blob)
		if err := syscall.Flock(int(blob.Fd()), syscall.LOCK_SH); err != nil {
			return fmt.Errorf("cache %s: pin %s: %w", f.cache.dir, sha, err)
		}
	}
	err := f.lock.Close() // closing drops the flock
	f.lock = nil
	return err
}

// Open fetches the dataset at loc and maps it from the cache, as arrowio.Open maps a local
// folder; its files stay pinned until the dataset is closed.
func (c *Cache) Open(ctx context.Context, s *Store, loc Location) (*arrowio.Dataset, error) {
	f, err := c.Fetch(ctx, s, loc)
	if err != nil {
		return nil, err
	}
	ds, err := arrowio.Open(f.Dir)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", loc, err), f.Release())
	}
	ds.OnClose(f.Release)
	return ds, nil
}

// Release unpins the dataset's files: other processes' evictions may remove them again.
func (f *Fetched) Release() error {
	var errs []error
	if f.lock != nil {
		errs = append(errs, f.lock.Close())
		f.lock = nil
	}
	for _, p := range f.pins {
		errs = append(errs, p.Close()) // closing drops the flock
	}
	f.pins = nil
	return errors.Join(errs...)
}

// fetchManifest downloads loc's dataset.json into the view named by its hash, and returns the view.
func (c *Cache) fetchManifest(ctx context.Context, s *Store, loc Location) (string, error) {
	views := filepath.Join(c.dir, "views")
	tmp, err := os.CreateTemp(views, ".manifest-*")
	if err != nil {
		return "", fmt.Errorf("cache %s: %w", c.dir, err)
	}
	defer os.Remove(tmp.Name()) // gone already once renamed
	defer tmp.Close()
	h := sha256.New()
	if err := s.download(ctx, loc, arrowio.ManifestName, io.MultiWriter(tmp, h)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w (or its upload has not finished)", loc, arrowio.ErrNotDataset)
		}
		return "", err
	}
	view := filepath.Join(views, hex.EncodeToString(h.Sum(nil))[:32])
	if err := os.MkdirAll(view, 0o755); err != nil {
		return "", fmt.Errorf("cache %s: %w", c.dir, err)
	}
	if err := commit(tmp, filepath.Join(view, arrowio.ManifestName)); err != nil {
		return "", err
	}
	return view, nil
}

// ensure makes blobs/<sha256> hold the file, downloading it unless the cached copy has the
// manifest's size and was fetched from the object the bucket holds now; it reports a download.
func (c *Cache) ensure(ctx context.Context, s *Store, loc Location, listing map[string]object, file arrowio.FileInfo) (bool, error) {
	obj, ok := listing[file.File]
	if !ok {
		return false, fmt.Errorf("%s/%s: named by the manifest but not in the bucket", loc, file.File)
	}
	if obj.size != file.Bytes {
		return false, fmt.Errorf("%s/%s: %d bytes in the bucket, the manifest says %d: the file changed after the manifest was written; refusing it",
			loc, file.File, obj.size, file.Bytes)
	}
	blob := c.blob(file.SHA256)
	if st, err := os.Stat(blob); err == nil && st.Size() == file.Bytes {
		if etag, err := os.ReadFile(blob + ".etag"); err == nil && string(etag) == obj.etag {
			now := time.Now()
			return false, os.Chtimes(blob, now, now) // the mtime is the LRU order
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(blob), ".fetch-*")
	if err != nil {
		return false, fmt.Errorf("cache %s: %w", c.dir, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if err := s.download(ctx, loc, file.File, io.MultiWriter(tmp, h)); err != nil {
		return false, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != file.SHA256 {
		return false, fmt.Errorf("%s/%s: sha256 %s, the manifest says %s: the file changed after the manifest was written; refusing it",
			loc, file.File, got, file.SHA256)
	}
	if err := commit(tmp, blob); err != nil {
		return false, err
	}
	return true, arrowio.WriteFileAtomic(blob+".etag", []byte(obj.etag))
}

// commit syncs a temporary file and renames it to path, world-readable as dataset files are.
func commit(tmp *os.File, path string) error {
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return nil
}

// link makes path a symbolic link to target, replacing what was there in one rename.
func link(path, target string) error {
	if got, err := os.Readlink(path); err == nil && got == target {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	tmp := fmt.Sprintf("%s.link-%d-%d", path, os.Getpid(), time.Now().UnixNano())
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("link %s: %w", path, err)
	}
	return nil
}

func (c *Cache) blob(sha string) string {
	abs, err := filepath.Abs(filepath.Join(c.dir, "blobs", sha))
	if err != nil {
		return filepath.Join(c.dir, "blobs", sha)
	}
	return abs
}

// flock opens the cache's lock file and locks it how says.
func (c *Cache) flock(how int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(c.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cache lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache lock: %w", err)
	}
	return f, nil
}

// removeUnpinned removes the blob at path unless a process holds it pinned (a shared flock).
func removeUnpinned(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// staleTemp is how old a temporary file in blobs/ must be for eviction to take it for the
// leftover of a killed process.
const staleTemp = time.Hour

// evict removes the least recently used blobs until the rest fit the limit, sparing keep and
// every blob a process has pinned. It gives up at once, evicting nothing, while another process
// is fetching (holds the cache's shared lock): the next fetch evicts.
func (c *Cache) evict(keep map[string]bool) error {
	lock, err := c.flock(syscall.LOCK_EX | syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	dir := filepath.Join(c.dir, "blobs")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	type blob struct {
		name string
		size int64
		used time.Time
	}
	var blobs []blob
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile by a process that does not hold the lock: a rename over it
		}
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			if time.Since(info.ModTime()) > staleTemp {
				_ = os.Remove(filepath.Join(dir, name)) // a killed fetch's leftover; failing to remove it is harmless
			}
			continue
		}
		if strings.HasSuffix(name, ".etag") {
			continue
		}
		blobs = append(blobs, blob{name, info.Size(), info.ModTime()})
		total += info.Size()
	}
	slices.SortFunc(blobs, func(a, b blob) int { return a.used.Compare(b.used) })
	evicted := 0
	for _, b := range blobs {
		if total <= c.limit {
			break
		}
		if keep[b.name] {
			continue
		}
		removed, err := removeUnpinned(filepath.Join(dir, b.name))
		if err != nil {
			return fmt.Errorf("evict %s: %w", b.name, err)
		}
		if !removed {
			continue // in use
		}
		_ = os.Remove(filepath.Join(dir, b.name+".etag")) // without its blob the ETag is never read
		total -= b.size
		evicted++
	}
	if evicted > 0 || total > c.limit {
		c.log.Info("cache eviction", "cache", c.dir, "evicted", evicted, "MiB", total>>20, "limit_MiB", c.limit>>20)
	}
	return c.removeDeadViews()
}

// removeDeadViews removes the views that link to a blob no longer in the cache: nobody holds
// them (a held dataset's blobs are pinned) and a later fetch of that dataset makes its view anew.
// It runs under the exclusive lock, so no fetch is building a view meanwhile.
func (c *Cache) removeDeadViews() error {
	views := filepath.Join(c.dir, "views")
	entries, err := os.ReadDir(views)
	if err != nil {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		view := filepath.Join(views, e.Name())
		dead := false
		err := filepath.WalkDir(view, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return err
			}
			if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) { // follows the link
				dead = true
				return filepath.SkipAll
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("cache %s: %w", c.dir, err)
		}
		if dead {
			if err := os.RemoveAll(view); err != nil {
				return fmt.Errorf("cache %s: remove the dead view %s: %w", c.dir, e.Name(), err)
			}
		}
	}
	return nil
}
