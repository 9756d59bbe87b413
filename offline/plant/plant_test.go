package plant

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/facestream/facestream/offline/synth"
)

// makeFolder writes an ImageFolder of sizes[i] files for person i; a file's content names its
// person, so where it lands can be checked against the truth.
func makeFolder(t *testing.T, sizes []int) string {
	t.Helper()
	root := t.TempDir()
	for i, n := range sizes {
		name := fmt.Sprintf("person%02d", i)
		if err := os.MkdirAll(filepath.Join(root, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for k := range n {
			if err := os.WriteFile(filepath.Join(root, name, fmt.Sprintf("%04d.jpg", k)), []byte(name), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestPlant(t *testing.T) {
	sizes := []int{40, 30, 20, 12, 8, 6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 2, 3, 4, 1, 1}
	src := makeFolder(t, sizes)
	dir := t.TempDir()
	sum, err := Plant(context.Background(), src, dir, Options{Mislabel: 0.1, Outsiders: 0.1, MinPhotos: 5, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	setPhotos := 40 + 30 + 20 + 12 + 8 + 6 + 5
	if want := (Summary{Identities: 7, Photos: setPhotos + 12, Mislabeled: 12, Outsiders: 12}); sum != want {
		t.Fatalf("summary %+v, want %+v", sum, want)
	}
	truth, err := synth.ReadTruth(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[synth.Kind]int{}
	for _, p := range truth {
		kinds[p.Kind]++
		filed := strings.Split(p.Path, "/")[0]
		content, err := os.ReadFile(filepath.Join(dir, "images", filepath.FromSlash(p.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if string(content) != p.TrueIdentity {
			t.Errorf("%s shows %s, truth says %s", p.Path, content, p.TrueIdentity)
		}
		var person int
		fmt.Sscanf(p.TrueIdentity, "person%d", &person)
		inSet := sizes[person] >= 5
		switch p.Kind {
		case synth.Clean:
			if filed != p.TrueIdentity {
				t.Errorf("clean photo %s filed away from %s", p.Path, p.TrueIdentity)
			}
		case synth.Mislabeled:
			if filed == p.TrueIdentity || !inSet {
				t.Errorf("mislabeled photo %s of %s (in the set: %v)", p.Path, p.TrueIdentity, inSet)
			}
		case synth.Outsider:
			if inSet {
				t.Errorf("outsider %s is %s, a person of the set", p.Path, p.TrueIdentity)
			}
		default:
			t.Errorf("kind %q", p.Kind)
		}
	}
	if kinds[synth.Clean] != setPhotos-12 || kinds[synth.Mislabeled] != 12 || kinds[synth.Outsider] != 12 {
		t.Errorf("kinds %v", kinds)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "images"))
	if len(entries) != 7 {
		t.Errorf("%d identity folders, want the 7 with at least 5 photos", len(entries))
	}

	// The same seed gives the same set; another seed another.
	again := t.TempDir()
	if _, err := Plant(context.Background(), src, again, Options{Mislabel: 0.1, Outsiders: 0.1, MinPhotos: 5, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "truth.csv"))
	b, _ := os.ReadFile(filepath.Join(again, "truth.csv"))
	if string(a) != string(b) {
		t.Error("the same seed planted differently")
	}
	other := t.TempDir()
	if _, err := Plant(context.Background(), src, other, Options{Mislabel: 0.1, Outsiders: 0.1, MinPhotos: 5, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	if c, _ := os.ReadFile(filepath.Join(other, "truth.csv")); string(a) == string(c) {
		t.Error("another seed planted the same")
	}
}

func TestPlantRefuses(t *testing.T) {
	src := makeFolder(t, []int{6, 6, 1})
	used := t.TempDir()
	if err := os.Mkdir(filepath.Join(used, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dir  string
		opts Options
		want string
	}{
		{"too many outsiders", t.TempDir(), Options{Outsiders: 0.5, MinPhotos: 5}, "only 1 photos"},
		{"one identity in the set", t.TempDir(), Options{MinPhotos: 6 + 1}, "want 2 or more"},
		{"min photos 1", t.TempDir(), Options{MinPhotos: 1}, "--min-photos 1"},
		{"negative rate", t.TempDir(), Options{Mislabel: -0.1, MinPhotos: 5}, "--mislabel"},
		{"images exist", used, Options{MinPhotos: 5}, "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Plant(context.Background(), src, tc.dir, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
