package arrowio

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path through a synced temporary file and a rename, so a crash
// never leaves a half-written file under the final name.
func WriteFileAtomic(path string, data []byte) error {
	f, err := createTemp(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.commit()
	return err
}

// atomicFile is a file written under a temporary name, hashed as it goes, renamed on commit.
type atomicFile struct {
	*os.File
	final string
	hash  hash.Hash
	n     int64
}

func createTemp(path string) (*atomicFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create folder for %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &atomicFile{File: f, final: path, hash: sha256.New()}, nil
}

// Write hashes and counts what it writes so the manifest needs no second read.
func (a *atomicFile) Write(p []byte) (int, error) {
	n, err := a.File.Write(p)
	a.hash.Write(p[:n])
	a.n += int64(n)
	return n, err
}

var _ io.Writer = (*atomicFile)(nil)

func (a *atomicFile) abort() {
	name := a.Name()
	_ = a.File.Close() // the file is being discarded; its close error carries nothing
	_ = os.Remove(name)
}

// commit syncs, closes and renames the file, returning its size and sha256.
func (a *atomicFile) commit() (FileInfo, error) {
	if err := a.Sync(); err != nil {
		a.abort()
		return FileInfo{}, fmt.Errorf("sync %s: %w", a.final, err)
	}
	// CreateTemp makes 0600 files; a dataset is read by trainers running as other users.
	if err := a.Chmod(0o644); err != nil {
		a.abort()
		return FileInfo{}, fmt.Errorf("chmod %s: %w", a.final, err)
	}
	if err := a.File.Close(); err != nil {
		_ = os.Remove(a.Name())
		return FileInfo{}, fmt.Errorf("close %s: %w", a.final, err)
	}
	if err := os.Rename(a.Name(), a.final); err != nil {
		_ = os.Remove(a.Name())
		return FileInfo{}, fmt.Errorf("rename %s: %w", a.final, err)
	}
	if err := syncDir(filepath.Dir(a.final)); err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Bytes: a.n, SHA256: hex.EncodeToString(a.hash.Sum(nil))}, nil
}

// syncDir makes a rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// HashFile returns a whole file's size and sha256, File and Rows left empty: what a manifest, a
// stage record or a model fingerprint checks a file against.
func HashFile(path string) (FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileInfo{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileInfo{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return FileInfo{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
