package main

import (
	"context"
	"net"
	"testing"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/loader"
)

// serveForTest serves dataset dir on a free loopback port until the test ends.
func serveForTest(t *testing.T, dir string) string {
	t.Helper()
	ds, err := arrowio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return serveDataset(t, ds)
}

// serveDataset serves an open dataset on a free loopback port until the test ends, then closes it.
func serveDataset(t *testing.T, ds *arrowio.Dataset) string {
	t.Helper()
	srv, err := loader.NewServer(ds, loader.Config{Height: 16, Width: 16, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
		ds.Close()
	})
	return "http://" + ln.Addr().String()
}

func TestConsumeReadsOneWholeEpoch(t *testing.T) {
	url := serveForTest(t, writeImageDataset(t, 12))
	for _, tc := range []struct {
		format       string
		world, batch int
	}{
		{"arrow", 2, 4}, // 24 photos: 3 batches a rank, nothing dropped
		{"npy", 3, 5},   // 4 whole batches of 5: 4 photos dropped, every rank gets 1 batch
	} {
		got, err := consumeEpoch(context.Background(), loader.NewClient(url, ""),
			loader.StreamParams{World: tc.world, Batch: tc.batch, Format: tc.format, Mode: "uniform"})
		if err != nil {
			t.Fatal(err)
		}
		batchesPerRank := 24 / tc.batch / tc.world
		want := batchesPerRank * tc.world * tc.batch
		if got.Batches != batchesPerRank*tc.world || got.Images != want || got.DistinctIDs != want {
			t.Errorf("%s world %d batch %d: %+v, want %d distinct images in %d batches", tc.format, tc.world, tc.batch, got, want, batchesPerRank*tc.world)
		}
		if got.Identities != 2 || got.MinPerIdentity+got.MaxPerIdentity != want || got.ImagesPerSec <= 0 {
			t.Errorf("%s: identity tally %+v", tc.format, got)
		}
	}
	if _, err := consumeEpoch(context.Background(), loader.NewClient(url, ""), loader.StreamParams{World: 1, Batch: 100}); err == nil {
		t.Fatal("a batch larger than the epoch was accepted")
	}
}
