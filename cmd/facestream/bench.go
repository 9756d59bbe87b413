package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/facestream/facestream/bench"
	"github.com/facestream/facestream/internal/procs"
)

// runBench measures streaming throughput from an in-process server on a dataset, or from a running one.
func runBench(args []string) error {
	return writeBench(os.Stdout, args)
}

func writeBench(stdout io.Writer, args []string) error {
	fs := newFlags("bench", "[DS | --url URL] [--streams N] [--batch B] [--duration 15s] [--warmup 2s] [--repeat 3] [--profile P] [--format arrow|npy] [--workers N] [--json]")
	cfg := bench.Config{}
	fs.StringVar(&cfg.URL, "url", "", "base URL of a running server (instead of serving DS in-process)")
	fs.StringVar(&cfg.Token, "token", os.Getenv("FACESTREAM_TOKEN"), "bearer token (default $FACESTREAM_TOKEN)")
	fs.IntVar(&cfg.Streams, "streams", runtime.NumCPU(), "concurrent streams, each a rank of that many")
	fs.IntVar(&cfg.Batch, "batch", 256, "images per batch")
	fs.DurationVar(&cfg.Duration, "duration", 15e9, "measured time of each run")
	fs.DurationVar(&cfg.Warmup, "warmup", 2e9, "time read and discarded before each run's measurement")
	fs.IntVar(&cfg.Repeat, "repeat", 3, "runs; the report gives the median of each figure")
	fs.StringVar(&cfg.Profile, "profile", "", "augmentation profile (default: the server's, face)")
	fs.StringVar(&cfg.Format, "format", "arrow", "wire format: arrow or npy")
	fs.StringVar(&cfg.Mode, "mode", "", "sampling mode (default: the server's for the dataset)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "stream seed")
	fs.IntVar(&cfg.Workers, "workers", 0, "in-process server's decode workers (default: one per CPU)")
	asJSON := fs.Bool("json", false, "write the report as JSON (schema in package bench's Report)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1:
		cfg.Dataset = pos[0]
	case len(pos) > 1:
		fs.Usage()
		return fmt.Errorf("want at most one dataset folder, got %q", pos)
	}
	if cfg.Dataset != "" { // the in-process server sizes GOMAXPROCS as `facestream serve` does
		if cfg.Workers == 0 {
			cfg.Workers = runtime.GOMAXPROCS(0)
		}
		procs.LeaveIdle(cfg.Workers)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		return nil
	}
	return report.WriteText(stdout)
}
