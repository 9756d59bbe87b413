package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"github.com/facestream/facestream/arrowio"
)

// etagDir is the hidden folder of a mirror that holds, for each file, the ETag of the object it
// was last pulled from or pushed to.
const etagDir = ".etags"

// Mirror keeps a local folder and the objects under a location in step, for a work folder that
// jobs on several machines share: Pull before a stage brings what other jobs uploaded, Push after
// it uploads what the stage wrote, its stage records last.
type Mirror struct {
	store  *Store
	loc    Location
	dir    string
	pulled map[string]fileState // the local files after the last Pull
}

type fileState struct {
	size, mtime int64 // mtime in nanoseconds
}

// NewMirror mirrors loc in the local folder dir.
func NewMirror(s *Store, loc Location, dir string) *Mirror {
	return &Mirror{store: s, loc: loc, dir: dir}
}

// Pull downloads every object whose local copy is missing or was taken from another version.
func (m *Mirror) Pull(ctx context.Context) error {
	listing, err := m.store.list(ctx, m.loc)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transfers)
	for rel, obj := range listing {
		if !fs.ValidPath(rel) || strings.HasPrefix(path.Base(rel), ".") || strings.HasPrefix(rel, etagDir+"/") {
			continue // not a file this mirror writes
		}
		local := filepath.Join(m.dir, filepath.FromSlash(rel))
		if st, err := os.Stat(local); err == nil && st.Size() == obj.size {
			if etag, err := os.ReadFile(m.etagPath(rel)); err == nil && string(etag) == obj.etag {
				continue
			}
		}
		g.Go(func() error { return m.pull(gctx, rel, local, obj.etag) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	m.pulled, err = m.scan()
	return err
}

func (m *Mirror) pull(ctx context.Context, rel, local, etag string) error {
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return fmt.Errorf("mirror %s: %w", m.loc, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), ".pull-*")
	if err != nil {
		return fmt.Errorf("mirror %s: %w", m.loc, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := m.store.download(ctx, m.loc, rel, tmp); err != nil {
		return err
	}
	if err := commit(tmp, local); err != nil {
		return err
	}
	return arrowio.WriteFileAtomic(m.etagPath(rel), []byte(etag))
}

// Push uploads the files written or changed since the last Pull, those under stages/ (the
// records that say a stage is done) after all others.
func (m *Mirror) Push(ctx context.Context) error {
	now, err := m.scan()
	if err != nil {
		return err
	}
	var outputs, records []string
	for rel, st := range now {
		if m.pulled[rel] == st {
			continue
		}
		if strings.HasPrefix(rel, "stages/") {
			records = append(records, rel)
		} else {
			outputs = append(outputs, rel)
		}
	}
	for _, batch := range [][]string{outputs, records} {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(transfers)
		for _, rel := range batch {
			g.Go(func() error { return m.push(gctx, rel) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	m.pulled = now
	return nil
}

func (m *Mirror) push(ctx context.Context, rel string) error {
	info, err := m.store.client.FPutObject(ctx, m.loc.Bucket, m.loc.Key(rel), filepath.Join(m.dir, filepath.FromSlash(rel)), putOptions())
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", m.loc, rel, err)
	}
	return arrowio.WriteFileAtomic(m.etagPath(rel), []byte(info.ETag))
}

func (m *Mirror) etagPath(rel string) string {
	return filepath.Join(m.dir, etagDir, filepath.FromSlash(rel))
}

// scan lists the mirror's files (hidden names aside) by slash-separated path.
func (m *Mirror) scan() (map[string]fileState, error) {
	files := map[string]fileState{}
	err := filepath.WalkDir(m.dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == m.dir {
			return filepath.SkipDir // nothing pulled or written yet
		}
		if err != nil {
			return err
		}
		if p != m.dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(m.dir, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = fileState{info.Size(), info.ModTime().UnixNano()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", m.dir, err)
	}
	return files, nil
}

// putOptions: Content-MD5 checks each part; files are checked by their sha256 when used, so parts
// are not signed chunk by chunk (which some S3-compatible stores keep in the object's bytes).
func putOptions() minio.PutObjectOptions {
	return minio.PutObjectOptions{ContentType: "application/octet-stream", SendContentMd5: true, DisableContentSha256: true}
}
