package objstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/facestream/facestream/internal/s3test"
)

// TestMirror: two machines share a work folder through the bucket: what one pushes the other
// pulls, a file rewritten by one replaces the other's copy, and a machine pushes only what it
// wrote, never its stale copy of another's file.
func TestMirror(t *testing.T) {
	s3test.Start(t)
	s, err := FromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	loc := Location{Bucket: s3test.Bucket, Prefix: "work"}
	dirA, dirB := t.TempDir(), t.TempDir()
	a, b := NewMirror(s, loc, dirA), NewMirror(s, loc, dirB)
	write := func(dir, rel, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(dir, rel, want string) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil || string(got) != want {
			t.Errorf("%s in %s: %q, %v; want %q", rel, dir, got, err, want)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Pull(ctx))
	write(dirA, "embeddings/part-0.arrow", "v1")
	write(dirA, "stages/embed-0.json", "record")
	must(a.Push(ctx))

	must(b.Pull(ctx))
	expect(dirB, "embeddings/part-0.arrow", "v1")
	expect(dirB, "stages/embed-0.json", "record")
	write(dirB, "embeddings/part-0.arrow", "v2, rewritten")
	must(b.Push(ctx))

	must(a.Pull(ctx))
	expect(dirA, "embeddings/part-0.arrow", "v2, rewritten")
	must(b.Pull(ctx)) // b's copy is current: nothing to fetch, nothing changed
	write(dirB, "embeddings/part-1.arrow", "b's own")
	write(dirA, "embeddings/part-0.arrow", "v3 from a")
	must(a.Push(ctx))
	must(b.Push(ctx)) // only part-1: b's copy of part-0 is stale now and must not go up
	c := NewMirror(s, loc, t.TempDir())
	must(c.Pull(ctx))
	expect(c.dir, "embeddings/part-0.arrow", "v3 from a")
	expect(c.dir, "embeddings/part-1.arrow", "b's own")
}
