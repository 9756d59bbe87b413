package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/facestream/facestream/offline/synth"
)

// runSynth writes a synthetic face-identity set as an ImageFolder tree plus truth.csv.
func runSynth(args []string) error {
	fs := newFlags("synth", "--out DIR --identities N --seed S [--noise 0.05] [--junk 0.01] [--size 112] [--workers N] [--force]")
	out := fs.String("out", "", "output folder: DIR/images/<identity>/<nnnn>.jpg and DIR/truth.csv")
	identities := fs.Int("identities", 100, "number of identities")
	seed := fs.Uint64("seed", 1, "seed; the same seed gives the same bytes")
	noise := fs.Float64("noise", 0.05, "fraction of photos filed under the wrong identity")
	junk := fs.Float64("junk", 0.01, "fraction of photos that are not faces")
	size := fs.Int("size", 112, "image side in pixels")
	workers := fs.Int("workers", 0, "rendering goroutines (0: all cores); the output does not depend on it")
	force := fs.Bool("force", false, "replace a synthetic set already in --out")
	if _, err := parseExact(fs, args); err != nil {
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
	start := time.Now()
	sum, err := synth.Generate(ctx, *out, synth.Options{
		Identities: *identities, Seed: *seed, Noise: *noise, Junk: *junk, Size: *size, Workers: *workers,
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Printf("wrote %d photos of %d identities (%d mislabeled, %d junk) to %s in %.1fs (%.0f img/s)\n",
		sum.Photos, sum.Identities, sum.Mislabeled, sum.Junk, filepath.Join(*out, "images"),
		elapsed.Seconds(), float64(sum.Photos)/elapsed.Seconds())
	return nil
}

// clearSynth refuses to mix two sets (synth or plant) in one folder unless force, which removes the old one.
func clearSynth(dir string, force bool) error {
	images := filepath.Join(dir, "images")
	_, err := os.Stat(images)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !force:
		return fmt.Errorf("%s already exists; use --force to replace it", images)
	}
	if err := os.RemoveAll(images); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, "truth.csv")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
