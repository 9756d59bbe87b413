package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/loader"
)

// Run measures what cfg says and returns the report: it starts a server in-process on cfg.Dataset
// (listening on a loopback port, so the streams cross a real socket as a trainer's would) or reads
// from cfg.URL.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &httpTarget{url: strings.TrimRight(cfg.URL, "/"), cfg: cfg, remote: true, http: &http.Client{}}
	if cfg.Dataset != "" {
		if cfg.Workers == 0 {
			cfg.Workers = runtime.GOMAXPROCS(0) // the server's default, named in the report
		}
		addr, stop, err := serveInProcess(cfg)
		if err != nil {
			return nil, err
		}
		defer stop()
		t.url, t.remote = "http://"+addr, false
	}
	t.client = loader.NewClient(t.url, cfg.Token)
	info, err := t.client.Info(ctx, 0, 0, "")
	if err != nil {
		return nil, fmt.Errorf("ask the server for its image shape: %w", err)
	}
	scope, err := t.cpuScope(ctx)
	if err != nil {
		return nil, err
	}
	runs, err := measure(ctx, cfg, t)
	if err != nil {
		return nil, err
	}
	return &Report{
		Schema:   SchemaVersion,
		Config:   settings(cfg, t.url),
		Machine:  machine(),
		Image:    Shape{Height: info.Image.Height, Width: info.Image.Width, Channels: info.Image.Channels},
		CPUScope: scope,
		Median:   medianFigures(runs),
		Runs:     runs,
	}, nil
}

func settings(cfg Config, url string) Settings {
	return Settings{
		Dataset: cfg.Dataset, URL: url, InProcess: cfg.Dataset != "", Streams: cfg.Streams, Batch: cfg.Batch,
		DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(), Repeat: cfg.Repeat,
		Profile: cfg.Profile, Format: cfg.Format, Mode: cfg.Mode, Seed: cfg.Seed, Workers: cfg.Workers,
	}
}

// serveInProcess opens the dataset and serves it on a free loopback port until stop is called.
func serveInProcess(cfg Config) (addr string, stop func(), err error) {
	ds, err := arrowio.Open(cfg.Dataset)
	if err != nil {
		return "", nil, fmt.Errorf("open dataset: %w", err)
	}
	// Streams cut at the end of each run are expected; the server's errors reach the clients anyway.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv, err := loader.NewServer(ds, loader.Config{Workers: cfg.Workers, Profile: cfg.Profile, Token: cfg.Token,
		MaxStreams: max(64, cfg.Streams), Logger: quiet})
	if err != nil {
		ds.Close()
		return "", nil, fmt.Errorf("start server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		// Shutdown stops the server's worker pool, which must not outlive the mapped dataset.
		err = errors.Join(fmt.Errorf("listen: %w", err), srv.Shutdown(context.Background()))
		ds.Close()
		return "", nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// The figures are taken by now; a slow shutdown only delays the exit.
		_ = srv.Shutdown(ctx)
		<-served
		ds.Close()
	}
	return ln.Addr().String(), stop, nil
}

// httpTarget reads streams from a facestream server with the Go client, as a trainer would.
type httpTarget struct {
	url    string
	cfg    Config
	remote bool // the server is another process: its CPU comes from its /metrics
	client *loader.Client
	http   *http.Client
}

func (t *httpTarget) open(ctx context.Context, rank, world, epoch int) (batchStream, error) {
	r, err := t.client.Stream(ctx, loader.StreamParams{
		Rank: rank, World: world, Batch: t.cfg.Batch, Epoch: epoch, Seed: t.cfg.Seed,
		Mode: t.cfg.Mode, Profile: t.cfg.Profile, Format: t.cfg.Format, Epochs: -1,
	})
	if err != nil {
		return nil, err
	}
	return clientStream{r}, nil
}

// clientStream adapts the Go client's reader; an endless stream that ends is an error.
type clientStream struct{ r *loader.StreamReader }

func (s clientStream) next() (int, int64, error) {
	b, err := s.r.Next()
	if errors.Is(err, io.EOF) {
		return 0, 0, errors.New("the endless stream ended")
	}
	if err != nil {
		return 0, 0, err
	}
	return len(b.Labels), int64(len(b.Images)), nil
}

func (s clientStream) close() error { return s.r.Close() }

func (t *httpTarget) metrics(ctx context.Context) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	if t.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.cfg.Token)
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s/metrics: %s: %s", t.url, resp.Status, strings.TrimSpace(string(msg)))
	}
	return ParseMetrics(resp.Body)
}

// serverCPUMetric is the server process's CPU seconds, from VictoriaMetrics' process metrics.
const serverCPUMetric = "process_cpu_seconds_total"

// cpu is this process's CPU time, and the server's when the server is another process that says.
func (t *httpTarget) cpu(samples []Sample) (cpuTime, error) {
	own, err := ProcessCPU()
	if err != nil || !t.remote {
		return cpuTime{own: own}, err
	}
	server, ok := Value(samples, serverCPUMetric, nil)
	return cpuTime{own: own, server: time.Duration(server * float64(time.Second)), split: ok}, nil
}

// cpuScope says what the CPU figure counts, for the report.
func (t *httpTarget) cpuScope(ctx context.Context) (string, error) {
	if !t.remote {
		return "client+server (one process)", nil
	}
	samples, err := t.metrics(ctx)
	if err != nil {
		return "", fmt.Errorf("read server metrics: %w", err)
	}
	if _, ok := Value(samples, serverCPUMetric, nil); ok {
		return "client+server (server's " + serverCPUMetric + ")", nil
	}
	return "client only (the server exports no " + serverCPUMetric + ")", nil
}
