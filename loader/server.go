// Package loader serves a dataset as a stream of decoded, augmented training batches over HTTP
// (fasthttp; Arrow IPC or NPY on the wire, per PROTOCOL.md), and reads such streams back.
package loader

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/augment"
	"github.com/facestream/facestream/sampler"
	"github.com/valyala/fasthttp"
)

// Config are the server's settings; a zero field takes its value in DefaultConfig.
type Config struct {
	Height, Width int    // output image size
	Workers       int    // decode+augment goroutines shared by all streams
	Profile       string // default online profile, built-in name or YAML/JSON file
	Token         string // bearer token every request but /healthz needs; "": no auth
	MaxBatch      int    // largest batch a client may ask for
	MaxStreams    int    // concurrent streams
	MaxMemory     int64  // bytes the open streams' batch buffers and the workers' decoding may take together
	Seed          uint64 // seed of a request that names none
	Ahead         int    // batches made ahead of the one being sent, per stream
	// StallTimeout closes a stream whose client has read nothing for that long (a trainer may
	// pause minutes for evaluation or a checkpoint).
	StallTimeout time.Duration
	// EvictAfter lets a new stream, at the stream or memory limit, take the place of the stream
	// stalled longest when it has been stalled at least this long.
	EvictAfter time.Duration
	// MaxPixels bounds what a photo may decode to (a JPEG at its scaled size). Every worker's
	// share, MaxPixels × augment.DecodeBytesPerPixel, counts against MaxMemory.
	MaxPixels int64
	Logger    *slog.Logger // nil: slog.Default()
}

// Stalled-stream defaults: a paused trainer keeps its stream for ten minutes, and keeps it longer
// unless a new stream needs its place, which one stalled for a minute gives up.
const (
	DefaultStallTimeout = 10 * time.Minute
	DefaultEvictAfter   = time.Minute
)

// DefaultConfig is the one source of the server's defaults: NewServer fills a zero field from it
// and `facestream serve` shows it as its flags' defaults.
func DefaultConfig() Config {
	return Config{
		Height: 112, Width: 112,
		Workers:      runtime.GOMAXPROCS(0),
		Profile:      "face",
		MaxBatch:     4096,
		MaxStreams:   64,
		MaxMemory:    16 << 30,
		Ahead:        3,
		StallTimeout: DefaultStallTimeout,
		EvictAfter:   DefaultEvictAfter,
		MaxPixels:    augment.DefaultMaxPixels,
	}
}

// withDefaults returns c with every zero field taken from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Height, c.Width = cmp.Or(c.Height, d.Height), cmp.Or(c.Width, d.Width)
	c.Workers, c.Profile = cmp.Or(c.Workers, d.Workers), cmp.Or(c.Profile, d.Profile)
	c.MaxBatch, c.MaxStreams = cmp.Or(c.MaxBatch, d.MaxBatch), cmp.Or(c.MaxStreams, d.MaxStreams)
	c.MaxMemory, c.Ahead = cmp.Or(c.MaxMemory, d.MaxMemory), cmp.Or(c.Ahead, d.Ahead)
	c.StallTimeout, c.EvictAfter = cmp.Or(c.StallTimeout, d.StallTimeout), cmp.Or(c.EvictAfter, d.EvictAfter)
	c.MaxPixels = cmp.Or(c.MaxPixels, d.MaxPixels)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	return c
}

// Server streams one dataset.
type Server struct {
	ds       *arrowio.Dataset
	height   int
	width    int
	token    [sha256.Size]byte
	hasToken bool
	ahead    int
	defaults queryDefaults
	limits   struct {
		maxBatch, maxStreams int
		maxMemory            int64
	}
	profiles map[string]*augment.Profile
	classes  classRows
	plans    *planCache
	pool     *pool
	slots    *slotPool
	metrics  *serverMetrics
	log      *slog.Logger
	http     *fasthttp.Server
	workers  int

	quit     chan struct{} // closed by Shutdown: streams stop at the next batch
	quitOnce sync.Once

	stallTimeout, evictAfter time.Duration
	maxPixels                int64
	decodeBytes              int64 // the workers' decode memory at most, set aside under maxMemory

	idle      *time.Timer   // runs trimIdle once no stream has been open for trimAfter
	trimAfter time.Duration // idleTrimAfter; tests shorten it

	mu       sync.Mutex
	streams  map[*stream]struct{}
	reserved int64 // batch buffer bytes of the open streams (bufferBytes each)
}

// plansKept is how many epoch plans the server keeps (see planCache): a job's current epoch, the
// next one built ahead, and one more for a second job or a late rank.
const plansKept = 3

// NewServer prepares to serve ds; it starts the worker pool, which Shutdown stops, and listens
// nowhere yet.
func NewServer(ds *arrowio.Dataset, cfg Config) (*Server, error) {
	if ds.Len() == 0 {
		return nil, fmt.Errorf("dataset %s has no samples to serve", ds.Dir())
	}
	for name, v := range map[string]int64{"workers": int64(cfg.Workers), "max batch": int64(cfg.MaxBatch),
		"max streams": int64(cfg.MaxStreams), "batches ahead": int64(cfg.Ahead), "max memory": cfg.MaxMemory,
		"stall timeout": int64(cfg.StallTimeout), "evict after": int64(cfg.EvictAfter), "max pixels": cfg.MaxPixels} {
		if v < 0 {
			return nil, fmt.Errorf("%s %d is negative", name, v)
		}
	}
	cfg = cfg.withDefaults()
	s := &Server{ds: ds, height: cfg.Height, width: cfg.Width, ahead: cfg.Ahead, workers: cfg.Workers,
		log: cfg.Logger, quit: make(chan struct{}), streams: make(map[*stream]struct{})}
	if s.height < 8 || s.width < 8 || s.height > 1024 || s.width > 1024 {
		return nil, fmt.Errorf("image size %dx%d outside 8..1024", s.height, s.width)
	}
	s.limits.maxBatch, s.limits.maxStreams, s.limits.maxMemory = cfg.MaxBatch, cfg.MaxStreams, cfg.MaxMemory
	s.stallTimeout, s.evictAfter = cfg.StallTimeout, cfg.EvictAfter
	s.maxPixels = min(cfg.MaxPixels, augment.MaxPixels)
	s.decodeBytes = int64(s.workers) * s.maxPixels * augment.DecodeBytesPerPixel
	if s.decodeBytes >= s.limits.maxMemory {
		return nil, fmt.Errorf("%d workers decoding photos of up to %d pixels need %s, not less than the memory limit %s: lower --max-pixels or --workers, or raise --max-memory",
			s.workers, s.maxPixels, mib(s.decodeBytes), mib(s.limits.maxMemory))
	}
	if cfg.Token != "" {
		s.token, s.hasToken = sha256.Sum256([]byte(cfg.Token)), true
	}
	if err := s.loadProfiles(cfg.Profile); err != nil {
		return nil, err
	}
	mode := sampler.Uniform
	if ds.Manifest().Kind == arrowio.KindEqualized {
		mode = sampler.Balanced
	}
	s.defaults = queryDefaults{mode: mode, profile: s.defaults.profile, seed: cfg.Seed, maxBatch: s.limits.maxBatch,
		maxEpochLen: int(min(maxEpochLenPerSample*int64(ds.Len()), math.MaxInt32))}
	s.classes = newClassRows(ds.Labels(), ds.NumClasses())
	s.metrics = newServerMetrics(func() float64 { return float64(s.openStreams()) },
		func() float64 { return float64(s.reservedBytes()) }, s.workers)
	pop := &sampler.Population{Labels: ds.Labels(), NumClasses: ds.NumClasses(), Quotas: ds.Quotas(),
		Weights: ds.Weights(), Fingerprint: ds.Fingerprint()}
	s.plans = newPlanCache(pop, plansKept, s.metrics.observePlan)
	s.slots = &slotPool{imageBytes: s.imageBytes(), bySize: make(map[int]*sync.Pool)}
	s.pool = newPool(s.workers, s.height, s.width, s.maxPixels)
	s.idle, s.trimAfter = time.AfterFunc(time.Hour, s.trimIdle), idleTrimAfter
	s.idle.Stop()
	s.http = &fasthttp.Server{
		Handler:                      s.handle,
		Name:                         "facestream",
		ReadBufferSize:               8 << 10, // caps request line + headers: a longer request gets 431
		MaxRequestBodySize:           1 << 10,
		ReadTimeout:                  30 * time.Second, // reading a request; a stream's writes have no deadline
		IdleTimeout:                  60 * time.Second,
		TCPKeepalive:                 true, // notices a peer that vanished without closing
		TCPKeepalivePeriod:           30 * time.Second,
		CloseOnShutdown:              true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		Logger:                       fasthttpLogger{s.log},
	}
	return s, nil
}

// loadProfiles loads the built-in profiles and the default one, which may come from a file;
// clients choose among these by name only, so no client value becomes a path.
func (s *Server) loadProfiles(def string) error {
	s.profiles = make(map[string]*augment.Profile)
	for _, name := range augment.ProfileNames() {
		p, err := augment.BuiltinProfile(name)
		if err != nil {
			return fmt.Errorf("built-in profile %s: %w", name, err)
		}
		s.profiles[name] = p
	}
	p, err := augment.ResolveProfile(def)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	s.profiles[p.Name] = p
	s.defaults.profile = p.Name
	return nil
}

func (s *Server) imageBytes() int { return s.height * s.width * 3 }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); err != nil {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting, ends every stream after the batch it is sending (clients resume from
// their last pos), waits for connections to close until ctx is done, then cuts the rest, and
// stops the workers.
func (s *Server) Shutdown(ctx context.Context) error {
	s.quitOnce.Do(func() { close(s.quit) })
	err := s.http.ShutdownWithContext(ctx)
	if err != nil {
		// A client that stopped reading blocks its stream in a write: cut it, and wait for its
		// goroutine to let go of the dataset, which the caller may unmap next.
		s.mu.Lock()
		for st := range s.streams {
			st.conn.Close()
		}
		s.mu.Unlock()
		err = s.waitStreams(cutGrace)
	}
	s.idle.Stop()
	s.plans.close()
	s.pool.close()
	if err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// cutGrace is how long a cut stream gets to notice and free itself.
const cutGrace = 5 * time.Second

func (s *Server) waitStreams(grace time.Duration) error {
	deadline := time.Now().Add(grace)
	for s.openStreams() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d streams still open %v after their connections were cut", s.openStreams(), grace)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (s *Server) openStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// bufferBytes is what a stream of batch-image batches holds in batch buffers: its slots.
func (s *Server) bufferBytes(batch int) int64 {
	return int64(s.ahead) * int64(batch) * int64(s.imageBytes())
}

// tooLarge is a request that can never be served here, whatever else is open: answered 413, not
// 429, so that clients do not retry it.
type tooLarge struct{ msg string }

func (e *tooLarge) Error() string { return e.msg }

// admit registers a stream unless it would pass the stream limit or the memory limit, and
// otherwise says which. At a limit, streams stalled for EvictAfter or more make room, the one
// stalled longest first: their clients resume where they were when they read again.
func (s *Server) admit(st *stream) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	need := s.bufferBytes(st.q.batch)
	streamMemory := s.limits.maxMemory - s.decodeBytes // what the workers' decoding leaves
	if need > streamMemory {
		fits := streamMemory / max(s.bufferBytes(1), 1)
		return &tooLarge{fmt.Sprintf("a stream of batch %d needs %s of batch buffers, more than the %s this server has for streams (--max-memory less the workers' decoding): ask for a batch of at most %d",
			st.q.batch, mib(need), mib(streamMemory), fits)}
	}
	for {
		var full error
		switch {
		case len(s.streams) >= s.limits.maxStreams:
			full = fmt.Errorf("%d streams open, the limit", s.limits.maxStreams)
		case s.reserved+need > streamMemory:
			full = fmt.Errorf("a stream of batch %d needs %s of batch buffers; %s of the %s for streams are free",
				st.q.batch, mib(need), mib(streamMemory-s.reserved), mib(streamMemory))
		}
		if full == nil {
			break
		}
		if !s.evictStalledLocked() {
			return full
		}
	}
	s.streams[st] = struct{}{}
	s.reserved += need
	return nil
}

// evictStalledLocked closes the stream stalled longest, if it has been stalled EvictAfter or
// more, and frees its place at once; s.mu is held.
func (s *Server) evictStalledLocked() bool {
	now := time.Now()
	var victim *stream
	var longest time.Duration
	for st := range s.streams {
		if d := st.stalledFor(now); d >= s.evictAfter && d > longest {
			victim, longest = st, d
		}
	}
	if victim == nil {
		return false
	}
	victim.evicted.Store(true)
	delete(s.streams, victim)
	s.reserved -= s.bufferBytes(victim.q.batch)
	victim.conn.Close() // its blocked write fails, and the stream frees its buffers
	s.metrics.evicted.Inc()
	s.log.Info("evicting the stream stalled longest to admit a new one at the limit", "remote", victim.conn.RemoteAddr().String(),
		"stalled", longest.Round(time.Millisecond), "rank", victim.q.rank, "world", victim.q.world)
	return true
}

func (s *Server) release(st *stream) {
	s.mu.Lock()
	if _, ok := s.streams[st]; ok {
		delete(s.streams, st)
		s.reserved -= s.bufferBytes(st.q.batch)
	}
	if len(s.streams) == 0 {
		s.idle.Reset(s.trimAfter)
	}
	s.mu.Unlock()
}

// idleTrimAfter is how long the server waits, once no stream is open, before it hands the batch
// buffers back to the operating system: an idle server does not allocate, so nothing else would
// run the collections that free them (after 1,000 aborted streams it kept 543 MiB for minutes).
const idleTrimAfter = 5 * time.Second

// trimIdle returns the pooled batch buffers to the operating system if still no stream is open.
func (s *Server) trimIdle() {
	if s.openStreams() > 0 {
		return
	}
	runtime.GC() // a sync.Pool keeps its buffers one collection more, in its victim cache
	debug.FreeOSMemory()
	s.metrics.idleTrims.Inc()
}

// mib formats a byte count in MiB.
func mib(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }

// reservedBytes is the batch buffer bytes of the open streams.
func (s *Server) reservedBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reserved
}

// replace makes job's image from another photo of row's identity after row's photo failed with
// cause, and returns the row it used.
func (s *Server) replace(job *imageJob, row int, cause error) (int, error) {
	label := s.ds.Label(row)
	for _, alt := range s.classes.after(row, label) {
		s.metrics.decodeErrors.Inc()
		job.discardWorker()
		if err := job.make(s.ds.Image(int(alt))); err == nil {
			return int(alt), nil
		}
	}
	s.metrics.decodeErrors.Inc()
	job.discardWorker()
	identity := strconv.Itoa(int(label))
	if c := s.ds.Classes(); int(label) < len(c) {
		identity = c[label].Identity
	}
	return 0, fmt.Errorf("identity %s: no photo decodes (sample id %d: %w)", identity, s.ds.ID(row), cause)
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if path == "/healthz" {
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("ok")
		return
	}
	if s.hasToken && !s.authorized(ctx) {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="facestream"`)
		s.fail(ctx, fasthttp.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	if !ctx.IsGet() {
		ctx.Response.Header.Set("Allow", "GET")
		s.fail(ctx, fasthttp.StatusMethodNotAllowed, "only GET is served")
		return
	}
	if n := len(ctx.URI().QueryString()); n > maxQuery {
		s.fail(ctx, fasthttp.StatusRequestURITooLong, fmt.Sprintf("query of %d bytes, limit %d", n, maxQuery))
		return
	}
	switch path {
	case "/v1/stream":
		s.handleStream(ctx)
	case "/v1/info":
		s.handleInfo(ctx)
	case "/metrics":
		ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
		s.metrics.writePrometheus(ctx)
	default:
		s.fail(ctx, fasthttp.StatusNotFound, "no such path "+strconv.Quote(path))
	}
}

// authorized compares hashes of the tokens in constant time, so neither content nor length leaks.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) bool {
	auth := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	const prefix = "Bearer "
	// The scheme name is case-insensitive (RFC 7235).
	if len(auth) <= len(prefix) || !strings.EqualFold(string(auth[:len(prefix)]), prefix) {
		return false
	}
	got := sha256.Sum256(auth[len(prefix):])
	return subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}

// fail answers with a JSON error; nothing of a stream has been sent when it is called.
func (s *Server) fail(ctx *fasthttp.RequestCtx, code int, msg string) {
	s.metrics.rejected(code).Inc()
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg}) // a struct of one string always marshals
	ctx.ResetBody()
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(body, '\n'))
}

// failParam answers a parameter error with 400, anything else with 500.
func (s *Server) failParam(ctx *fasthttp.RequestCtx, err error) {
	var bad *badRequest
	if errors.As(err, &bad) {
		s.fail(ctx, fasthttp.StatusBadRequest, bad.msg)
		return
	}
	s.log.Error("request failed", "uri", string(ctx.RequestURI()), "err", err)
	s.fail(ctx, fasthttp.StatusInternalServerError, err.Error())
}

func (s *Server) handleStream(ctx *fasthttp.RequestCtx) {
	q, err := parseStream(ctx.QueryArgs(), s.defaults)
	if err != nil {
		s.failParam(ctx, err)
		return
	}
	profile := s.profiles[q.profile]
	if profile == nil {
		s.failParam(ctx, badf("profile=%q is not loaded (have %v)", q.profile, s.profileNames()))
		return
	}
	// Admitted before its plan is built: building a plan costs memory, which the stream limit bounds.
	st := &stream{srv: s, q: q, profile: profile, conn: ctx.Conn(), epoch: q.epoch, nextPos: q.start}
	if err := s.admit(st); err != nil {
		status := fasthttp.StatusTooManyRequests
		if errors.As(err, new(*tooLarge)) {
			status = fasthttp.StatusRequestEntityTooLarge
		}
		s.fail(ctx, status, err.Error())
		return
	}
	plan, err := s.plans.rank(q.planQuery, q.epoch)
	if err == nil && q.start >= plan.Len() {
		err = fmt.Errorf("start=%d is past this rank's %d positions of epoch %d", q.start, plan.Len(), q.epoch)
	}
	if err != nil {
		s.release(st)
		// Given a dataset that opened, a plan fails only for parameters it cannot serve.
		s.failParam(ctx, badf("%v", err))
		return
	}
	st.plan = plan
	for range s.ahead {
		st.slots = append(st.slots, s.slots.get(q.batch))
	}
	s.metrics.streamsTotal.Inc()
	h := &ctx.Response.Header
	if q.format == FormatNPY {
		h.SetContentType("application/octet-stream")
	} else {
		h.SetContentType("application/vnd.apache.arrow.stream")
	}
	h.Set("X-Facestream-Batches-Per-Epoch", strconv.Itoa(plan.Batches()))
	h.Set("X-Facestream-Height", strconv.Itoa(s.height))
	h.Set("X-Facestream-Width", strconv.Itoa(s.width))
	h.Set("X-Facestream-Channels", "3")
	h.Set("Cache-Control", "no-store")
	// Send the headers at once: the client knows the stream started (and its shape) before the
	// first batch is made, and tells a later cut from a refused request.
	ctx.Response.ImmediateHeaderFlush = true
	ctx.SetBodyStream(st, -1)
}

func (s *Server) profileNames() []string {
	names := make([]string, 0, len(s.profiles))
	for n := range s.profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Info is GET /v1/info.
type Info struct {
	Dataset struct {
		Kind        string `json:"kind"`
		Samples     int64  `json:"samples"`
		Identities  int    `json:"identities"`
		Fingerprint string `json:"fingerprint"`
		Source      string `json:"source"`
	} `json:"dataset"`
	Identities int `json:"identities"`
	Image      struct {
		Height   int `json:"height"`
		Width    int `json:"width"`
		Channels int `json:"channels"`
	} `json:"image"`
	Modes          []string  `json:"modes"`
	DefaultMode    string    `json:"default_mode"`
	Profiles       []string  `json:"profiles"`
	DefaultProfile string    `json:"default_profile"`
	Plan           *InfoPlan `json:"plan,omitempty"`
	Limits         struct {
		MaxBatch   int   `json:"max_batch"`
		MaxStreams int   `json:"max_streams"`
		MaxMemory  int64 `json:"max_memory_bytes"`
		MaxPixels  int64 `json:"max_pixels"`
		// DecodeMemory is the workers' decoding memory set aside under MaxMemory.
		DecodeMemory int64 `json:"decode_memory_bytes"`
	} `json:"limits"`
}

// InfoPlan describes the plan of a world size and batch size.
type InfoPlan struct {
	World          int    `json:"world"`
	Batch          int    `json:"batch"`
	Mode           string `json:"mode"`
	Epoch          int    `json:"epoch"`
	EpochLen       int    `json:"epoch_len"`
	BatchesPerRank int    `json:"batches_per_rank"`
	Remainder      string `json:"remainder"`
}

func (s *Server) handleInfo(ctx *fasthttp.RequestCtx) {
	pq, withPlan, err := parseInfo(ctx.QueryArgs(), s.defaults)
	if err != nil {
		s.failParam(ctx, err)
		return
	}
	var info Info
	m := s.ds.Manifest()
	info.Dataset.Kind, info.Dataset.Samples, info.Dataset.Identities = m.Kind, m.Samples, m.Identities
	info.Dataset.Fingerprint = fmt.Sprintf("%016x", s.ds.Fingerprint())
	info.Dataset.Source = filepath.Base(m.Source) // the server's own paths are none of a client's business
	info.Identities = s.ds.NumClasses()
	info.Image.Height, info.Image.Width, info.Image.Channels = s.height, s.width, 3
	for _, mode := range sampler.Modes() {
		info.Modes = append(info.Modes, string(mode))
	}
	info.DefaultMode = string(s.defaults.mode)
	info.Profiles = s.profileNames()
	info.DefaultProfile = s.defaults.profile
	info.Limits.MaxBatch, info.Limits.MaxStreams, info.Limits.MaxMemory = s.limits.maxBatch, s.limits.maxStreams, s.limits.maxMemory
	info.Limits.MaxPixels, info.Limits.DecodeMemory = s.maxPixels, s.decodeBytes
	if withPlan {
		// The plan's shape, not the plan: no build for a question about counts.
		shape, err := s.plans.shape(pq)
		var batches int
		if err == nil {
			batches, err = shape.RankBatches(pq.world, 0, pq.batch, pq.pad)
		}
		if err != nil {
			s.failParam(ctx, badf("%v", err))
			return
		}
		info.Plan = &InfoPlan{World: pq.world, Batch: pq.batch, Mode: string(pq.mode), Epoch: pq.epoch,
			EpochLen: shape.Len, BatchesPerRank: batches, Remainder: "drop"}
		if pq.pad {
			info.Plan.Remainder = "pad"
		}
	}
	body, err := json.Marshal(&info)
	if err != nil {
		s.failParam(ctx, fmt.Errorf("encode info: %w", err))
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(append(body, '\n'))
}

// fasthttpLogger sends fasthttp's own messages (accept errors, malformed requests) to slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Warn("http", "msg", fmt.Sprintf(format, args...))
}
