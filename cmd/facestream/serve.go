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
	"strconv"
	"syscall"
	"time"

	"github.com/facestream/facestream/augment"
	"github.com/facestream/facestream/internal/cpuset"
	"github.com/facestream/facestream/internal/procs"
	"github.com/facestream/facestream/loader"
)

// shutdownGrace is how long streams get to finish the batch they are sending on SIGTERM.
const shutdownGrace = 10 * time.Second

func runServe(args []string) (err error) {
	fs := newFlags("serve", "DATASET [flags]")
	def := loader.DefaultConfig()
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free port)")
	profile := fs.String("profile", def.Profile, "default online augmentation profile: built-in name or YAML/JSON file")
	token := fs.String("token", "", "bearer token required on every path but /healthz (or $FACESTREAM_TOKEN, which keeps it out of ps)")
	workers := fs.String("workers", "auto", "decode+augment workers shared by all streams: a number, or auto: one per CPU the server runs on")
	cpus := fs.String("cpus", "", "run on these CPUs only (a list such as 0-7,16), pinned with sched_setaffinity")
	trainerCores := fs.Int("trainer-cores", 0, "CPUs to leave to a trainer on this host: the server pins itself off the first N CPUs it may use")
	size := fs.Int("size", def.Height, "output image height and width")
	maxBatch := fs.Int("max-batch", def.MaxBatch, "largest batch a client may ask for")
	maxStreams := fs.Int("max-streams", def.MaxStreams, "concurrent streams")
	maxMemory := fs.Int("max-memory", int(def.MaxMemory>>20), fmt.Sprintf("MiB the open streams' batch buffers (%d batches each) and the workers' decoding (see --max-pixels) may take together", def.Ahead))
	seed := fs.Uint64("seed-default", 0, "seed of a request that names none")
	stall := fs.Duration("stall-timeout", def.StallTimeout, "close a stream whose client has read nothing for this long (it resumes where it was)")
	maxPixels := fs.Int64("max-pixels", def.MaxPixels, "largest photo a worker decodes, in pixels (a JPEG at its scaled size); the workers' share counts against --max-memory")
	st := addStorageFlags(fs)
	evict := fs.Duration("evict-after", def.EvictAfter, "at the stream or memory limit, a new stream takes the place of the stream stalled longest, once stalled this long")
	pos, err := parseExact(fs, args, "DATASET")
	if err != nil {
		return err
	}
	if *token == "" {
		*token = os.Getenv("FACESTREAM_TOKEN")
	}
	nWorkers, placement, err := placeServer(*workers, *cpus, *trainerCores)
	if err != nil {
		return err
	}
	maxProcs := procs.LeaveIdle(nWorkers) // the workers spend most of their time in TurboJPEG
	for name, v := range map[string]int{"size": *size, "max-batch": *maxBatch, "max-streams": *maxStreams, "max-memory": *maxMemory} {
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
		Height: *size, Width: *size, Workers: nWorkers, Profile: *profile, Token: *token,
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
		"addr", ln.Addr().String(), "workers", nWorkers, "gomaxprocs", maxProcs, "cpus", placement, "size", *size, "profile", *profile, "auth", *token != "",
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

// placeServer pins the process as --cpus or --trainer-cores say and returns the worker count
// (--workers, or auto: one per CPU the server may run on) and the placement, for the log. A
// trainer on the same host keeps its speed only if the server leaves it cores: left to the
// scheduler, the server's busy workers take CPU time from the trainer's input and launch threads.
func placeServer(workers, cpus string, trainerCores int) (int, string, error) {
	n := 0 // auto
	if workers != "auto" {
		var err error
		if n, err = strconv.Atoi(workers); err != nil || n < 1 {
			return 0, "", fmt.Errorf("--workers=%s: want a positive number or auto", workers)
		}
	}
	allowed, err := cpuset.Allowed()
	if err != nil {
		return 0, "", err
	}
	var own cpuset.Set
	switch {
	case cpus != "" && trainerCores != 0:
		return 0, "", errors.New("--cpus and --trainer-cores both place the server: give one")
	case cpus != "":
		if own, err = cpuset.Parse(cpus); err != nil {
			return 0, "", fmt.Errorf("--cpus: %w", err)
		}
		if out := own.Outside(allowed); len(out) > 0 {
			return 0, "", fmt.Errorf("--cpus %s: CPUs %s are not among those this process may use (%s)", cpus, out, allowed)
		}
	case trainerCores != 0:
		if _, own, err = cpuset.Leave(allowed, trainerCores); err != nil {
			return 0, "", fmt.Errorf("--trainer-cores: %w", err)
		}
	}
	placement := "all allowed (" + allowed.String() + ")"
	if own != nil {
		if err := cpuset.Pin(own); err != nil {
			return 0, "", err
		}
		// Go's default GOMAXPROCS follows the affinity and a container's CPU quota, whichever is
		// less, but is read at start-up: read it again now that the affinity changed (unless the
		// user set $GOMAXPROCS).
		if os.Getenv("GOMAXPROCS") == "" {
			runtime.SetDefaultGOMAXPROCS()
		}
		placement = own.String()
	}
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return n, placement, nil
}
