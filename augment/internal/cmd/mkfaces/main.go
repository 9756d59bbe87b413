// Command mkfaces writes synthetic face-like JPEGs for benchmarks:
//
//	go run ./augment/internal/cmd/mkfaces -out DIR [-n 512] [-size 112] [-quality 94]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/facestream/facestream/augment/internal/facegen"
)

func main() {
	out := flag.String("out", "", "folder to write the JPEGs to (created)")
	n := flag.Int("n", 512, "number of images")
	size := flag.Int("size", 112, "width and height in pixels")
	quality := flag.Int("quality", 94, "JPEG quality")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*out, *n, *size, *quality, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "mkfaces:", err)
		os.Exit(1)
	}
}

func run(out string, n, size, quality int, seed uint64) error {
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d6b66616365))
	var buf bytes.Buffer
	for i := range n {
		buf.Reset()
		if err := jpeg.Encode(&buf, facegen.Face(rng, size, size), &jpeg.Options{Quality: quality}); err != nil {
			return fmt.Errorf("encode image %d: %w", i, err)
		}
		name := filepath.Join(out, fmt.Sprintf("face-%05d.jpg", i))
		if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
