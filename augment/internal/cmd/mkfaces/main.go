// Command mkfaces writes face JPEGs for benchmarks: synthetic faces drawn by facegen, or the
// team's real faces (lfw-ak, 112×112, in the shared folder beside the repository) as they are or
// resized, as photos larger than the output are:
//
//	go run ./augment/internal/cmd/mkfaces -out DIR [-n 512] [-size 112] [-quality 94]
//	go run ./augment/internal/cmd/mkfaces -real -out DIR [-n 512] [-size 250 -quality 85]
//
// With -real and -size 0 the photos are linked as they are. Without the real faces, -real exits
// with status 3 and says why.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/image/draw"

	"github.com/facestream/facestream/augment/internal/facegen"
	"github.com/facestream/facestream/internal/realdata"
)

// exitAbsent is the exit status when -real finds no real faces.
const exitAbsent = 3

func main() {
	out := flag.String("out", "", "folder to write the JPEGs to (created)")
	n := flag.Int("n", 512, "number of images")
	size := flag.Int("size", 112, "width and height in pixels (-real: 0 keeps the photos as they are)")
	quality := flag.Int("quality", 94, "JPEG quality")
	seed := flag.Uint64("seed", 1, "random seed (synthetic faces)")
	real := flag.Bool("real", false, "the team's real faces (lfw-ak), the first n by path, resized to -size")
	flag.Parse()
	var err error
	if *real {
		err = writeReal(*out, *n, *size, *quality)
	} else {
		err = writeSynthetic(*out, *n, *size, *quality, *seed)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkfaces:", err)
		if errors.Is(err, realdata.ErrAbsent) {
			os.Exit(exitAbsent)
		}
		os.Exit(1)
	}
}

func writeSynthetic(out string, n, size, quality int, seed uint64) error {
	if err := makeOut(out); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d6b66616365))
	for i := range n {
		if err := writeJPEG(out, i, facegen.Face(rng, size, size), quality); err != nil {
			return err
		}
	}
	return nil
}

// writeReal writes the first n real faces by path: linked as they are at size 0, else resized
// (Catmull-Rom, as a photo editor enlarges) and encoded at quality.
func writeReal(out string, n, size, quality int) error {
	faces, err := realdata.FacesDir()
	if err != nil {
		return err
	}
	var paths []string
	err = filepath.WalkDir(faces, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.EqualFold(filepath.Ext(path), ".jpg") {
			paths = append(paths, path)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("list real faces: %w", err)
	}
	slices.Sort(paths)
	paths = paths[:min(n, len(paths))]
	if err := makeOut(out); err != nil {
		return err
	}
	for i, path := range paths {
		if size == 0 {
			if err := os.Symlink(path, filepath.Join(out, fmt.Sprintf("face-%05d.jpg", i))); err != nil {
				return fmt.Errorf("link real face: %w", err)
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read real face: %w", err)
		}
		src, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("decode %s: %w", path, err)
		}
		dst := image.NewRGBA(image.Rect(0, 0, size, size))
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		if err := writeJPEG(out, i, dst, quality); err != nil {
			return err
		}
	}
	return nil
}

func makeOut(out string) error {
	if out == "" {
		return errors.New("-out is required")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	return nil
}

func writeJPEG(out string, i int, img image.Image, quality int) error {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return fmt.Errorf("encode image %d: %w", i, err)
	}
	name := filepath.Join(out, fmt.Sprintf("face-%05d.jpg", i))
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
