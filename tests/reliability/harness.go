package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/facestream/facestream/loader"
)

// harness owns every process the campaign starts, so that one call kills them all, whatever failed.
type harness struct {
	bin  string
	work string
	mu   sync.Mutex
	cmds []*exec.Cmd
}

// command prepares a process in its own process group: killing the group also kills anything it forked.
func (h *harness) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// start starts cmd and records it for killAll.
func (h *harness) start(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	h.mu.Lock()
	h.cmds = append(h.cmds, cmd)
	h.mu.Unlock()
	return nil
}

// killAll SIGKILLs the process group of every process started (ones already gone are ignored).
func (h *harness) killAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.cmds {
		if c.Process != nil && c.ProcessState == nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
}

// run runs the binary to completion and returns its combined output.
func (h *harness) run(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := h.command(ctx, h.bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := h.start(cmd); err != nil {
		return "", err
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("%s %s: timed out after %s", filepath.Base(h.bin), args[0], timeout)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(h.bin), strings.Join(args, " "), err, lastLine(out.String()))
	}
	return out.String(), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// server is one `facestream serve` process; restart brings it back on the same port.
type server struct {
	h    *harness
	args []string
	addr string
	cmd  *exec.Cmd
	log  *os.File
}

// startServer serves ds on a free loopback port with extra serve flags.
func (h *harness) startServer(ctx context.Context, ds string, extra ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	log, err := os.CreateTemp(h.work, "serve-*.log")
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	s := &server{h: h, addr: addr, log: log, args: append([]string{"serve", ds, "--addr", addr}, extra...)}
	return s, s.start(ctx)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start launches the process and waits until /healthz answers.
func (s *server) start(ctx context.Context) error {
	s.cmd = s.h.command(context.Background(), s.h.bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.h.start(s.cmd); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if code, _, err := httpGet(s.url()+"/healthz", "", time.Second); err == nil && code == 200 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("server on %s not healthy within 20s (log %s)", s.addr, s.log.Name())
}

func (s *server) url() string { return "http://" + s.addr }
func (s *server) pid() int    { return s.cmd.Process.Pid }

// kill SIGKILLs the server and reaps it.
func (s *server) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
}

// restart is a kill -9 followed by a new process on the same port.
func (s *server) restart(ctx context.Context) error {
	s.kill()
	return s.start(ctx)
}

// stop ends the server (SIGKILL: the campaign does not test graceful shutdown) and closes its log.
func (s *server) stop() {
	s.kill()
	s.log.Close()
}

// metrics reads /metrics into name{labels} -> value.
func (s *server) metrics(token string) (map[string]float64, error) {
	code, body, err := httpGet(s.url()+"/metrics", token, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("/metrics: HTTP %d", code)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); i > 0 && err == nil {
			m[line[:i]] = v
		}
	}
	return m, nil
}

// rssMiB reads VmRSS of pid from /proc, in MiB.
func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// rssSampler records the largest RSS of pid until stopped.
type rssSampler struct {
	mu   sync.Mutex
	peak float64
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	r := &rssSampler{done: make(chan struct{})}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := rssMiB(pid); err == nil {
				r.mu.Lock()
				r.peak = max(r.peak, v)
				r.mu.Unlock()
			}
			select {
			case <-r.done:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

func (r *rssSampler) stop() float64 {
	close(r.done)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}

// httpGet is one GET with a deadline; the body is read up to 1 MiB.
func httpGet(url, token string, timeout time.Duration) (int, string, error) {
	return httpDo(http.MethodGet, url, token, nil, timeout)
}

func httpDo(method, url, token string, header http.Header, timeout time.Duration) (int, string, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, "", fmt.Errorf("request %s: %w", url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %.80s: %w", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}

// epochRead is what a resuming reader received: the sample ids and positions in order, and a
// sha256 over every batch's images, labels (int32 LE) and ids (int64 LE).
type epochRead struct {
	IDs, Pos []int64
	Sum      string
	Batches  int
	Resumes  int
}

// batchHash hashes batches the way the Python script does, so that the two clients compare.
type batchHash struct{ h hash.Hash }

func newBatchHash() batchHash { return batchHash{sha256.New()} }

func (b batchHash) add(images []byte, labels []int32, ids []int64) {
	b.h.Write(images)
	_ = binary.Write(b.h, binary.LittleEndian, labels)
	_ = binary.Write(b.h, binary.LittleEndian, ids)
}

func (b batchHash) sum() string { return fmt.Sprintf("%x", b.h.Sum(nil)) }

// readResuming reads one epoch of p, resuming from the last whole batch after any cut, refused
// connection or 429, as a trainer would; after(done) runs after each batch (a check uses it to kill
// the server or to stall the reader). It gives up when ctx ends or on a non-retryable status.
func readResuming(ctx context.Context, c *loader.Client, p loader.StreamParams, after func(done int) error) (*epochRead, error) {
	out := &epochRead{}
	bh := newBatchHash()
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("rank %d after %d batches: %w", p.Rank, out.Batches, ctx.Err())
		}
		q := p
		q.Start = out.Batches * p.Batch
		s, err := c.Stream(ctx, q)
		if err != nil {
			var he *loader.HTTPError
			if errors.As(err, &he) && he.Code != http.StatusTooManyRequests {
				return nil, fmt.Errorf("rank %d at batch %d: %w", p.Rank, out.Batches, err)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if attempt > 0 {
			out.Resumes++
		}
		err = drain(s, out, bh, after)
		s.Close()
		if err == nil {
			out.Sum = bh.sum()
			return out, nil
		}
		if !errors.Is(err, loader.ErrTruncated) && !isNetErr(err) {
			return nil, fmt.Errorf("rank %d at batch %d: %w", p.Rank, out.Batches, err)
		}
	}
}

// drain reads s to its end marker (nil) or to its first error.
func drain(s *loader.StreamReader, out *epochRead, bh batchHash, after func(int) error) error {
	for {
		b, err := s.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		bh.add(b.Images, b.Labels, b.IDs)
		out.IDs = append(out.IDs, b.IDs...)
		out.Pos = append(out.Pos, b.Pos...)
		out.Batches++
		if after != nil {
			if err := after(out.Batches); err != nil {
				return fmt.Errorf("after batch %d: %w", out.Batches, err)
			}
		}
	}
}

// isNetErr tells a cut connection from a real failure: a killed or evicting server resets it.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}
