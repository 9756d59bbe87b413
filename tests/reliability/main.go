// Command reliability is facestream's fault and bad-input campaign, run by
// `make reliability`: it drives the real binary on loopback as users and attackers would, prints one
// summary line per check with its figures, and exits 1 if any check failed. Every process it starts
// is killed when it ends, whatever happened.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// result is one check's summary line.
type result struct {
	Name    string         `json:"name"`
	Pass    bool           `json:"pass"`
	Summary string         `json:"summary"`
	Figures map[string]any `json:"figures,omitempty"`
	Seconds float64        `json:"seconds"`
}

// check is one entry of the campaign; it returns its figures, a one-line summary and whether it passed.
type check struct {
	name    string
	timeout time.Duration
	run     func(ctx context.Context, e *env) (summary string, figures map[string]any, pass bool, err error)
}

// env is what the checks share: the harness, the datasets made once, and the random source.
type env struct {
	*harness
	rng *rand.Rand
	syn string // synth photos (images/<identity>/...)
	raw string // raw dataset imported from syn
}

func main() { os.Exit(run()) }

func run() int {
	bin := flag.String("bin", "bin/facestream", "facestream binary to test")
	jsonPath := flag.String("json", "", "also write the summary as JSON to this file")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the random kill points and abort sizes")
	keep := flag.Bool("keep", false, "keep the work folder (logs, datasets) for inspection")
	only := flag.String("only", "", "run only the check of this name")
	flag.Parse()

	binPath, err := filepath.Abs(*bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		return 2
	}
	work, err := os.MkdirTemp("", "facestream-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		return 2
	}
	h := &harness{bin: binPath, work: work}
	// SIGINT/SIGTERM cancel the checks; the deferred killAll then reaps every process started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer func() {
		h.killAll()
		if *keep {
			fmt.Println("work folder kept:", work)
		} else {
			os.RemoveAll(work)
		}
	}()

	fmt.Printf("reliability: seed %d, binary %s\n", *seed, binPath)
	e := &env{harness: h, rng: rand.New(rand.NewPCG(*seed, 13))}
	if err := e.prepare(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "reliability: prepare:", err)
		return 1
	}
	checks := []check{
		{"kill/resume", 90 * time.Second, checkKillResume},
		{"aborted streams", 90 * time.Second, checkAborts},
		{"concurrent load", 50 * time.Second, checkLoad},
		{"stalled readers", 60 * time.Second, checkStalled},
		{"bad queries", 60 * time.Second, checkBadQueries},
		{"bad imports", 90 * time.Second, checkBadImports},
		{"offline kill", 120 * time.Second, checkOfflineKill},
	}
	var results []result
	failed := 0
	for _, c := range checks {
		if ctx.Err() != nil {
			fmt.Println("reliability: interrupted")
			return 1
		}
		if *only != "" && c.name != *only {
			continue
		}
		t0 := time.Now()
		cctx, cancel := context.WithTimeout(ctx, c.timeout)
		summary, figures, pass, err := c.run(cctx, e)
		cancel()
		h.killAll() // a check that failed half-way may leave a server behind
		if err != nil {
			summary, pass = fmt.Sprintf("error: %v", err), false
		}
		if ctx.Err() != nil { // figures cut short by a signal prove nothing
			summary, pass = "interrupted: "+summary, false
		}
		r := result{Name: c.name, Pass: pass, Summary: summary, Figures: figures, Seconds: time.Since(t0).Seconds()}
		results = append(results, r)
		verdict := "PASS"
		if !pass {
			verdict = "FAIL"
			failed++
		}
		fmt.Printf("%-16s %s  %s (%.0fs)\n", r.Name, verdict, r.Summary, r.Seconds)
	}
	if *jsonPath != "" {
		b, _ := json.MarshalIndent(map[string]any{"seed": *seed, "failed": failed, "checks": results}, "", "  ")
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "reliability: write json:", err)
			return 1
		}
	}
	if failed > 0 {
		fmt.Printf("reliability: %d of %d checks failed\n", failed, len(results))
		return 1
	}
	fmt.Printf("reliability: all %d checks passed\n", len(results))
	return 0
}

// prepare makes the synthetic set and its raw dataset that most checks serve: 300 identities,
// about 3,000 photos, so that an epoch lasts long enough to be interrupted at many points.
func (e *env) prepare(ctx context.Context) error {
	e.syn = filepath.Join(e.work, "syn")
	e.raw = filepath.Join(e.work, "raw")
	if _, err := e.run(ctx, 60*time.Second, "synth", "--out", e.syn, "--identities", "300", "--seed", "7"); err != nil {
		return err
	}
	_, err := e.run(ctx, 60*time.Second, "import", "imagefolder", filepath.Join(e.syn, "images"), "--out", e.raw)
	return err
}
