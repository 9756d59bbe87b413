package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/facestream/facestream/offline/plant"
)

// runPlant plants label noise with known truth into an ImageFolder, so S2 can be measured on it.
func runPlant(args []string) error {
	fs := newFlags("plant", "SRC --out DIR [--mislabel 0.05] [--outsiders 0.05] [--min-photos 5] [--seed S] [--force]")
	out := fs.String("out", "", "output folder: DIR/images/<identity>/<photo> and DIR/truth.csv (path,true_identity,kind)")
	mislabel := fs.Float64("mislabel", 0.05, "fraction of the set's photos moved to another identity of the set")
	outsiders := fs.Float64("outsiders", 0.05, "photos of people with fewer than --min-photos photos filed under an identity, as a fraction of the set's photos")
	minPhotos := fs.Int("min-photos", 5, "identities with at least this many photos form the set")
	seed := fs.Uint64("seed", 1, "seed; the same source and seed give the same set")
	force := fs.Bool("force", false, "replace a set already in --out")
	pos, err := parseExact(fs, args, "SRC")
	if err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("--out is required")
	}
	if err := clearSynth(*out, *force); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sum, err := plant.Plant(ctx, pos[0], *out, plant.Options{Mislabel: *mislabel, Outsiders: *outsiders, MinPhotos: *minPhotos, Seed: *seed})
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d photos of %d identities (%d mislabeled, %d outsiders) to %s; truth in %s\n",
		sum.Photos, sum.Identities, sum.Mislabeled, sum.Outsiders, filepath.Join(*out, "images"), filepath.Join(*out, "truth.csv"))
	return nil
}
