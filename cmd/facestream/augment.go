package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/augment"
	"github.com/facestream/facestream/bench"
	"github.com/facestream/facestream/internal/procs"
)

// runAugment dispatches `facestream augment preview|bench`.
func runAugment(args []string) error { return writeAugment(os.Stdout, args) }

func writeAugment(stdout io.Writer, args []string) error {
	const usage = "usage: facestream augment preview DATASET --out grid.png [flags]\n" +
		"       facestream augment bench FOLDER [flags]\n\n" +
		"preview: a PNG grid of photos, each beside several augmented draws of it\n" +
		"bench:   decode-only and decode+augment images/s on a folder of images, as JSON"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(os.Stderr, usage)
		if len(args) == 0 {
			return errors.New("want a subcommand: preview or bench")
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "preview":
		return runAugmentPreview(args[1:])
	case "bench":
		return runAugmentBench(stdout, args[1:])
	}
	fmt.Fprintln(os.Stderr, usage)
	return fmt.Errorf("unknown augment subcommand %q (want preview or bench)", args[0])
}

// previewGutter is the spacing between cells of the preview grid, in pixels.
const previewGutter = 4

func runAugmentPreview(args []string) (err error) {
	fs := newFlags("augment preview", "DATASET --out grid.png [flags]")
	profileName := fs.String("profile", "face", "profile: built-in name ("+strings.Join(augment.ProfileNames(), ", ")+") or YAML/JSON file")
	out := fs.String("out", "", "PNG file to write (required)")
	photos := fs.Int("photos", 6, "photos (grid rows), spread evenly over the dataset")
	draws := fs.Int("draws", 6, "augmented draws per photo (grid columns after the plain one)")
	seed := fs.Uint64("seed", 0, "augmentation seed")
	size := fs.Int("size", 112, "output image height and width")
	st := addStorageFlags(fs)
	pos, err := parseExact(fs, args, "DATASET")
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	if *photos < 1 || *draws < 1 || *size < 1 {
		return fmt.Errorf("--photos=%d --draws=%d --size=%d: want positive numbers", *photos, *draws, *size)
	}
	profile, err := augment.ResolveProfile(*profileName)
	if err != nil {
		return err
	}
	plain, err := augment.BuiltinProfile("none")
	if err != nil {
		return err
	}
	ds, err := st.open(context.Background(), pos[0])
	if err != nil {
		return err
	}
	defer closeDataset(ds, pos[0], &err)
	if ds.Len() == 0 {
		return fmt.Errorf("dataset %s has no photos", pos[0])
	}
	n := min(*photos, ds.Len())
	cell := *size + previewGutter
	grid := image.NewRGBA(image.Rect(0, 0, (1+*draws)*cell+previewGutter, n*cell+previewGutter))
	draw.Draw(grid, grid.Bounds(), image.NewUniform(color.RGBA{40, 40, 40, 255}), image.Point{}, draw.Src)
	plainWorker := augment.NewWorker(plain, *size, *size)
	worker := augment.NewWorker(profile, *size, *size)
	buf := make([]byte, *size**size*3)
	for i := range n {
		row := i * ds.Len() / n
		encoded := ds.Image(row)
		// Column 0 is the photo only resized; the others are draws at successive positions.
		for col := range 1 + *draws {
			w, p := worker, int64(i**draws+col-1)
			if col == 0 {
				w, p = plainWorker, 0
			}
			if err := w.Process(encoded, *seed, 0, p, buf); err != nil {
				return fmt.Errorf("row %d (id %d, label %d): %w", row, ds.ID(row), ds.Label(row), err)
			}
			pasteRGB(grid, buf, *size, previewGutter+col*cell, previewGutter+i*cell)
		}
	}
	var enc bytes.Buffer
	if err := png.Encode(&enc, grid); err != nil {
		return fmt.Errorf("encode %s: %w", *out, err)
	}
	if err := arrowio.WriteFileAtomic(*out, enc.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d photos × (plain + %d draws of profile %s), seed %d\n", *out, n, *draws, profile.Name, *seed)
	return nil
}

// pasteRGB copies a size×size packed RGB image into grid at (x, y).
func pasteRGB(grid *image.RGBA, rgb []byte, size, x, y int) {
	for r := range size {
		dst := grid.Pix[grid.PixOffset(x, y+r):]
		src := rgb[r*size*3 : (r+1)*size*3]
		for c := range size {
			dst[4*c], dst[4*c+1], dst[4*c+2], dst[4*c+3] = src[3*c], src[3*c+1], src[3*c+2], 255
		}
	}
}

// benchResult is what `augment bench` prints.
type benchResult struct {
	Folder             string  `json:"folder"`
	Files              int     `json:"files"`
	Decoder            string  `json:"decoder"`
	Kernels            string  `json:"kernels"`
	Profile            string  `json:"profile"`
	Size               int     `json:"size"`
	Workers            int     `json:"workers"`
	Seconds            float64 `json:"seconds_per_phase"`
	DecodeScale        string  `json:"decode_scale"` // of the first image in the profile, as tjbench -scale takes it
	DecodeImgPerS      float64 `json:"decode_img_per_s"`
	ProcessImgPerS     float64 `json:"process_img_per_s"`
	DecodeImgPerSCore  float64 `json:"decode_img_per_s_per_worker"`
	ProcessImgPerSCore float64 `json:"process_img_per_s_per_worker"`
	// Per second of CPU time: the one-core rate on a machine that other work shares.
	DecodeImgPerCPUS  float64 `json:"decode_img_per_cpu_s"`
	ProcessImgPerCPUS float64 `json:"process_img_per_cpu_s"`
}

func runAugmentBench(stdout io.Writer, args []string) error {
	fs := newFlags("augment bench", "FOLDER [flags]")
	profileName := fs.String("profile", "face", "profile: built-in name or YAML/JSON file")
	size := fs.Int("size", 112, "output image height and width")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines, one Worker each (one per core)")
	seconds := fs.Float64("seconds", 3, "duration of each phase (decode only, then decode+augment)")
	pos, err := parseExact(fs, args, "FOLDER")
	if err != nil {
		return err
	}
	if *workers < 1 || *size < 1 || *seconds <= 0 {
		return fmt.Errorf("--workers=%d --size=%d --seconds=%g: want positive numbers", *workers, *size, *seconds)
	}
	profile, err := augment.ResolveProfile(*profileName)
	if err != nil {
		return err
	}
	images, err := readImages(pos[0])
	if err != nil {
		return err
	}
	procs.LeaveIdle(*workers) // as `facestream serve` does
	duration := time.Duration(*seconds * float64(time.Second))
	decodeRate, err := measure(*workers, duration, func(w *augment.Worker, i int64, _ []byte) error {
		_, _, _, err := w.DecodeRGB(images[i%int64(len(images))])
		return err
	}, profile, *size)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	processRate, err := measure(*workers, duration, func(w *augment.Worker, i int64, dst []byte) error {
		return w.Process(images[i%int64(len(images))], 1, 0, i, dst)
	}, profile, *size)
	if err != nil {
		return fmt.Errorf("decode+augment: %w", err)
	}
	// The scale a JPEG decodes at depends on the sample's crop: the first image's first sample
	// stands for the folder (a folder of like photos).
	w := augment.NewWorker(profile, *size, *size)
	if err := w.Process(images[0], 1, 0, 0, make([]byte, *size**size*3)); err != nil {
		return fmt.Errorf("decode+augment: %w", err)
	}
	res := benchResult{
		Folder: pos[0], Files: len(images), Decoder: augment.JPEGDecoder, Kernels: augment.Kernels(), Profile: profile.Name, Size: *size,
		Workers: *workers, Seconds: *seconds, DecodeScale: fmt.Sprintf("1/%d", w.DecodeScale()),
		DecodeImgPerS: decodeRate.wall, ProcessImgPerS: processRate.wall, DecodeImgPerCPUS: decodeRate.cpu, ProcessImgPerCPUS: processRate.cpu,
		DecodeImgPerSCore: decodeRate.wall / float64(*workers), ProcessImgPerSCore: processRate.wall / float64(*workers),
	}
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(out))
	return err
}

// readImages reads every regular file of folder (or link to one) with an image extension, sorted by name.
func readImages(folder string) ([][]byte, error) {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, fmt.Errorf("read folder: %w", err)
	}
	var images [][]byte
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !slices.Contains([]string{".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}, ext) {
			continue
		}
		path := filepath.Join(folder, e.Name())
		if !e.Type().IsRegular() { // a link to a regular file counts (a folder of links is common)
			st, err := os.Stat(path)
			if err != nil {
				return nil, fmt.Errorf("read image: %w", err)
			}
			if !st.Mode().IsRegular() {
				continue
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read image: %w", err)
		}
		images = append(images, data)
	}
	if len(images) == 0 {
		return nil, fmt.Errorf("folder %s has no .jpg, .jpeg, .png, .bmp, .gif or .webp files", folder)
	}
	return images, nil
}

// rates is what measure measured: images per second of wall time over all workers, and per
// second of the process's CPU time (user and system), which a shared machine's other load does
// not dilute.
type rates struct{ wall, cpu float64 }

// measure runs step on workers goroutines, each with its own Worker and output buffer, for
// duration after a short warm-up, and returns their images per second.
func measure(workers int, duration time.Duration, step func(w *augment.Worker, i int64, dst []byte) error, p *augment.Profile, size int) (rates, error) {
	var next, done atomic.Int64
	var stop atomic.Bool
	var wg, ready sync.WaitGroup
	errs := make([]error, workers)
	start := make(chan struct{})
	ready.Add(workers)
	for g := range workers {
		wg.Go(func() {
			w := augment.NewWorker(p, size, size)
			dst := make([]byte, size*size*3)
			for range 32 { // warm-up: buffers grow to their steady size
				if errs[g] = step(w, next.Add(1), dst); errs[g] != nil {
					ready.Done()
					return
				}
			}
			ready.Done()
			<-start
			for !stop.Load() {
				if errs[g] = step(w, next.Add(1), dst); errs[g] != nil {
					return
				}
				done.Add(1)
			}
		})
	}
	ready.Wait()
	before, err := bench.ProcessCPU()
	if err != nil {
		return rates{}, err
	}
	t0 := time.Now()
	close(start)
	time.Sleep(duration)
	stop.Store(true)
	elapsed := time.Since(t0)
	after, err := bench.ProcessCPU()
	if err != nil {
		return rates{}, err
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rates{}, err
	}
	n := float64(done.Load())
	return rates{wall: n / elapsed.Seconds(), cpu: n / (after - before).Seconds()}, nil
}
