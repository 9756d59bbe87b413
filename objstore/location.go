// Package objstore keeps facestream datasets on S3-compatible object storage: it parses
// s3://bucket/prefix locations, fetches a dataset's files into a verified local cache that
// arrowio memory-maps as it does a local folder, and uploads a dataset written locally with its
// manifest last.
package objstore

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// Location is a dataset on object storage: the objects under Bucket/Prefix/.
type Location struct {
	Bucket string
	Prefix string // no leading or trailing slash; "" for the bucket's root
}

var scheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// bucketName is S3's rule for bucket names (3–63 lower-case letters, digits, dots and dashes).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Parse reads a location: remote is false for a local path (returned as is by the caller), an
// s3:// URL gives its bucket and prefix, and any other scheme is an error that names it.
func Parse(location string) (loc Location, remote bool, err error) {
	m := scheme.FindStringSubmatch(location)
	if m == nil {
		return Location{}, false, nil
	}
	if !strings.EqualFold(m[1], "s3") {
		return Location{}, false, fmt.Errorf("location %q: facestream reads and writes local folders and s3://bucket/prefix; %s:// locations are not supported", location, m[1])
	}
	rest := location[len(m[0]):]
	bucket, prefix, _ := strings.Cut(rest, "/")
	if !bucketName.MatchString(bucket) {
		return Location{}, false, fmt.Errorf("location %q: %q is not an S3 bucket name", location, bucket)
	}
	prefix = strings.Trim(prefix, "/")
	// No "." or ".." elements: the prefix also names the location's staging folder in the cache.
	if prefix != "" && (path.Clean(prefix) != prefix || !fs.ValidPath(prefix)) {
		return Location{}, false, fmt.Errorf("location %q: prefix %q is not a clean path", location, prefix)
	}
	return Location{Bucket: bucket, Prefix: prefix}, true, nil
}

// String is the location as the user writes it.
func (l Location) String() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

// Key is the object name of rel, a slash-separated path inside the dataset.
func (l Location) Key(rel string) string {
	if l.Prefix == "" {
		return rel
	}
	return l.Prefix + "/" + rel
}
