package arrowio

import (
	"fmt"
	"regexp"
)

// urlScheme matches a location that names a scheme (s3://bucket/prefix, gs://, http://), which
// the path functions would otherwise take for a relative folder named "s3:".
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// CheckLocal refuses a location that is not a local path, naming the scheme.
func CheckLocal(location string) error {
	if m := urlScheme.FindString(location); m != "" {
		return fmt.Errorf("location %q: facestream reads and writes local files and folders (a mounted shared folder works); %s locations are not supported", location, m)
	}
	return nil
}
