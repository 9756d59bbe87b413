package loader

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facestream/facestream/augment"
	"github.com/facestream/facestream/sampler"
)

// TestBadParameters: every malformed or out-of-range parameter gets a 400 with a JSON error and
// no stream byte.
func TestBadParameters(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{MaxBatch: 64})
	for _, tc := range []struct{ query, want string }{
		{"", "batch is required"},
		{"batch=0", "batch=0 outside 1..64"},
		{"batch=65", "batch=65 outside 1..64"},
		{"batch=x", `batch="x" is not an integer`},
		{"batch=8&bogus=1", `unknown query parameter "bogus"`},
		{"batch=8&batch=8", `"batch" given more than once`},
		{"batch=8&rank=2&world=2", "rank=2 must be below world=2"},
		{"batch=8&rank=-1", "rank=-1 outside"},
		{"batch=8&world=0", "world=0 outside"},
		{"batch=8&epoch=-1", "epoch=-1 outside"},
		{"batch=8&epoch=99999999999", "epoch=99999999999 outside"},
		{"batch=8&seed=-3", `seed="-3" is not an unsigned`},
		{"batch=8&start=4", "start=4 is not a multiple of batch=8"},
		{"batch=8&start=200", "start=200 is past this rank's 200 positions"},
		{"batch=8&start=-8", "start=-8 outside"},
		{"batch=8&mode=random", `unknown sampling mode "random"`},
		{"batch=8&profile=../../etc/passwd", `profile="../../etc/passwd" is not loaded`},
		{"batch=8&format=csv", `format="csv": want arrow or npy`},
		{"batch=8&epochs=-1", "epochs=-1 outside"},
		{"batch=8&pad=2", `pad="2" is not 0 or 1`},
		{"batch=8&p=2", "p and k apply to mode=pk only"},
		{"batch=8&epoch_len=50", "epoch_len applies to mode=weighted only"},
		{"batch=8&mode=weighted&epoch_len=2147483647", "epoch_len=2147483647 outside 0..3200"}, // 16 draws a sample
		{"batch=8&mode=pk&p=3&k=3", "mode=pk needs batch=p*k"},
		{"batch=6&mode=pk&k=4", "mode=pk needs batch=p*k"},
		{"batch=64&world=4", "no full batch"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, err := http.Get(srv.url + "/v1/stream?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ Error string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not a JSON error: %v", err)
			}
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("status %d, Content-Type %q; want 400 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(body.Error, tc.want) {
				t.Errorf("error %q, want it to say %q", body.Error, tc.want)
			}
		})
	}
	if n := srv.srv.openStreams(); n != 0 {
		t.Errorf("%d streams open after only bad requests", n)
	}
}

// TestGoodParameterVariants: the modes and options a client may combine all stream their plan.
func TestGoodParameterVariants(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{})
	for _, tc := range []struct {
		p    StreamParams
		mode string
	}{
		{StreamParams{Batch: 12, Mode: "balanced", Seed: 2}, "balanced"},
		{StreamParams{Batch: 8, Mode: "weighted", EpochLen: 100, Seed: 2}, "weighted"},
		{StreamParams{Batch: 8, Mode: "pk", K: 4, Seed: 2}, "pk"},
		{StreamParams{Batch: 48, World: 3, Rank: 2, Pad: true, Seed: 2}, "uniform"},
	} {
		t.Run(fmt.Sprintf("%+v", tc.p), func(t *testing.T) {
			got, err := readAll(context.Background(), srv.client, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			p := tc.p
			if p.Mode == "pk" {
				p.P = p.Batch / p.K
			}
			want := planFor(t, fx.ds, p, mustMode(t, tc.mode))
			checkPlan(t, got, want)
		})
	}
}

func mustMode(t *testing.T, s string) sampler.Mode {
	m, err := sampler.ParseMode(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAuth: with a token every path but /healthz needs it, compared in constant time.
func TestAuth(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{Token: "s3cret"})
	for _, tc := range []struct {
		path, token string
		code        int
	}{
		{"/healthz", "", 200},
		{"/v1/info", "", 401},
		{"/v1/info", "wrong", 401},
		{"/v1/info", "s3cret-but-longer", 401},
		{"/v1/info", "s3cret", 200},
		{"/v1/info", "bearer s3cret", 200}, // the scheme is case-insensitive
		{"/v1/info", "Basic s3cret", 401},
		{"/metrics", "", 401},
		{"/metrics", "s3cret", 200},
		{"/v1/stream?batch=8", "", 401},
		{"/v1/stream?batch=8", "s3cre", 401},
	} {
		code, body := getCode(t, srv.url+tc.path, tc.token)
		if code != tc.code {
			t.Errorf("GET %s with token %q: %d %s, want %d", tc.path, tc.token, code, body, tc.code)
		}
		if code == 401 && !strings.Contains(body, `"error"`) {
			t.Errorf("401 body %q is not a JSON error", body)
		}
	}
	if _, err := readAll(context.Background(), srv.client, StreamParams{Batch: 50}); err != nil {
		t.Fatalf("stream with the token: %v", err)
	}
	_, err := NewClient(srv.url, "nope").Stream(context.Background(), StreamParams{Batch: 50})
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != 401 {
		t.Fatalf("stream with a wrong token: %v, want an HTTPError 401", err)
	}
}

// TestLimits: the stream limit answers 429, an overlong query 414, overlong headers 431, and
// anything but GET 405.
func TestLimits(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{MaxStreams: 1})
	ctx := context.Background()
	sr, err := srv.client.Stream(ctx, StreamParams{Batch: 2, Epochs: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	if _, err := sr.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = srv.client.Stream(ctx, StreamParams{Batch: 2})
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusTooManyRequests {
		t.Errorf("second stream over a limit of 1: %v, want 429", err)
	}
	if code, _ := getCode(t, srv.url+"/v1/stream?batch=8&seed="+strings.Repeat("1", 1100), ""); code != http.StatusRequestURITooLong {
		t.Errorf("overlong query: %d, want 414", code)
	}
	if code := rawStatus(t, srv.url, "GET /v1/info?"+strings.Repeat("a", 9000)+" HTTP/1.1\r\nHost: x\r\n\r\n"); code != 431 {
		t.Errorf("request larger than the read buffer: %d, want 431", code)
	}
	resp, err := http.Post(srv.url+"/v1/info", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
	if code, _ := getCode(t, srv.url+"/v1/nothing", ""); code != http.StatusNotFound {
		t.Errorf("unknown path: %d, want 404", code)
	}
}

// TestMemoryLimit: a stream whose batch buffers would pass MaxMemory gets 429 and a message
// saying what it needs, or 413 when they would pass it alone; closing a stream frees its share.
func TestMemoryLimit(t *testing.T) {
	fx := smallDataset(t)
	perImage := int64(3 * testSize * testSize * 3) // three batches ahead, RGB
	const maxPixels = 64 * 64
	decoding := int64(2 * maxPixels * augment.DecodeBytesPerPixel) // two workers
	srv := startServer(t, fx.ds, Config{MaxMemory: 10*perImage + decoding, MaxPixels: maxPixels})
	ctx := context.Background()
	big, err := srv.client.Stream(ctx, StreamParams{Batch: 10, Epochs: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := big.Next(); err != nil {
		t.Fatal(err)
	}
	if got := srv.srv.reservedBytes(); got != 10*perImage {
		t.Errorf("reserved %d bytes, want %d", got, 10*perImage)
	}
	_, err = srv.client.Stream(ctx, StreamParams{Batch: 1})
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusTooManyRequests || !strings.Contains(he.Error(), "batch buffers") {
		t.Errorf("stream past the memory limit: %v, want 429 naming the batch buffers", err)
	}
	// A batch that could never fit is no reason to come back later: 413, with the batch that fits.
	_, err = srv.client.Stream(ctx, StreamParams{Batch: 11})
	if !errors.As(err, &he) || he.Code != http.StatusRequestEntityTooLarge || !strings.Contains(he.Error(), "at most 10") {
		t.Errorf("stream larger than the whole memory limit: %v, want 413 naming the batch that fits", err)
	}
	big.Close()
	waitFor(t, "the stream's buffers to be freed", func() bool { return srv.srv.reservedBytes() == 0 })
	small, err := srv.client.Stream(ctx, StreamParams{Batch: 1})
	if err != nil {
		t.Fatalf("stream after the big one closed: %v", err)
	}
	small.Close()
	info, err := srv.client.Info(ctx, 0, 0, "")
	if err != nil || info.Limits.MaxMemory != 10*perImage+decoding || info.Limits.MaxPixels != maxPixels || info.Limits.DecodeMemory != decoding {
		t.Errorf("info limits %+v, %v; want max_memory_bytes %d, max_pixels %d, decode_memory_bytes %d", info.Limits, err, 10*perImage+decoding, maxPixels, decoding)
	}
}

// rawStatus sends a hand-made request and returns the response's status code.
func rawStatus(t *testing.T, url, request string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestInfo(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{MaxBatch: 512, MaxStreams: 7})
	info, err := srv.client.Info(context.Background(), 3, 16, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Dataset.Kind != "raw" || info.Dataset.Samples != 200 || info.Dataset.Identities != 10 || info.Identities != 10 ||
		info.Dataset.Source != "loader test" || len(info.Dataset.Fingerprint) != 16 {
		t.Errorf("dataset summary %+v", info.Dataset)
	}
	if info.Image.Height != testSize || info.Image.Width != testSize || info.Image.Channels != 3 {
		t.Errorf("image %+v", info.Image)
	}
	if !slices.Equal(info.Modes, []string{"uniform", "balanced", "weighted", "pk"}) || info.DefaultMode != "uniform" {
		t.Errorf("modes %v default %q", info.Modes, info.DefaultMode)
	}
	if !slices.Contains(info.Profiles, "face") || !slices.Contains(info.Profiles, "none") || info.DefaultProfile != "face" {
		t.Errorf("profiles %v default %q", info.Profiles, info.DefaultProfile)
	}
	want := InfoPlan{World: 3, Batch: 16, Mode: "uniform", EpochLen: 200, BatchesPerRank: 4, Remainder: "drop"}
	if info.Plan == nil || *info.Plan != want {
		t.Errorf("plan %+v, want %+v", info.Plan, want)
	}
	if plans := planEpochs(srv.srv); len(plans) != 0 {
		t.Errorf("info built plans for epochs %v; its counts need none", plans)
	}
	if info.Limits.MaxBatch != 512 || info.Limits.MaxStreams != 7 {
		t.Errorf("limits %+v", info.Limits)
	}
	if code, body := getCode(t, srv.url+"/v1/info?mode=pk", ""); code != 200 || strings.Contains(body, `"plan"`) {
		t.Errorf("info of a pk server without a batch: %d %s, want the summary without a plan", code, body)
	}
	code, body := getCode(t, srv.url+"/v1/info?world=2&batch=7&pad=1&mode=balanced", "")
	if code != 200 || !strings.Contains(body, `"batches_per_rank":15`) || !strings.Contains(body, `"remainder":"pad"`) {
		t.Errorf("padded balanced plan: %d %s", code, body)
	}
	if code, body := getCode(t, srv.url+"/v1/info?bogus=1", ""); code != 400 {
		t.Errorf("info with an unknown parameter: %d %s", code, body)
	}
}

func TestMetrics(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{})
	if _, err := readAll(context.Background(), srv.client, StreamParams{Batch: 40}); err != nil {
		t.Fatal(err)
	}
	text := get(t, srv.url+"/metrics", "")
	for _, want := range []string{
		"facestream_streams_open 0\n",
		"facestream_streams_total 1\n",
		"facestream_batches_sent_total 5\n",
		"facestream_images_sent_total 200\n",
		"facestream_decode_errors_total 0\n",
		`facestream_stage_seconds_count{stage="decode_augment"} 200` + "\n",
		`facestream_stage_seconds_count{stage="encode"} 5` + "\n",
		`facestream_stage_seconds_count{stage="write"} 5` + "\n",
		`facestream_stage_seconds_bucket{stage="plan",le="+Inf"}`,
		"process_cpu_seconds_total",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(text, "facestream_bytes_sent_total ") || strings.Contains(text, "facestream_bytes_sent_total 0\n") {
		t.Errorf("bytes sent not counted:\n%s", grepLines(text, "bytes_sent"))
	}
}

func TestNewServerRejectsBadConfig(t *testing.T) {
	fx := smallDataset(t)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Workers: -1}, "workers -1 is negative"},
		{Config{MaxStreams: -2}, "max streams -2 is negative"},
		{Config{MaxMemory: -1}, "max memory -1 is negative"},
		{Config{Height: 4, Width: 4}, "image size 4x4 outside"},
		{Config{Profile: "sharpen"}, `unknown profile "sharpen"`},
		{Config{Profile: "/nonexistent/profile.yaml"}, "profile.yaml"},
	} {
		srv, err := NewServer(fx.ds, tc.cfg)
		if err == nil {
			srv.Shutdown(context.Background())
			t.Errorf("%+v accepted", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want it to say %q", tc.cfg, err, tc.want)
		}
	}
}

// TestProfileFromFile: a server started with a profile file serves it by its name and makes the
// images that profile makes; clients name it, never its path.
func TestProfileFromFile(t *testing.T) {
	fx := smallDataset(t)
	path := filepath.Join(t.TempDir(), "mirror.yaml")
	if err := os.WriteFile(path, []byte("name: mirror\nops:\n  - {op: flip, p: 1.0}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, fx.ds, Config{Profile: path})
	info, err := srv.client.Info(context.Background(), 0, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.DefaultProfile != "mirror" || !slices.Contains(info.Profiles, "mirror") {
		t.Fatalf("profiles %v default %q, want mirror", info.Profiles, info.DefaultProfile)
	}
	p := StreamParams{Batch: 100, Seed: 4}
	got, err := readAll(context.Background(), srv.client, p)
	if err != nil {
		t.Fatal(err)
	}
	want := planFor(t, fx.ds, p, sampler.Uniform)
	prof, err := augment.LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	px := make([]byte, testSize*testSize*3)
	if err := augment.NewWorker(prof, testSize, testSize).Process(fx.ds.Image(int(want.rows[5])), 4, 0, 5, px); err != nil {
		t.Fatal(err)
	}
	if size := len(px); !bytes.Equal(got.images[5*size:6*size], px) {
		t.Error("image 5 is not what the mirror profile makes")
	}
	if code, _ := getCode(t, srv.url+"/v1/stream?batch=8&profile="+url.QueryEscape(path), ""); code != 400 {
		t.Errorf("a profile path as the profile parameter: %d, want 400", code)
	}
}

// TestIdleTrim: once no stream is open for a while, the server hands its pooled batch buffers back
// to the operating system; while a stream is open, it does not.
func TestIdleTrim(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{})
	srv.srv.trimAfter = 50 * time.Millisecond
	if _, err := readAll(context.Background(), srv.client, StreamParams{Batch: 8}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle server to trim its memory", func() bool { return srv.srv.metrics.idleTrims.Get() == 1 })
	sr, err := srv.client.Stream(context.Background(), StreamParams{Batch: 8, Epochs: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	if _, err := sr.Next(); err != nil {
		t.Fatal(err)
	}
	// Another stream that ends while this one is open does not arm the idle timer...
	if _, err := readAll(context.Background(), srv.client, StreamParams{Batch: 8}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the finished stream to be freed", func() bool { return srv.srv.openStreams() == 1 })
	if srv.srv.idle.Stop() {
		t.Error("the idle timer was armed with a stream open")
	}
	// ...and a timer armed before the stream opened trims nothing when it fires.
	srv.srv.trimIdle()
	if n := srv.srv.metrics.idleTrims.Get(); n != 1 {
		t.Errorf("%d trims with a stream open, want still 1", n)
	}
}
