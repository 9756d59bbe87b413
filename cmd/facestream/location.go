package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/objstore"
)

// storage resolves the dataset locations of one command: a local folder as it is, an
// s3://bucket/prefix through the local cache (reading) or a staging folder in it (writing).
type storage struct {
	cacheDir  *string
	cacheSize *int64
	cache     *objstore.Cache
	store     *objstore.Store
}

func addStorageFlags(fs *flag.FlagSet) *storage {
	return &storage{
		cacheDir:  fs.String("cache-dir", objstore.DefaultDir(), "s3:// datasets: local folder of verified copies of their files (shareable by several processes)"),
		cacheSize: fs.Int64("cache-size", 65536, "s3:// datasets: MiB the cache keeps; least recently used files beyond it are evicted (the open datasets' files stay)"),
	}
}

// remote parses location and, for an s3:// one, connects the store and cache on first use.
func (st *storage) remote(location string) (loc objstore.Location, ok bool, err error) {
	loc, ok, err = objstore.Parse(location)
	if err != nil || !ok || st.store != nil {
		return loc, ok, err
	}
	if st.store, err = objstore.FromEnv(os.Getenv); err != nil {
		return loc, ok, err
	}
	if st.cache, err = objstore.NewCache(*st.cacheDir, *st.cacheSize<<20, slog.Default()); err != nil {
		st.store = nil
		return loc, ok, err
	}
	return loc, ok, nil
}

// open opens the dataset at location.
func (st *storage) open(ctx context.Context, location string) (*arrowio.Dataset, error) {
	loc, ok, err := st.remote(location)
	if err != nil {
		return nil, err
	}
	if !ok {
		return arrowio.Open(location)
	}
	return st.cache.Open(ctx, st.store, loc)
}

// fetch returns a local folder holding the dataset at location (location itself when local) and
// the function that lets the cache evict it again, once the command is done with it.
func (st *storage) fetch(ctx context.Context, location string) (dir string, release func() error, err error) {
	loc, ok, err := st.remote(location)
	if err != nil || !ok {
		return location, func() error { return nil }, err
	}
	f, err := st.cache.Fetch(ctx, st.store, loc)
	if err != nil {
		return "", nil, err
	}
	return f.Dir, f.Release, nil
}

// output returns the local folder a command writes the dataset for location into, and the
// function that publishes it there once complete (uploading it, manifest last; nothing for a
// local folder).
func (st *storage) output(location string) (dir string, publish func(ctx context.Context) error, err error) {
	loc, ok, err := st.remote(location)
	if err != nil || !ok {
		return location, func(context.Context) error { return nil }, err
	}
	dir = st.cache.Staging(loc)
	return dir, func(ctx context.Context) error {
		if err := st.store.Upload(ctx, dir, loc); err != nil {
			return err
		}
		slog.Info("uploaded dataset", "dataset", loc.String(), "from", dir)
		return nil
	}, nil
}

// checkNoDataset refuses to write over a dataset at location unless force is set; a local
// folder is checked by its writer.
func (st *storage) checkNoDataset(ctx context.Context, location string, force bool) error {
	loc, ok, err := st.remote(location)
	if err != nil || !ok || force {
		return err
	}
	has, err := st.store.HasDataset(ctx, loc)
	if err != nil {
		return err
	}
	if has {
		return fmt.Errorf("%s already holds a dataset: use --force to replace it", loc)
	}
	return nil
}

// joinLocation names a file inside a dataset location, a folder or an s3:// URL (which
// filepath.Join would mangle into s3:/).
func joinLocation(location, rel string) string {
	if _, remote, _ := objstore.Parse(location); remote {
		return strings.TrimRight(location, "/") + "/" + filepath.ToSlash(rel)
	}
	return filepath.Join(location, rel)
}

// workMirror keeps a work folder on object storage in step with its local copy; for a local work
// folder it does nothing.
type workMirror interface {
	Pull(ctx context.Context) error
	Push(ctx context.Context) error
}

type localWork struct{}

func (localWork) Pull(context.Context) error { return nil }
func (localWork) Push(context.Context) error { return nil }

// work returns the local folder the offline stages use for the work folder location, and its
// mirror: an s3:// work folder, shared by jobs on several machines, is pulled before a stage and
// pushed after it. Stage records name their folder, so every job must use the same --cache-dir.
func (st *storage) work(location string) (string, workMirror, error) {
	loc, ok, err := st.remote(location)
	if err != nil || !ok {
		return location, localWork{}, err
	}
	dir := st.cache.Staging(loc)
	return dir, objstore.NewMirror(st.store, loc, dir), nil
}
