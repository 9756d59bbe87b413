package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/facestream/facestream/loader"
	"golang.org/x/sync/errgroup"
)

// epochTally is what one epoch read through the Go client looked like.
type epochTally struct {
	URL            string  `json:"url"`
	World          int     `json:"world"`
	Batch          int     `json:"batch"`
	Epoch          int     `json:"epoch"`
	Batches        int     `json:"batches"`
	Images         int     `json:"images"`
	DistinctIDs    int     `json:"distinct_ids"`
	Identities     int     `json:"identities"`
	MinPerIdentity int     `json:"min_per_identity"`
	MaxPerIdentity int     `json:"max_per_identity"`
	Seconds        float64 `json:"seconds"`
	ImagesPerSec   float64 `json:"images_per_second"`
	MBPerSec       float64 `json:"mb_per_second"`
}

// runConsume reads one whole epoch from a running server with every rank of a world, as a
// distributed training job would, and tallies what arrived: a smoke test of a server and a
// check of the balance the trainer actually sees.
func runConsume(args []string) error {
	fs := newFlags("consume", "URL [--world W] [--batch B] [--epoch E] [--seed S] [--mode M] [--profile P] [--format arrow|npy] [--token T] [--json]")
	world := fs.Int("world", 2, "ranks read side by side, each its own stream")
	batch := fs.Int("batch", 256, "images per batch")
	epoch := fs.Int("epoch", 0, "epoch to read")
	seed := fs.Uint64("seed", 0, "stream seed")
	mode := fs.String("mode", "", "sampling mode (default: the server's for the dataset)")
	profile := fs.String("profile", "", "augmentation profile (default: the server's)")
	format := fs.String("format", "arrow", "wire format: arrow or npy")
	token := fs.String("token", os.Getenv("FACESTREAM_TOKEN"), "bearer token (default $FACESTREAM_TOKEN)")
	asJSON := fs.Bool("json", false, "print the tally as JSON")
	pos, err := parseExact(fs, args, "URL")
	if err != nil {
		return err
	}
	if *world < 1 {
		return fmt.Errorf("world %d: want at least 1", *world)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	params := loader.StreamParams{World: *world, Batch: *batch, Epoch: *epoch, Seed: *seed, Mode: *mode, Profile: *profile, Format: *format}
	t, err := consumeEpoch(ctx, loader.NewClient(pos[0], *token), params)
	if err != nil {
		return err
	}
	t.URL = pos[0]
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(t)
	}
	fmt.Printf("read epoch %d from %s: %d batches, %d images (%d distinct photos) with %d ranks of batch %d in %.2fs: %.0f img/s, %.1f MB/s\n",
		t.Epoch, t.URL, t.Batches, t.Images, t.DistinctIDs, t.World, t.Batch, t.Seconds, t.ImagesPerSec, t.MBPerSec)
	fmt.Printf("draws per identity: %d identities, min %d, max %d\n", t.Identities, t.MinPerIdentity, t.MaxPerIdentity)
	return nil
}

// consumeEpoch reads epoch p.Epoch with every rank 0..p.World-1 concurrently.
func consumeEpoch(ctx context.Context, client *loader.Client, p loader.StreamParams) (*epochTally, error) {
	type rankTally struct {
		batches, images int
		bytes           int64
		ids             []int64
		labels          []int32
	}
	tallies := make([]rankTally, p.World)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for r := range p.World {
		g.Go(func() error {
			rp := p
			rp.Rank = r
			s, err := client.Stream(gctx, rp)
			if err != nil {
				return fmt.Errorf("rank %d: %w", r, err)
			}
			defer s.Close()
			t := &tallies[r]
			for {
				b, err := s.Next()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("rank %d after %d batches: %w", r, t.batches, err)
				}
				t.batches++
				t.images += len(b.IDs)
				t.bytes += int64(len(b.Images))
				t.ids = append(t.ids, b.IDs...)
				t.labels = append(t.labels, b.Labels...)
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	out := &epochTally{World: p.World, Batch: p.Batch, Epoch: p.Epoch, Seconds: secs}
	var ids []int64
	perLabel := map[int32]int{}
	var bytes int64
	for _, t := range tallies {
		out.Batches += t.batches
		out.Images += t.images
		bytes += t.bytes
		ids = append(ids, t.ids...)
		for _, l := range t.labels {
			perLabel[l]++
		}
	}
	slices.Sort(ids)
	out.DistinctIDs = len(slices.Compact(ids))
	out.Identities = len(perLabel)
	for _, n := range perLabel {
		if out.MinPerIdentity == 0 || n < out.MinPerIdentity {
			out.MinPerIdentity = n
		}
		out.MaxPerIdentity = max(out.MaxPerIdentity, n)
	}
	if secs > 0 {
		out.ImagesPerSec = float64(out.Images) / secs
		out.MBPerSec = float64(bytes) / secs / 1e6
	}
	return out, nil
}
