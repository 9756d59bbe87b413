package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/facestream/facestream/augment"
	"github.com/facestream/facestream/loader"
)

// shutdownGrace is how long streams get to finish the batch they are sending on SIGTERM.
const shutdownGrace = 10 * time.Second

func runServe(args []string) (err error) {
	fs := newFlags("serve", "DATASET [flags]")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	profile := fs.String("profile", "face", "default online augmentation profile: built-in name or YAML/JSON file")
	token := fs.String("token", "", "bearer token required on every path but /healthz (or $FACESTREAM_TOKEN, which keeps it out of ps)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "decode+augment workers shared by all streams")
	size := fs.Int("size", 112, "output image height and width")
	maxBatch := fs.Int("max-batch", 4096, "largest batch a client may ask for")
	maxStreams := fs.Int("max-streams", 64, "concurrent streams")
	maxMemory := fs.Int("max-memory", 16384, "MiB the open streams' batch buffers (3 batches each) and the workers' decoding (see --max-pixels) may take together")
	seed := fs.Uint64("seed-default", 0, "seed of a request that names none")
	stall := fs.Duration("stall-timeout", loader.DefaultStallTimeout, "close a stream whose client has read nothing for this long (it resumes where it was)")
	maxPixels := fs.Int64("max-pixels", augment.DefaultMaxPixels, "largest photo a worker decodes, in pixels (a JPEG at its scaled size); the workers' share counts against --max-memory")
	st := addStorageFlags(fs)
	evict := fs.Duration("evict-after", loader.DefaultEvictAfter, "at the stream or memory limit, a new stream takes the place of the stream stalled longest, once stalled this long")
	pos, err := parseExact(fs, args, "DATASET")
	if err != nil {
		return err
	}
	if *token == "" {
		*token = os.Getenv("FACESTREAM_TOKEN")
	}
	for name, v := range map[string]int{"workers": *workers, "size": *size, "max-batch": *maxBatch, "max-streams": *maxStreams, "max-memory": *maxMemory} {
		if v < 1 {
			return fmt.Errorf("--%s=%d: want a positive number", name, v)
		}
	}
	ds, err := st.open(context.Background(), pos[0])
	if err != nil {
		return err
	}
	streamsLeft := false // streams that would not stop may still read the dataset: keep it mapped
	defer func() {
		if !streamsLeft {
			closeDataset(ds, pos[0], &err)
		}
	}()
	srv, err := loader.NewServer(ds, loader.Config{
		Height: *size, Width: *size, Workers: *workers, Profile: *profile, Token: *token,
		MaxBatch: *maxBatch, MaxStreams: *maxStreams, MaxMemory: int64(*maxMemory) << 20, Seed: *seed,
		StallTimeout: *stall, EvictAfter: *evict, MaxPixels: *maxPixels, Logger: slog.Default(),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "facestream: serving %s on http://%s\n", pos[0], ln.Addr())
	slog.Info("serving", "dataset", pos[0], "samples", ds.Len(), "identities", ds.NumClasses(),
		"addr", ln.Addr().String(), "workers", *workers, "size", *size, "profile", *profile, "auth", *token != "",
		"decoder", augment.JPEGDecoder, "kernels", augment.Kernels())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills the process the default way
	slog.Info("shutting down", "grace", shutdownGrace)
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	shutErr := srv.Shutdown(shutCtx)
	streamsLeft = shutErr != nil // the process ends next, unmapping it anyway
	return errors.Join(shutErr, <-served)
}
