package loader

import (
	"fmt"
	"math"
	"strconv"

	"github.com/facestream/facestream/sampler"
	"github.com/valyala/fasthttp"
)

// Format is a wire encoding of a stream.
type Format string

const (
	// FormatArrow is an Arrow IPC stream, one record batch per training batch.
	FormatArrow Format = "arrow"
	// FormatNPY is three NPY arrays per batch and an end marker.
	FormatNPY Format = "npy"
)

// Query limits that keep every derived number inside an int32 position or a sane plan.
const (
	maxWorld  = 1 << 16
	maxEpoch  = math.MaxInt32
	maxEpochs = 1 << 20
	maxQuery  = 1024 // bytes of query string; longer gets 414
)

// planQuery selects one rank's plan: everything /v1/info and /v1/stream share.
type planQuery struct {
	rank, world, batch int
	epoch              int
	seed               uint64
	mode               sampler.Mode
	pad                bool
	epochLen           int // weighted only
	p, k               int // pk only
}

// streamQuery is a validated /v1/stream request.
type streamQuery struct {
	planQuery
	start   int
	profile string
	format  Format
	epochs  int // 0: endless
}

// queryDefaults are what a parameter the client leaves out becomes.
type queryDefaults struct {
	mode        sampler.Mode
	profile     string
	seed        uint64
	maxBatch    int
	maxEpochLen int // weighted epochs longer than this are refused: a plan holds 4 bytes per draw
}

// maxEpochLenPerSample bounds a weighted epoch at this many draws per sample of the dataset.
const maxEpochLenPerSample = 16

// badRequest is a parameter error: it becomes a 400 with a JSON body.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

// queryReader reads named parameters once each and rejects names nobody asked for.
type queryReader struct {
	args *fasthttp.Args
}

func newQueryReader(args *fasthttp.Args, names ...string) (*queryReader, error) {
	known := make(map[string]bool, len(names))
	for _, n := range names {
		known[n] = true
	}
	seen := make(map[string]bool, args.Len())
	for k := range args.All() {
		name := string(k)
		if !known[name] {
			return nil, badf("unknown query parameter %q", name)
		}
		if seen[name] {
			return nil, badf("query parameter %q given more than once", name)
		}
		seen[name] = true
	}
	return &queryReader{args: args}, nil
}

func (q *queryReader) has(name string) bool { return q.args.Has(name) }

// int reads an integer parameter in [lo, hi], def when absent.
func (q *queryReader) int(name string, def, lo, hi int) (int, error) {
	if !q.has(name) {
		return def, nil
	}
	raw := string(q.args.Peek(name))
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, badf("%s=%q is not an integer", name, raw)
	}
	if v < int64(lo) || v > int64(hi) {
		return 0, badf("%s=%d outside %d..%d", name, v, lo, hi)
	}
	return int(v), nil
}

func (q *queryReader) uint64(name string, def uint64) (uint64, error) {
	if !q.has(name) {
		return def, nil
	}
	raw := string(q.args.Peek(name))
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, badf("%s=%q is not an unsigned 64-bit integer", name, raw)
	}
	return v, nil
}

func (q *queryReader) bool(name string) (bool, error) {
	switch raw := string(q.args.Peek(name)); raw {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, badf("%s=%q is not 0 or 1", name, raw)
	}
}

// string reads a parameter; an empty value counts as absent.
func (q *queryReader) string(name, def string) string {
	if v := q.args.Peek(name); len(v) > 0 {
		return string(v)
	}
	return def
}

var planParams = []string{"rank", "world", "batch", "epoch", "seed", "mode", "pad", "epoch_len", "p", "k"}

// parsePlan reads the plan parameters; batch is required when needBatch.
func parsePlan(q *queryReader, d queryDefaults, needBatch bool) (planQuery, error) {
	var pq planQuery
	var err error
	if pq.world, err = q.int("world", 1, 1, maxWorld); err != nil {
		return pq, err
	}
	if pq.rank, err = q.int("rank", 0, 0, maxWorld-1); err != nil {
		return pq, err
	}
	if pq.rank >= pq.world {
		return pq, badf("rank=%d must be below world=%d", pq.rank, pq.world)
	}
	if needBatch && !q.has("batch") {
		return pq, badf("batch is required (1..%d)", d.maxBatch)
	}
	if pq.batch, err = q.int("batch", 0, 1, d.maxBatch); err != nil {
		return pq, err
	}
	if pq.epoch, err = q.int("epoch", 0, 0, maxEpoch); err != nil {
		return pq, err
	}
	if pq.seed, err = q.uint64("seed", d.seed); err != nil {
		return pq, err
	}
	pq.mode = d.mode
	if q.has("mode") && len(q.args.Peek("mode")) > 0 {
		if pq.mode, err = sampler.ParseMode(string(q.args.Peek("mode"))); err != nil {
			return pq, &badRequest{err.Error()}
		}
	}
	if pq.pad, err = q.bool("pad"); err != nil {
		return pq, err
	}
	if pq.epochLen, err = q.int("epoch_len", 0, 0, d.maxEpochLen); err != nil {
		return pq, err
	}
	if q.has("epoch_len") && pq.mode != sampler.Weighted {
		return pq, badf("epoch_len applies to mode=weighted only, not %s", pq.mode)
	}
	if pq.p, err = q.int("p", 0, 1, math.MaxInt32); err != nil {
		return pq, err
	}
	if pq.k, err = q.int("k", 0, 1, math.MaxInt32); err != nil {
		return pq, err
	}
	if pq.mode != sampler.PK {
		if q.has("p") || q.has("k") {
			return pq, badf("p and k apply to mode=pk only, not %s", pq.mode)
		}
		return pq, nil
	}
	if !needBatch && pq.batch == 0 && pq.p == 0 && pq.k == 0 {
		return pq, nil // /v1/info without a plan to describe
	}
	return pq, resolvePK(&pq)
}

// defaultK is the photos per identity of a pk batch when the client names neither p nor k.
const defaultK = 4

// resolvePK derives the missing one of p and k from the batch, which must equal p*k.
func resolvePK(pq *planQuery) error {
	if pq.batch == 0 {
		if pq.p == 0 || pq.k == 0 {
			return badf("mode=pk needs batch, or both p and k")
		}
		pq.batch = pq.p * pq.k
		return nil
	}
	switch {
	case pq.p == 0 && pq.k == 0:
		pq.k = defaultK
		fallthrough
	case pq.p == 0:
		pq.p = pq.batch / pq.k
	case pq.k == 0:
		pq.k = pq.batch / pq.p
	}
	if pq.p < 1 || pq.k < 1 || pq.p*pq.k != pq.batch {
		return badf("mode=pk needs batch=p*k, got batch=%d p=%d k=%d", pq.batch, pq.p, pq.k)
	}
	return nil
}

// parseStream reads and checks every /v1/stream parameter except those that need the plan (start's upper bound).
func parseStream(args *fasthttp.Args, d queryDefaults) (*streamQuery, error) {
	q, err := newQueryReader(args, append(planParams, "start", "profile", "format", "epochs")...)
	if err != nil {
		return nil, err
	}
	sq := &streamQuery{}
	if sq.planQuery, err = parsePlan(q, d, true); err != nil {
		return nil, err
	}
	if sq.start, err = q.int("start", 0, 0, math.MaxInt32); err != nil {
		return nil, err
	}
	if sq.start%sq.batch != 0 {
		return nil, badf("start=%d is not a multiple of batch=%d (resume after whole batches)", sq.start, sq.batch)
	}
	if sq.epochs, err = q.int("epochs", 1, 0, maxEpochs); err != nil {
		return nil, err
	}
	if sq.epochs > 0 && sq.epoch+sq.epochs-1 > maxEpoch {
		return nil, badf("epoch=%d with epochs=%d runs past epoch %d", sq.epoch, sq.epochs, maxEpoch)
	}
	sq.profile = q.string("profile", d.profile)
	switch f := Format(q.string("format", string(FormatArrow))); f {
	case FormatArrow, FormatNPY:
		sq.format = f
	default:
		return nil, badf("format=%q: want arrow or npy", f)
	}
	return sq, nil
}

// parseInfo reads the optional plan parameters of /v1/info; the plan is described when batch is given.
func parseInfo(args *fasthttp.Args, d queryDefaults) (pq planQuery, withPlan bool, err error) {
	q, err := newQueryReader(args, planParams...)
	if err != nil {
		return pq, false, err
	}
	pq, err = parsePlan(q, d, false)
	return pq, pq.batch > 0, err
}
