// Package plant plants label noise with known truth into a real ImageFolder, so that S2's
// cleaning can be measured on a user's own photos: some photos are moved to another identity
// of the set (mislabeled), and photos of people outside the set are filed under an identity
// (outsiders). The output has synth's layout: DIR/images/<identity>/<photo> and DIR/truth.csv.
package plant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/facestream/facestream/offline/synth"
)

// Options say how much noise to plant.
type Options struct {
	Mislabel  float64 // fraction of the set's photos moved to another identity of the set
	Outsiders float64 // photos of people outside the set filed under an identity, as a fraction of the set's photos
	MinPhotos int     // identities with at least this many photos form the set; the others supply outsiders
	Seed      uint64  // the same source, options and seed give the same output
}

// Summary counts what Plant wrote.
type Summary struct {
	Identities, Photos, Mislabeled, Outsiders int
}

func (o Options) validate() error {
	switch {
	case o.Mislabel < 0 || o.Outsiders < 0 || o.Mislabel >= 1:
		return fmt.Errorf("plant: --mislabel %.3g and --outsiders %.3g: want 0 ≤ mislabel < 1 and outsiders ≥ 0", o.Mislabel, o.Outsiders)
	case o.MinPhotos < 2:
		return fmt.Errorf("plant: --min-photos %d: want ≥ 2 (a mislabeled photo needs an identity to leave)", o.MinPhotos)
	}
	return nil
}

// person is one identity folder of the source and its photos (slash paths relative to the source).
type person struct {
	name   string
	photos []string
}

// Plant reads the ImageFolder src and writes the noisy set under dir (whose images/ must not
// exist). Photos are hard-linked where the file system allows, else copied; truth.csv is written
// last, so a set with a truth.csv is complete.
func Plant(ctx context.Context, src, dir string, opts Options) (Summary, error) {
	if err := opts.validate(); err != nil {
		return Summary{}, err
	}
	people, err := list(src)
	if err != nil {
		return Summary{}, err
	}
	var set, others []person
	setPhotos := 0
	for _, p := range people {
		if len(p.photos) >= opts.MinPhotos {
			set = append(set, p)
			setPhotos += len(p.photos)
		} else {
			others = append(others, p)
		}
	}
	if len(set) < 2 {
		return Summary{}, fmt.Errorf("plant: %s has %d identities with at least %d photos, want 2 or more", src, len(set), opts.MinPhotos)
	}
	r := rand.New(rand.NewPCG(opts.Seed, 0x706c616e74)) // "plant"
	// Every photo starts clean under its own identity; then some are moved, and outsiders added.
	type placed struct {
		from  string // source path
		photo synth.Photo
	}
	var out []placed
	for _, p := range set {
		for _, ph := range p.photos {
			out = append(out, placed{ph, synth.Photo{Path: p.name, TrueIdentity: p.name, Kind: synth.Clean}})
		}
	}
	moved := int(math.Round(opts.Mislabel * float64(setPhotos)))
	for _, k := range r.Perm(len(out))[:moved] {
		owner := out[k].photo.TrueIdentity
		other := set[r.IntN(len(set))].name
		for other == owner {
			other = set[r.IntN(len(set))].name
		}
		out[k].photo.Path, out[k].photo.Kind = other, synth.Mislabeled
	}
	var pool []placed // every photo of the people outside the set
	for _, p := range others {
		for _, ph := range p.photos {
			pool = append(pool, placed{ph, synth.Photo{TrueIdentity: p.name, Kind: synth.Outsider}})
		}
	}
	want := int(math.Round(opts.Outsiders * float64(setPhotos)))
	if want > len(pool) {
		return Summary{}, fmt.Errorf("plant: %d outsiders wanted but the %d people with fewer than %d photos have only %d photos",
			want, len(others), opts.MinPhotos, len(pool))
	}
	for _, k := range r.Perm(len(pool))[:want] {
		pool[k].photo.Path = set[r.IntN(len(set))].name
		out = append(out, pool[k])
	}

	images := filepath.Join(dir, "images")
	if _, err := os.Stat(images); err == nil {
		return Summary{}, fmt.Errorf("plant: %s already exists", images)
	}
	sum := Summary{Identities: len(set), Photos: len(out), Mislabeled: moved, Outsiders: want}
	truth := make([]synth.Photo, len(out))
	taken := map[string]bool{}
	for i, pl := range out {
		if err := ctx.Err(); err != nil {
			return Summary{}, err
		}
		// The photo keeps its file name under its new identity; a clash gets a numbered prefix.
		rel := path.Join(pl.photo.Path, path.Base(pl.from))
		for n := 2; taken[rel]; n++ {
			rel = path.Join(pl.photo.Path, fmt.Sprintf("%d-%s", n, path.Base(pl.from)))
		}
		taken[rel] = true
		if err := place(filepath.Join(src, filepath.FromSlash(pl.from)), filepath.Join(images, filepath.FromSlash(rel))); err != nil {
			return Summary{}, fmt.Errorf("plant: %w", err)
		}
		truth[i] = synth.Photo{Path: rel, TrueIdentity: pl.photo.TrueIdentity, Kind: pl.photo.Kind}
	}
	slices.SortFunc(truth, func(a, b synth.Photo) int { return strings.Compare(a.Path, b.Path) })
	return sum, synth.WriteTruth(filepath.Join(dir, "truth.csv"), truth)
}

// list reads the ImageFolder: identity folders in name order, each with its files (sub-folders
// included) in name order. Files are not decoded here; import validates them.
func list(src string) ([]person, error) {
	top, err := os.ReadDir(src)
	if err != nil {
		return nil, fmt.Errorf("plant: source folder: %w", err)
	}
	var people []person
	for _, d := range top {
		if !d.IsDir() {
			continue
		}
		p := person{name: d.Name()}
		err := filepath.WalkDir(filepath.Join(src, d.Name()), func(p2 string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, err := filepath.Rel(src, p2)
			if err != nil {
				return err
			}
			p.photos = append(p.photos, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("plant: list %s: %w", src, err)
		}
		if len(p.photos) > 0 {
			people = append(people, p)
		}
	}
	if len(people) == 0 {
		return nil, fmt.Errorf("plant: %s holds no identity folders with photos (want SRC/<identity>/<photo>)", src)
	}
	return people, nil
}

// place hard-links src at dst, or copies it where links are not possible (another file system).
func place(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		return errors.Join(fmt.Errorf("copy %s: %w", src, err), out.Close())
	}
	return out.Close()
}
