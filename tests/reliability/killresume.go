package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facestream/facestream/loader"
	"golang.org/x/sync/errgroup"
)

const (
	resumeBatch = 32
	resumeKills = 10
)

// pythonReader reads one epoch through the Python client (in the main process, so that its
// retries are the only resume logic), prints a line per batch for the kill schedule, and writes the
// ids and the same hash as batchHash.
const pythonReader = `
import hashlib, json, sys, torch
import facestream
url, batch, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ds = facestream.StreamDataset(url, batch_size=batch, epoch=0, seed=0, return_ids=True, max_retries=8,
                              timeout=20, rank=0, world=1)
h, ids, n = hashlib.sha256(), [], 0
for images, labels, bids in ds:
    h.update(images.numpy().tobytes())
    h.update(labels.to(torch.int32).numpy().astype("<i4").tobytes())
    h.update(bids.to(torch.int64).numpy().astype("<i8").tobytes())
    ids.extend(bids.tolist())
    n += 1
    print(n, flush=True)
json.dump({"ids": ids, "sum": h.hexdigest(), "batches": n}, open(out, "w"))
`

// checkKillResume SIGKILLs the server at random batches of an epoch and checks that the Go client
// (world 2) and the Python client (world 1) each receive exactly the plan, with the bytes of an
// uninterrupted read.
func checkKillResume(ctx context.Context, e *env) (string, map[string]any, bool, error) {
	srv, err := e.startServer(ctx, e.raw, "--workers", "2")
	if err != nil {
		return "", nil, false, err
	}
	defer srv.stop()
	client := loader.NewClient(srv.url(), "")

	// The uninterrupted reads every interrupted one must equal.
	ref := map[int]*epochRead{}
	for _, world := range []int{1, 2} {
		for rank := range world {
			r, err := readResuming(ctx, client, loader.StreamParams{Rank: rank, World: world, Batch: resumeBatch}, nil)
			if err != nil {
				return "", nil, false, fmt.Errorf("uninterrupted read: %w", err)
			}
			if r.Resumes != 0 {
				return "", nil, false, fmt.Errorf("uninterrupted read of rank %d/%d was cut %d times", rank, world, r.Resumes)
			}
			ref[world*10+rank] = r
		}
	}
	perRank := ref[20].Batches
	killer := newKiller(ctx, srv, e.pickKillPoints(2*perRank))

	// Go: both ranks side by side, sharing one batch counter that drives the kills.
	var counted atomic.Int64
	got := make([]*epochRead, 2)
	g, gctx := errgroup.WithContext(ctx)
	for rank := range 2 {
		g.Go(func() error {
			r, err := readResuming(gctx, client, loader.StreamParams{Rank: rank, World: 2, Batch: resumeBatch},
				func(int) error { return killer.at(int(counted.Add(1))) })
			got[rank] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return "", nil, false, fmt.Errorf("go client: %w", err)
	}
	goKills := killer.done()
	goLost, goRepeated, goSame := 0, 0, true
	for rank := range 2 {
		plan, err := e.plan(ctx, rank, 2)
		if err != nil {
			return "", nil, false, err
		}
		lost, repeated := compareIDs(plan.IDs, got[rank].IDs)
		goLost, goRepeated = goLost+lost, goRepeated+repeated
		goSame = goSame && slices.Equal(plan.Positions, got[rank].Pos) && got[rank].Sum == ref[20+rank].Sum
	}

	// Python: one reader of the whole epoch, killed at its own random batches.
	pyKiller := newKiller(ctx, srv, e.pickKillPoints(ref[10].Batches))
	py, err := e.runPython(ctx, srv.url(), pyKiller)
	if err != nil {
		return "", nil, false, err
	}
	pyKills := pyKiller.done()
	plan, err := e.plan(ctx, 0, 1)
	if err != nil {
		return "", nil, false, err
	}
	pyLost, pyRepeated := compareIDs(plan.IDs, py.IDs)
	pySame := py.Sum == ref[10].Sum

	pass := goKills >= 5 && pyKills >= 5 && goLost+goRepeated+pyLost+pyRepeated == 0 && goSame && pySame
	figures := map[string]any{"go_kills": goKills, "go_lost": goLost, "go_repeated": goRepeated, "go_bytes_identical": goSame,
		"python_kills": pyKills, "python_lost": pyLost, "python_repeated": pyRepeated, "python_bytes_identical": pySame,
		"go_images": len(got[0].IDs) + len(got[1].IDs), "python_images": len(py.IDs)}
	return fmt.Sprintf("go (world 2): %d kills, %d images, %d lost, %d repeated, %s; python: %d kills, %d images, %d lost, %d repeated, %s (batch %d)",
		goKills, len(got[0].IDs)+len(got[1].IDs), goLost, goRepeated, identical(goSame),
		pyKills, len(py.IDs), pyLost, pyRepeated, identical(pySame), resumeBatch), figures, pass, nil
}

func identical(same bool) string {
	if same {
		return "bytes identical"
	}
	return "BYTES DIFFER"
}

// pickKillPoints draws resumeKills distinct batch counts in 1..total-1, sorted.
func (e *env) pickKillPoints(total int) []int {
	perm := e.rng.Perm(total - 1)[:min(resumeKills, total-1)]
	for i := range perm {
		perm[i]++
	}
	slices.Sort(perm)
	return perm
}

// killer restarts the server (kill -9, same port) each time the batch count reaches its next point.
type killer struct {
	ctx    context.Context
	srv    *server
	mu     sync.Mutex
	points []int
	kills  int
}

func newKiller(ctx context.Context, srv *server, points []int) *killer {
	return &killer{ctx: ctx, srv: srv, points: points}
}

// at is called with the running batch count; the caller blocks through the restart, the other
// readers meanwhile find the port closed and retry.
func (k *killer) at(n int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.points) == 0 || n < k.points[0] {
		return nil
	}
	k.points = k.points[1:]
	k.kills++
	return k.srv.restart(k.ctx)
}

func (k *killer) done() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kills
}

type planOut struct {
	IDs       []int64 `json:"ids"`
	Positions []int64 `json:"positions"`
}

// plan is `facestream plan` of the raw dataset for epoch 0, seed 0.
func (e *env) plan(ctx context.Context, rank, world int) (*planOut, error) {
	out, err := e.run(ctx, 30*time.Second, "plan", e.raw, "--rank", strconv.Itoa(rank), "--world", strconv.Itoa(world),
		"--batch", strconv.Itoa(resumeBatch), "--json")
	if err != nil {
		return nil, err
	}
	var p planOut
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		return nil, fmt.Errorf("plan --json: %w", err)
	}
	return &p, nil
}

// compareIDs counts planned ids never received and received ids beyond their planned count.
func compareIDs(plan, got []int64) (lost, repeated int) {
	want := map[int64]int{}
	for _, id := range plan {
		want[id]++
	}
	for _, id := range got {
		want[id]--
	}
	for _, n := range want {
		if n > 0 {
			lost += n
		} else {
			repeated -= n
		}
	}
	if lost == 0 && repeated == 0 && !slices.Equal(plan, got) {
		repeated = -1 // same multiset, wrong order: cannot happen unless batches were reordered
	}
	return lost, repeated
}

type pyOut struct {
	IDs     []int64 `json:"ids"`
	Sum     string  `json:"sum"`
	Batches int     `json:"batches"`
}

// runPython runs pythonReader against url, killing the server at k's points as batches arrive.
func (e *env) runPython(ctx context.Context, url string, k *killer) (*pyOut, error) {
	script := filepath.Join(e.work, "py_reader.py")
	outPath := filepath.Join(e.work, "py_reader.json")
	if err := os.WriteFile(script, []byte(pythonReader), 0o644); err != nil {
		return nil, fmt.Errorf("write python reader: %w", err)
	}
	cmd := e.command(ctx, "/usr/bin/python3", script, url, strconv.Itoa(resumeBatch), outPath)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(mustGetwd(), "python"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("python pipe: %w", err)
	}
	stderr, err := os.Create(filepath.Join(e.work, "py_reader.log"))
	if err != nil {
		return nil, fmt.Errorf("python log: %w", err)
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	if err := e.start(cmd); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		n, _ := strconv.Atoi(sc.Text())
		if err := k.at(n); err != nil {
			return nil, err
		}
	}
	if err := cmd.Wait(); err != nil {
		tail, _ := os.ReadFile(stderr.Name())
		return nil, fmt.Errorf("python client: %w: %s", err, lastLine(string(tail)))
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		return nil, fmt.Errorf("python result: %w", err)
	}
	var p pyOut
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("python result: %w", err)
	}
	return &p, nil
}

func mustGetwd() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return wd
}
