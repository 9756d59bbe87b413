// Command facestream cleans, equalizes and streams face-recognition training sets.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// command is one subcommand: its name, a one-line summary and its entry point.
type command struct {
	name    string
	summary string
	run     func(args []string) error
}

func main() {
	commands := []command{
		// Each subcommand lives in its own file of this package; keep one line per command here.
		{"serve", "stream a dataset as decoded, augmented training batches over HTTP", runServe},
		{"plan", "print the sample ids a rank gets in an epoch, in order", runPlan},
		{"synth", "generate a synthetic face-identity set (ImageFolder + truth.csv)", runSynth},
		{"plant", "plant label noise with known truth into an ImageFolder (ImageFolder + truth.csv)", runPlant},
		{"import", "import an ImageFolder, InsightFace .rec or Parquet set as a raw dataset", runImport},
		{"export", "write a dataset as Parquet or InsightFace RecordIO", runExport},
		{"inspect", "print a dataset's counts, identities, size histogram and shards", runInspect},
		{"augment", "preview a profile on a dataset (PNG grid) or benchmark decode+augment on a folder", runAugment},
		{"consume", "read one whole epoch from a running server with every rank of a world, and tally it", runConsume},
		{"bench", "measure streaming throughput (images/s, batch times, CPU per image, server stages)", runBench},
		{"offline", "clean, augment and equalize a raw dataset with a pre-model (S2–S4)", runOffline},
	}
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage(commands)
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	name := os.Args[1]
	for _, c := range commands {
		if c.name != name {
			continue
		}
		if err := c.run(os.Args[2:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return
			}
			fmt.Fprintf(os.Stderr, "facestream %s: %v\n", name, err)
			os.Exit(1)
		}
		return
	}
	fmt.Fprintf(os.Stderr, "facestream: unknown command %q\n\n", name)
	usage(commands)
	os.Exit(2)
}

func usage(commands []command) {
	fmt.Fprintln(os.Stderr, "usage: facestream <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'facestream <command> -h' for a command's flags.")
}
