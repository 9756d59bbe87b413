package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/sync/errgroup"

	"github.com/facestream/facestream/arrowio"
)

// transfers is how many objects move at once: enough to fill a link to a nearby store.
const transfers = 8

// Store is a client of one S3-compatible service.
type Store struct {
	client   *minio.Client
	endpoint string // for messages; never holds credentials
}

// FromEnv connects as the AWS tools do: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN), AWS_REGION, and AWS_ENDPOINT_URL for an S3-compatible store (http:// for a
// local one); no credentials means anonymous access. Nothing here ever names the secret.
func FromEnv(getenv func(string) string) (*Store, error) {
	endpoint, secure := "s3.amazonaws.com", true
	if e := getenv("AWS_ENDPOINT_URL"); e != "" {
		u, err := url.Parse(e)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
			// The value is not echoed: a malformed one may hold a password.
			return nil, errors.New("AWS_ENDPOINT_URL: want http(s)://host[:port], without credentials")
		}
		endpoint, secure = u.Host, u.Scheme == "https"
	}
	creds := credentials.NewStaticV4(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"))
	client, err := minio.New(endpoint, &minio.Options{Creds: creds, Secure: secure, Region: getenv("AWS_REGION")})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", endpoint, err)
	}
	return &Store{client: client, endpoint: endpoint}, nil
}

// object is what a listing says of one object.
type object struct {
	size int64
	etag string
}

// list returns the objects under loc by their path relative to it.
func (s *Store) list(ctx context.Context, loc Location) (map[string]object, error) {
	prefix := ""
	if loc.Prefix != "" {
		prefix = loc.Prefix + "/"
	}
	out := map[string]object{}
	for o := range s.client.ListObjects(ctx, loc.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list %s on %s: %w", loc, s.endpoint, o.Err)
		}
		out[strings.TrimPrefix(o.Key, prefix)] = object{size: o.Size, etag: o.ETag}
	}
	return out, nil
}

// download copies object rel of loc to w.
func (s *Store) download(ctx context.Context, loc Location, rel string, w io.Writer) error {
	obj, err := s.client.GetObject(ctx, loc.Bucket, loc.Key(rel), minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("get %s/%s: %w", loc, rel, err)
	}
	defer obj.Close()
	if _, err := io.Copy(w, obj); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return fmt.Errorf("get %s/%s: %w", loc, rel, fs.ErrNotExist)
		}
		return fmt.Errorf("get %s/%s: %w", loc, rel, err)
	}
	return nil
}

// HasDataset reports whether loc holds a manifest.
func (s *Store) HasDataset(ctx context.Context, loc Location) (bool, error) {
	_, err := s.client.StatObject(ctx, loc.Bucket, loc.Key(arrowio.ManifestName), minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return false, nil
	}
	return false, fmt.Errorf("look for %s/%s: %w", loc, arrowio.ManifestName, err)
}

// Upload copies the dataset in dir to loc the object-store way: the old manifest goes first (a
// reader meanwhile finds no dataset rather than a mix), then every other file, then the new
// manifest, so a dataset is never taken as complete before all its files are there. Hidden
// names (work folders, temporary files) stay local.
func (s *Store) Upload(ctx context.Context, dir string, loc Location) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			if rel != arrowio.ManifestName {
				files = append(files, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upload %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, arrowio.ManifestName)); err != nil {
		return fmt.Errorf("upload %s: %w", dir, err)
	}
	if err := s.client.RemoveObject(ctx, loc.Bucket, loc.Key(arrowio.ManifestName), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("remove the old %s/%s: %w", loc, arrowio.ManifestName, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transfers)
	for _, rel := range files {
		g.Go(func() error { return s.put(gctx, dir, loc, rel) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := s.put(ctx, dir, loc, arrowio.ManifestName); err != nil {
		return err
	}
	return s.removeStale(ctx, loc, files)
}

// removeStale removes the objects of a dataset's own files and folders under loc that the
// dataset just uploaded does not have (the shards of an older, larger one): as a local replace
// clears them, so the bucket holds one dataset, not the remains of several. Anything else under
// the prefix (a work folder, the user's own objects) is left alone.
func (s *Store) removeStale(ctx context.Context, loc Location, uploaded []string) error {
	listing, err := s.list(ctx, loc)
	if err != nil {
		return fmt.Errorf("the dataset is published; listing %s for an older dataset's files: %w", loc, err)
	}
	owned := map[string]bool{arrowio.CentersFile: true, arrowio.CentersNPYFile: true}
	for _, name := range arrowio.ClearedNames() {
		owned[name] = true
	}
	keep := map[string]bool{arrowio.ManifestName: true}
	for _, rel := range uploaded {
		keep[rel] = true
	}
	for rel := range listing {
		first, _, _ := strings.Cut(rel, "/")
		if keep[rel] || !owned[first] {
			continue
		}
		if err := s.client.RemoveObject(ctx, loc.Bucket, loc.Key(rel), minio.RemoveObjectOptions{}); err != nil {
			return fmt.Errorf("the dataset is published; removing %s/%s of an older dataset: %w", loc, rel, err)
		}
	}
	return nil
}

func (s *Store) put(ctx context.Context, dir string, loc Location, rel string) error {
	_, err := s.client.FPutObject(ctx, loc.Bucket, loc.Key(rel), filepath.Join(dir, filepath.FromSlash(rel)),
		putOptions())
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", loc, rel, err)
	}
	return nil
}
