// Package realdata finds the real faces and the real face model the team keeps beside the
// repository (../shared/data/lfw-ak.tar.gz, ../shared/models/), for tests and benchmarks that
// measure on real photographs. A clone without them skips those tests, saying why.
package realdata

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Env names the shared folder when it is not ../shared beside the repository.
const Env = "FACESTREAM_SHARED"

const (
	facesArchive = "data/lfw-ak.tar.gz"
	facesFolder  = "lfw-ak"
	modelFile    = "models/arcface-mobilefacenet-casia.onnx"
)

// SharedDir is $FACESTREAM_SHARED, else the folder shared beside the repository that holds the
// working folder (found by its go.mod).
func SharedDir() (string, error) {
	if dir := os.Getenv(Env); dir != "" {
		return dir, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working folder")
		}
		dir = parent
	}
}

// Faces is the ImageFolder of the real faces (lfw-ak: 3,162 identities, 7,698 photos at
// 112×112), unpacked once per archive version into the system's temporary folder; it skips tb
// when the archive is absent.
func Faces(tb testing.TB) string {
	tb.Helper()
	dir, err := unpackFaces(shared(tb, facesArchive))
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// ErrAbsent is what FacesDir's error wraps when the shared folder does not hold the real faces.
var ErrAbsent = errors.New("real faces absent")

// FacesDir is Faces for programs (benchmark tools): the ImageFolder of the real faces, or an
// error wrapping ErrAbsent, saying where it looked, when the archive is not there.
func FacesDir() (string, error) {
	dir, err := SharedDir()
	if err != nil {
		return "", fmt.Errorf("%w: %v; set $%s to the shared folder", ErrAbsent, err, Env)
	}
	archive := filepath.Join(dir, facesArchive)
	if _, err := os.Stat(archive); err != nil {
		return "", fmt.Errorf("%w (%v): a clone does not have the team's shared folder", ErrAbsent, err)
	}
	return unpackFaces(archive)
}

// unpackFaces unpacks the faces archive into the system's temporary folder, once per version.
func unpackFaces(archive string) (string, error) {
	dir, err := Unpack(archive, filepath.Join(os.TempDir(), "facestream-realdata"))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, facesFolder), nil
}

// Model is the real face-embedding model (MobileFaceNet, ArcFace on CASIA-WebFace, 128-d, input
// RGB (x−127.5)/127.5); it skips tb when the file is absent.
func Model(tb testing.TB) string {
	tb.Helper()
	return shared(tb, modelFile)
}

func shared(tb testing.TB, rel string) string {
	tb.Helper()
	dir, err := SharedDir()
	if err != nil {
		tb.Skipf("real data: %v; set $%s to the shared folder", err, Env)
	}
	path := filepath.Join(dir, rel)
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("real data absent (%v): this test measures on the team's real faces and model in ../shared "+
			"(or $%s), which a clone does not have", err, Env)
	}
	return path
}

// Unpack extracts a .tar.gz into a folder under cache named for the archive's size and
// modification time, unless a complete one is there already; it returns that folder. The
// extraction goes to a temporary folder renamed into place, so concurrent test binaries never see
// half of it, and the loser of a race keeps the winner's copy.
func Unpack(archive, cache string) (string, error) {
	info, err := os.Stat(archive)
	if err != nil {
		return "", fmt.Errorf("unpack: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(archive), ".tar.gz")
	dest := filepath.Join(cache, fmt.Sprintf("%s-%d-%d", name, info.Size(), info.ModTime().Unix()))
	if _, err := os.Stat(dest); err == nil {
		return dest, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("unpack %s: %w", archive, err)
	}
	tmp, err := os.MkdirTemp(cache, ".unpack-*")
	if err != nil {
		return "", fmt.Errorf("unpack %s: %w", archive, err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left to remove
	if err := extract(archive, tmp); err != nil {
		return "", fmt.Errorf("unpack %s: %w", archive, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		if _, statErr := os.Stat(dest); statErr == nil {
			return dest, nil // another process finished first
		}
		return "", fmt.Errorf("unpack %s: %w", archive, err)
	}
	return dest, nil
}

func extract(archive, dir string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// Only plain files and folders, and only below dir: an archive is data, not a script.
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := writeFile(target, tr); err != nil {
				return err
			}
		}
	}
}

func writeFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
