package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

const offlineKills = 4

// checkOfflineKill SIGKILLs `offline run` at random times, reruns it to completion, and checks the
// equalized dataset has the bytes of an uninterrupted run (every shard's sha256 in dataset.json).
func checkOfflineKill(ctx context.Context, e *env) (string, map[string]any, bool, error) {
	model, err := filepath.Abs("testdata/premodel-synth.onnx")
	if err != nil {
		return "", nil, false, fmt.Errorf("model path: %w", err)
	}
	args := func(out string) []string {
		return []string{"offline", "run", e.raw, "--model", model, "--out", out}
	}
	ref := filepath.Join(e.work, "eq-ref")
	t0 := time.Now()
	if _, err := e.run(ctx, 60*time.Second, args(ref)...); err != nil {
		return "", nil, false, fmt.Errorf("uninterrupted offline run: %w", err)
	}
	full := time.Since(t0)

	// Kill at random times within an uninterrupted run's duration, each attempt resuming the last.
	eq := filepath.Join(e.work, "eq-killed")
	kills := 0
	var killedAt []string
	// A resumed run is shorter than a full one and may finish before its kill: try up to twice as often.
	for attempt := 0; attempt < 2*offlineKills && kills < offlineKills; attempt++ {
		after := time.Duration(float64(full) * (0.05 + 0.55*e.rng.Float64()))
		cmd := e.command(ctx, e.bin, args(eq)...)
		if err := e.start(cmd); err != nil {
			return "", nil, false, err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-time.After(after):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			kills++
			killedAt = append(killedAt, fmt.Sprintf("%.1fs", after.Seconds()))
		case <-done: // a resumed run may finish before its kill time
		}
	}
	if _, err := e.run(ctx, 60*time.Second, args(eq)...); err != nil {
		return "", nil, false, fmt.Errorf("rerun after kills: %w", err)
	}
	refSums, err := shardSums(ref)
	if err != nil {
		return "", nil, false, err
	}
	gotSums, err := shardSums(eq)
	if err != nil {
		return "", nil, false, err
	}
	same := slices.Equal(refSums, gotSums)
	figures := map[string]any{"kills": kills, "killed_at": killedAt, "uninterrupted_s": full.Seconds(), "shards": len(refSums), "identical": same}
	return fmt.Sprintf("%d SIGKILLs (at %v of a %.1f s run) then rerun: %d shards, %s", kills, killedAt, full.Seconds(), len(refSums), identical(same)),
		figures, kills >= 3 && same, nil
}

// shardSums lists the sha256 of every shard (and the classes file) in dataset.json.
func shardSums(ds string) ([]string, error) {
	var m struct {
		Classes struct{ Sha256 string }   `json:"classes"`
		Shards  []struct{ Sha256 string } `json:"shards"`
	}
	if err := readJSON(filepath.Join(ds, "dataset.json"), &m); err != nil {
		return nil, err
	}
	if len(m.Shards) == 0 {
		return nil, fmt.Errorf("%s: no shards in dataset.json", ds)
	}
	sums := []string{m.Classes.Sha256}
	for _, s := range m.Shards {
		sums = append(sums, s.Sha256)
	}
	return sums, nil
}
