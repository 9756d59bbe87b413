package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/sampler"
)

// defaultPlanBatch is the batch size when --batch is not given outside pk mode.
const defaultPlanBatch = 256

// runPlan prints the sample ids a rank gets in an epoch, in order, so users can
// audit exactly what a rank will see.
func runPlan(args []string) error {
	return writePlan(os.Stdout, args)
}

func writePlan(stdout io.Writer, args []string) (err error) {
	fs := newFlags("plan", "DS [--mode M] [--epoch E] [--rank R] [--world W] [--batch B] [--seed S] [--start K] [--pad] [--json] [--epoch-len N] [--p P --k K]")
	modeName := fs.String("mode", "", "sampling mode: uniform, balanced, weighted or pk (default: balanced for an equalized dataset, uniform otherwise)")
	epochNum := fs.Int("epoch", 0, "epoch")
	rank := fs.Int("rank", 0, "rank, 0..world-1")
	world := fs.Int("world", 1, "number of ranks")
	batch := fs.Int("batch", 0, fmt.Sprintf("batch size (default: P*K in pk mode, else %d)", defaultPlanBatch))
	seed := fs.Uint64("seed", 0, "seed")
	start := fs.Int("start", 0, "first position of the rank to print (resume point)")
	pad := fs.Bool("pad", false, "wrap around to give every rank its last batch instead of dropping the remainder")
	asJSON := fs.Bool("json", false, "print one JSON object with ids, labels and positions")
	epochLen := fs.Int("epoch-len", 0, "weighted mode: draws per epoch (default: number of samples)")
	p := fs.Int("p", 0, "pk mode: identities per batch")
	k := fs.Int("k", 0, "pk mode: photos per identity")
	st := addStorageFlags(fs)
	pos, err := parseExact(fs, args, "DS")
	if err != nil {
		return err
	}
	dir := pos[0]

	ds, err := st.open(context.Background(), dir)
	if err != nil {
		return err
	}
	defer closeDataset(ds, dir, &err)

	mode := sampler.Uniform
	if ds.Manifest().Kind == arrowio.KindEqualized {
		mode = sampler.Balanced
	}
	if *modeName != "" {
		if mode, err = sampler.ParseMode(*modeName); err != nil {
			return err
		}
	}
	pop := &sampler.Population{Labels: ds.Labels(), NumClasses: ds.NumClasses(), Fingerprint: ds.Fingerprint()}
	switch mode {
	case sampler.Balanced, sampler.PK:
		pop.Quotas = ds.Quotas()
	case sampler.Weighted:
		pop.Weights = ds.Weights()
	}
	if mode == sampler.PK && (*p < 1 || *k < 1) {
		return fmt.Errorf("pk mode needs --p (identities per batch) and --k (photos per identity)")
	}
	epoch, err := sampler.Build(pop, sampler.Spec{Mode: mode, Seed: *seed, Epoch: *epochNum, EpochLen: *epochLen, P: *p, K: *k})
	if err != nil {
		return fmt.Errorf("plan %s: %w", dir, err)
	}
	if *batch == 0 {
		*batch = defaultPlanBatch
		if mode == sampler.PK {
			*batch = *p * *k
		}
	}
	rp, err := epoch.Rank(*world, *rank, *batch, *pad)
	if err != nil {
		return fmt.Errorf("plan %s: %w", dir, err)
	}
	if *start < 0 || *start > rp.Len() {
		return fmt.Errorf("start %d outside the rank's 0..%d positions", *start, rp.Len())
	}

	out := bufio.NewWriterSize(stdout, 1<<16)
	pw := planWriter{out: out, ds: ds, plan: rp, start: *start}
	if *asJSON {
		head, err := json.Marshal(planHeader{
			Mode: mode, Epoch: *epochNum, Rank: *rank, World: *world, Batch: *batch,
			Start: *start, Batches: rp.Batches(), Pad: *pad,
		})
		if err != nil {
			return fmt.Errorf("encode plan header: %w", err)
		}
		pw.json(head)
	} else {
		pw.lines()
	}
	if err := out.Flush(); err != nil { // bufio keeps the first write error until here
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// planHeader is the JSON object's scalar part; ids, labels and positions follow it.
type planHeader struct {
	Mode    sampler.Mode `json:"mode"`
	Epoch   int          `json:"epoch"`
	Rank    int          `json:"rank"`
	World   int          `json:"world"`
	Batch   int          `json:"batch"`
	Start   int          `json:"start"`
	Batches int          `json:"batches"`
	Pad     bool         `json:"pad"`
}

// planWriter streams a rank's plan from start on, a chunk of positions at a
// time, so a plan of millions of samples needs no more than a chunk in memory.
type planWriter struct {
	out   *bufio.Writer
	ds    *arrowio.Dataset
	plan  *sampler.RankPlan
	start int
	rows  [4096]int32
	num   []byte
}

// each calls emit for every position from start on with its row.
func (w *planWriter) each(emit func(pos int, row int32)) {
	for pos := w.start; ; {
		n := w.plan.Fill(pos, w.rows[:])
		if n == 0 {
			return
		}
		for i, row := range w.rows[:n] {
			emit(pos+i, row)
		}
		pos += n
	}
}

// lines writes one sample id per line.
func (w *planWriter) lines() {
	w.each(func(_ int, row int32) {
		w.num = strconv.AppendInt(w.num[:0], w.ds.ID(int(row)), 10)
		w.num = append(w.num, '\n')
		w.out.Write(w.num)
	})
}

// json writes the header object extended with the ids, labels and positions arrays.
func (w *planWriter) json(head []byte) {
	w.out.Write(head[:len(head)-1]) // without its closing brace
	w.array(`,"ids":[`, func(_ int, row int32) int64 { return w.ds.ID(int(row)) })
	w.array(`],"labels":[`, func(_ int, row int32) int64 { return int64(w.ds.Label(int(row))) })
	w.array(`],"positions":[`, func(pos int, _ int32) int64 { return int64(pos) })
	w.out.WriteString("]}\n")
}

func (w *planWriter) array(open string, value func(pos int, row int32) int64) {
	w.out.WriteString(open)
	first := true
	w.each(func(pos int, row int32) {
		w.num = w.num[:0]
		if !first {
			w.num = append(w.num, ',')
		}
		first = false
		w.num = strconv.AppendInt(w.num, value(pos, row), 10)
		w.out.Write(w.num)
	})
}
