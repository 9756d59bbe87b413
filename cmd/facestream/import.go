package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/augment"
	"github.com/facestream/facestream/offline/ingest"
)

// runImport imports an ImageFolder tree, an InsightFace .rec or a Parquet file as a raw dataset.
func runImport(args []string) error {
	fs := newFlags("import", "{imagefolder|rec|parquet} SRC --out DS [--force] [--verify] [--workers N] [--image-col image] [--label-col label|identity]")
	out := fs.String("out", "", "dataset folder to write")
	force := fs.Bool("force", false, "replace a dataset already in --out")
	verify := fs.Bool("verify", false, "decode every image fully, with the server's decoder, not just its header")
	workers := fs.Int("workers", 0, "validating goroutines (0: all cores)")
	maxPixels := fs.Int64("max-pixels", augment.DefaultMaxPixels, "quarantine photos larger than this many pixels (width × height): decompression bombs")
	imageCol := fs.String("image-col", "image", "Parquet: column of encoded image bytes")
	labelCol := fs.String("label-col", "", "Parquet: integer label or string identity column (default: label, else identity)")
	st := addStorageFlags(fs)
	pos, err := parseExact(fs, args, "FORMAT", "SRC")
	if err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return fmt.Errorf("--out is required")
	}
	if err := arrowio.CheckLocal(pos[1]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := st.checkNoDataset(ctx, *out, *force); err != nil {
		return err
	}
	dir, publish, err := st.output(*out)
	if err != nil {
		return err
	}
	if dir != *out {
		// A staging folder holds what an earlier import left; this one starts afresh.
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clear staging folder: %w", err)
		}
	}
	opts := ingest.Options{
		Format: pos[0], Source: pos[1], Out: dir, Force: *force, Verify: *verify, Workers: *workers, MaxPixels: *maxPixels,
		ImageColumn: *imageCol, LabelColumn: *labelCol,
	}
	report, finish := terminalProgress()
	if report != nil {
		opts.Progress = func(done, total int) { report("import", "img", done, total) }
	}
	rep, err := ingest.Import(ctx, opts)
	finish()
	if err != nil {
		return err
	}
	if err := publish(ctx); err != nil {
		return err
	}
	fmt.Printf("imported %d photos of %d identities from %s into %s in %.1fs (%.0f img/s)\n",
		rep.Samples, rep.Identities, rep.Source, *out, rep.Seconds, rep.ImagesPerSecond)
	fmt.Printf("quarantined %d, duplicates %d, empty identities %d: see %s\n",
		len(rep.Quarantined), len(rep.Duplicates), len(rep.EmptyIdentities), joinLocation(*out, ingest.ReportName))
	const shown = 5
	for _, q := range rep.Quarantined[:min(shown, len(rep.Quarantined))] {
		fmt.Printf("  quarantined %s: %s\n", q.Source, q.Reason)
	}
	if len(rep.Quarantined) > shown {
		fmt.Printf("  ... and %d more\n", len(rep.Quarantined)-shown)
	}
	return nil
}
