package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/facestream/facestream/internal/npy"
	"github.com/facestream/facestream/sampler"
	"go.uber.org/goleak"
)

// TestArrowRoundTrip reads a stream with arrow-go's own IPC reader, not the package's client.
func TestArrowRoundTrip(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{})
	p := StreamParams{Rank: 1, World: 2, Batch: 16, Epoch: 3, Seed: 7, Profile: "face"}
	want := planFor(t, fx.ds, p, sampler.Uniform)

	resp, err := http.Get(srv.url + "/v1/stream?rank=1&world=2&batch=16&epoch=3&seed=7")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.apache.arrow.stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if got := resp.Header.Get("X-Facestream-Batches-Per-Epoch"); got != "6" { // 200 / (16*2)
		t.Errorf("X-Facestream-Batches-Per-Epoch %q, want 6", got)
	}
	for _, s := range []string{`arrow.fixed_shape_tensor`, `{"shape":[32,32,3]}`, `ARROW:extension:metadata`} {
		if !bytes.Contains(raw, []byte(s)) {
			t.Errorf("stream lacks %q", s)
		}
	}
	if !bytes.HasSuffix(raw, []byte(arrowEOS)) {
		t.Errorf("stream does not end with the IPC end-of-stream marker")
	}
	if err := registerTensorType(); err != nil {
		t.Fatal(err)
	}
	rdr, err := ipc.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	md := rdr.Schema().Metadata()
	for k, v := range map[string]string{"height": "32", "width": "32", "channels": "3", "rank": "1", "world": "2",
		"epoch": "3", "batch": "16", "batches": "6", "mode": "uniform", "profile": "face", "seed": "7", "start": "0", "epochs": "1"} {
		if got, ok := md.GetValue(k); !ok || got != v {
			t.Errorf("schema metadata %s=%q, want %q", k, got, v)
		}
	}
	tensor, ok := rdr.Schema().Field(0).Type.(*TensorType)
	if !ok || !slices.Equal(tensor.Shape(), []int{32, 32, 3}) {
		t.Fatalf("image column type %s, want %s of shape [32 32 3]", rdr.Schema().Field(0).Type, tensorExtensionName)
	}
	var got received
	batches := 0
	for rdr.Next() {
		rec := rdr.RecordBatch()
		if rec.NumRows() != 16 {
			t.Fatalf("record batch of %d rows, want 16", rec.NumRows())
		}
		got.images = append(got.images, rec.Column(0).(*TensorArray).Bytes()...)
		got.labels = append(got.labels, rec.Column(1).(*array.Int32).Int32Values()...)
		got.ids = append(got.ids, rec.Column(2).(*array.Int64).Int64Values()...)
		got.pos = append(got.pos, rec.Column(3).(*array.Int64).Int64Values()...)
		got.epochs = append(got.epochs, rec.Column(4).(*array.Int32).Int32Values()...)
		batches++
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	if batches != 6 {
		t.Fatalf("%d batches, want 6", batches)
	}
	checkPlan(t, &got, want)
	size := testSize * testSize * 3
	for _, i := range []int{0, 17, len(want.rows) - 1} {
		px := pixels(t, fx.ds, "face", want.rows[i], 7, 3, want.pos[i])
		if !bytes.Equal(got.images[i*size:(i+1)*size], px) {
			t.Errorf("image %d differs from the augment package's output for its (seed, epoch, pos)", i)
		}
	}
}

// TestNPYMatchesArrow reads the same stream in both formats through the client.
func TestNPYMatchesArrow(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{})
	ctx := context.Background()
	p := StreamParams{Batch: 24, Seed: 3, Epoch: 1, Epochs: 2}
	arrowGot, err := readAll(ctx, srv.client, p)
	if err != nil {
		t.Fatal(err)
	}
	p.Format = "npy"
	npyGot, err := readAll(ctx, srv.client, p)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, npyGot, planFor(t, fx.ds, p, sampler.Uniform))
	checkPlan(t, arrowGot, planFor(t, fx.ds, p, sampler.Uniform))
	if !bytes.Equal(npyGot.images, arrowGot.images) {
		t.Fatal("npy and arrow images differ")
	}
}

// TestNPYWire checks the raw NPY layout: three arrays per batch, then the end marker.
func TestNPYWire(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{})
	resp, err := http.Get(srv.url + "/v1/stream?batch=100&format=npy&profile=none")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	wantHeaders := []string{
		"{'descr': '|u1', 'fortran_order': False, 'shape': (100, 32, 32, 3), }",
		"{'descr': '<i4', 'fortran_order': False, 'shape': (100,), }",
		"{'descr': '<i8', 'fortran_order': False, 'shape': (100,), }",
	}
	sizes := []int{100 * 32 * 32 * 3, 400, 800}
	for b := range 2 {
		for i, h := range wantHeaders {
			n, err := npy.HeaderLen(raw)
			if err != nil {
				t.Fatal(err)
			}
			if (npy.Prelude+n)%npy.Align != 0 {
				t.Errorf("header of %d bytes is not 64-aligned", npy.Prelude+n)
			}
			if got := strings.TrimSpace(string(raw[npy.Prelude : npy.Prelude+n])); got != h {
				t.Fatalf("batch %d array %d header %q, want %q", b, i, got, h)
			}
			raw = raw[npy.Prelude+n+sizes[i]:]
		}
	}
	end := string(npy.AppendHeader(nil, npy.DescrInt64, 2)) + "\x02\x00\x00\x00\x00\x00\x00\x00\xc8\x00\x00\x00\x00\x00\x00\x00"
	if string(raw) != end {
		t.Fatalf("stream ends with %q, want the end marker [2, 200]", raw)
	}
}

// TestResume: a stream from start=k is the tail of the full stream, pixel for pixel.
func TestResume(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{})
	ctx := context.Background()
	for _, format := range []string{"arrow", "npy"} {
		p := StreamParams{Batch: 8, Seed: 11, Format: format, Epochs: 2}
		full, err := readAll(ctx, srv.client, p)
		if err != nil {
			t.Fatal(err)
		}
		p.Start = 5 * 8
		tail, err := readAll(ctx, srv.client, p)
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, tail, planFor(t, fx.ds, p, sampler.Uniform))
		skip := p.Start * testSize * testSize * 3
		if !bytes.Equal(tail.images, full.images[skip:]) || !slices.Equal(tail.ids, full.ids[p.Start:]) {
			t.Fatalf("%s: resumed stream differs from the tail of the full stream", format)
		}
	}
}

// TestKillAndResume stops the server mid-stream, starts another on the same dataset and resumes
// from the last position received: together the parts are one uninterrupted epoch.
func TestKillAndResume(t *testing.T) {
	fx := smallDataset(t)
	ctx := context.Background()
	p := StreamParams{Batch: 4, Seed: 5, Epoch: 2}
	want := planFor(t, fx.ds, p, sampler.Uniform)

	// 256×256 images: the epoch (39 MB) outgrows the socket buffers, so the server cannot have
	// sent all of it, end marker included, before it stops.
	cfg := Config{Workers: 1, Height: 256, Width: 256}
	first := startServer(t, fx.ds, cfg)
	sr, err := first.client.Stream(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	var got received
	for range 3 {
		b, err := sr.Next()
		if err != nil {
			t.Fatal(err)
		}
		got.add(b)
	}
	first.stop(t)
	for {
		b, err := sr.Next()
		if errors.Is(err, ErrTruncated) {
			break
		}
		if err != nil {
			t.Fatalf("after the server stopped: %v, want ErrTruncated", err)
		}
		got.add(b)
	}
	sr.Close()
	if len(got.ids) >= len(want.ids) {
		t.Fatalf("the stream was not cut: got all %d images", len(got.ids))
	}

	second := startServer(t, fx.ds, cfg)
	p.Start = int(got.pos[len(got.pos)-1]) + 1
	rest, err := readAll(ctx, second.client, p)
	if err != nil {
		t.Fatal(err)
	}
	got.images = append(got.images, rest.images...)
	got.labels = append(got.labels, rest.labels...)
	got.ids = append(got.ids, rest.ids...)
	got.pos = append(got.pos, rest.pos...)
	got.epochs = append(got.epochs, rest.epochs...)
	checkPlan(t, &got, want)
}

// TestDisconnectFreesStream: a client that goes away mid-stream leaves no goroutine and no stream.
func TestDisconnectFreesStream(t *testing.T) {
	// fasthttp's idle-worker cleaner sleeps out its period before it sees the server stopped.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"))
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	sr, err := srv.client.Stream(ctx, StreamParams{Batch: 2, Epochs: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sr.Next(); err != nil {
		t.Fatal(err)
	}
	if n := srv.srv.openStreams(); n != 1 {
		t.Fatalf("%d streams open, want 1", n)
	}
	cancel()
	sr.Close()
	waitFor(t, "the stream to be freed", func() bool { return srv.srv.openStreams() == 0 })
	srv.client.http.CloseIdleConnections()
	srv.stop(t)
}

// waitFor polls cond until it holds; a deadline generous enough for a loaded machine under -race
// turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConcurrentStreams runs 32 streams of different ranks, seeds and formats at once.
func TestConcurrentStreams(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		p := StreamParams{Rank: i % 4, World: 4, Batch: 8, Seed: uint64(i / 4), Epoch: i % 3, Epochs: 2}
		if i%2 == 1 {
			p.Format = "npy"
		}
		want := planFor(t, fx.ds, p, sampler.Uniform)
		wg.Go(func() {
			got, err := readAll(ctx, srv.client, p)
			if err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
				return
			}
			if !slices.Equal(got.ids, want.ids) || !slices.Equal(got.pos, want.pos) || !slices.Equal(got.epochs, want.epochs) {
				errs <- fmt.Errorf("stream %d (%+v) differs from its plan", i, p)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDecodeFailureReplacement: a photo that will not decode is replaced by the next photo of its
// identity (dataset order, wrapping), whose id the stream then reports.
func TestDecodeFailureReplacement(t *testing.T) {
	bad := map[int]int{3: 2, 4: 1, 9: -9} // bad photo of identity 1 -> row offset of its replacement
	fx := newFixture(t, datasetOptions{identities: 4, perIdentity: 10, corrupt: func(label, i int) bool {
		_, isBad := bad[i]
		return label == 1 && isBad
	}})
	srv := startServer(t, fx.ds, Config{})
	p := StreamParams{Batch: 10, Seed: 1, Profile: "none"}
	got, err := readAll(context.Background(), srv.client, p)
	if err != nil {
		t.Fatal(err)
	}
	want := planFor(t, fx.ds, p, sampler.Uniform)
	if len(got.ids) != len(want.ids) {
		t.Fatalf("got %d images, want %d", len(got.ids), len(want.ids))
	}
	size := testSize * testSize * 3
	replaced := 0
	for i, row := range want.rows {
		if got.labels[i] != want.labels[i] {
			t.Fatalf("image %d: label %d, plan says %d", i, got.labels[i], want.labels[i])
		}
		wantRow := row
		if offset, isBad := bad[int(row)%10]; isBad && want.labels[i] == 1 {
			wantRow += int32(offset)
			replaced++
		}
		if wantID := fx.ds.ID(int(wantRow)); got.ids[i] != wantID {
			t.Fatalf("image %d (row %d): id %d, want %d (row %d)", i, row, got.ids[i], wantID, wantRow)
		}
		if !bytes.Equal(got.images[i*size:(i+1)*size], pixels(t, fx.ds, "none", wantRow, 1, 0, int64(i))) {
			t.Fatalf("image %d: pixels are not those of row %d", i, wantRow)
		}
	}
	if replaced != len(bad) {
		t.Fatalf("%d bad photos in the epoch, want %d", replaced, len(bad))
	}
	metrics := get(t, srv.url+"/metrics", "")
	if !strings.Contains(metrics, "facestream_decode_errors_total 4\n") { // photo 3 fails twice: itself, then 4
		t.Errorf("decode errors miscounted:\n%s", grepLines(metrics, "decode_errors"))
	}
}

// TestMaxPixels: a photo that would decode to more than MaxPixels (a decompression bomb, here a
// 120×120 PNG under a 100×100 limit) is not decoded: it is counted and replaced like a photo that
// does not decode.
func TestMaxPixels(t *testing.T) {
	fx := newFixture(t, datasetOptions{identities: 2, perIdentity: 4, oversize: func(label, i int) bool { return label == 1 && i == 2 }})
	srv := startServer(t, fx.ds, Config{MaxPixels: 100 * 100})
	got, err := readAll(context.Background(), srv.client, StreamParams{Batch: 8, Profile: "none", Mode: "uniform"})
	if err != nil {
		t.Fatal(err)
	}
	big := fx.ds.ID(6) // identity 1's third photo
	if slices.Contains(got.ids, big) || len(got.ids) != 8 {
		t.Errorf("ids %v: the oversized photo %d was sent, or not replaced", got.ids, big)
	}
	if m := get(t, srv.url+"/metrics", ""); !strings.Contains(m, "facestream_decode_errors_total 1\n") {
		t.Errorf("decode errors:\n%s", grepLines(m, "decode_errors"))
	}
}

// TestUndecodableIdentity: when no photo of an identity decodes, the stream ends without its end
// marker (the client sees ErrTruncated) and the server counts a stream error.
func TestUndecodableIdentity(t *testing.T) {
	fx := newFixture(t, datasetOptions{identities: 3, perIdentity: 5, corrupt: func(label, _ int) bool { return label == 2 }})
	srv := startServer(t, fx.ds, Config{})
	_, err := readAll(context.Background(), srv.client, StreamParams{Batch: 1, Profile: "none"})
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("stream error %v, want ErrTruncated", err)
	}
	waitFor(t, "the stream error to be counted", func() bool {
		return strings.Contains(get(t, srv.url+"/metrics", ""), "facestream_stream_errors_total 1\n")
	})
}

func get(t *testing.T, url, token string) string {
	t.Helper()
	code, body := getCode(t, url, token)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	return body
}

func getCode(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.Contains(token, " "): // a whole header value, scheme included
		req.Header.Set("Authorization", token)
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// openBigStream opens an endless stream of 256×256 images, batch 16 (three megabytes a batch, so
// the socket buffers hold only a few), and reads its first batch. The stream closes with the test.
func openBigStream(t *testing.T) (*running, *StreamReader) {
	t.Helper()
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{Height: 256, Width: 256})
	sr, err := srv.client.Stream(context.Background(), StreamParams{Batch: 16, Epochs: -1, Profile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sr.Close() })
	if _, err := sr.Next(); err != nil {
		t.Fatal(err)
	}
	return srv, sr
}

// TestSlowReaderStopsStream: a client that stops reading stops its stream once the socket buffers
// and the stream's few batches ahead are full, and the stream goes on when it reads again.
func TestSlowReaderStopsStream(t *testing.T) {
	srv, sr := openBigStream(t)
	waitStuck(t, srv.srv)
	last := srv.srv.metrics.imagesSent.Get()
	t.Logf("%d images sent while the client read 16", last)
	if last > 10*16 { // a few batches in socket buffers; a stream that ignored backpressure sends on
		t.Errorf("%d images sent to a client that read 16", last)
	}
	for range 10 {
		if _, err := sr.Next(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the stream to go on", func() bool { return srv.srv.metrics.imagesSent.Get() > last })
}

// longestStall is how long the open stream stalled longest has been blocked in one write.
func longestStall(srv *Server) time.Duration {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var longest time.Duration
	for st := range srv.streams {
		longest = max(longest, st.stalledFor(time.Now()))
	}
	return longest
}

// waitStuck waits until a stream is blocked in a write to a client that reads nothing: the socket
// buffers are full. A write in progress lasts microseconds unless the socket is full; one that
// lasts 200 ms is stuck (and a machine paused that long only makes the test end early).
func waitStuck(t *testing.T, srv *Server) {
	t.Helper()
	waitFor(t, "a stream to block on a client that does not read", func() bool { return longestStall(srv) > 200*time.Millisecond })
}

// TestShutdownCutsStalledStream: a stream blocked on a client that does not read is cut once the
// shutdown grace runs out, and Shutdown returns only after it let go.
func TestShutdownCutsStalledStream(t *testing.T) {
	srv, sr := openBigStream(t)
	waitStuck(t, srv.srv)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := srv.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := srv.srv.openStreams(); n != 0 {
		t.Fatalf("%d streams open after Shutdown returned", n)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	<-srv.served
	srv.srv = nil // stopped
	for {
		if _, err := sr.Next(); err != nil {
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("after shutdown: %v, want ErrTruncated", err)
			}
			break
		}
	}
}

// planEpochs lists the epochs of the plans the server's cache holds, built or being built.
func planEpochs(srv *Server) []int {
	srv.plans.mu.Lock()
	defer srv.plans.mu.Unlock()
	var out []int
	for _, e := range srv.plans.entries {
		out = append(out, e.key.epoch)
	}
	return out
}

// TestNextEpochPlanBuiltAhead: halfway through an epoch that another follows, the next epoch's
// plan is built in the background; a stream of one epoch builds none.
func TestNextEpochPlanBuiltAhead(t *testing.T) {
	fx := smallDataset(t) // 200 photos: 20 batches of 10 per epoch
	for _, tc := range []struct {
		epochs int
		want   []int
	}{{1, []int{0}}, {3, []int{0, 1}}} {
		// 512×512 images: a batch (7.5 MiB) outgrows the socket buffers, so the server runs at
		// most a few batches ahead of the reader.
		srv := startServer(t, fx.ds, Config{Height: 512, Width: 512})
		sr, err := srv.client.Stream(context.Background(), StreamParams{Batch: 10, Epochs: tc.epochs})
		if err != nil {
			t.Fatal(err)
		}
		for range 12 { // past the middle, and with the batches made ahead still in epoch 0
			if _, err := sr.Next(); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the plans", func() bool { return slices.Equal(planEpochs(srv.srv), tc.want) })
		sr.Close()
		srv.stop(t)
	}
}

// TestEndlessStreamEndsAtTheLastEpoch: epoch numbers are int32 on the wire; an endless stream
// that reaches the largest ends there, cleanly, rather than wrapping to a negative epoch.
func TestEndlessStreamEndsAtTheLastEpoch(t *testing.T) {
	fx := smallDataset(t) // 200 photos: 2 batches of 100 per epoch
	srv := startServer(t, fx.ds, Config{})
	sr, err := srv.client.Stream(context.Background(), StreamParams{Batch: 100, Epoch: maxEpoch, Epochs: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	for range 2 {
		b, err := sr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if b.Epoch != maxEpoch {
			t.Fatalf("batch of epoch %d, want %d", b.Epoch, maxEpoch)
		}
	}
	if b, err := sr.Next(); err != io.EOF {
		t.Fatalf("after the last epoch: batch %v, err %v; want the end of the stream", b != nil, err)
	}
}

// TestStallTimeout: a stream whose client reads nothing for the stall timeout is closed, its place
// freed, and the client resumes where it was when it reads again.
func TestStallTimeout(t *testing.T) {
	fx := smallDataset(t)
	srv := startServer(t, fx.ds, Config{Height: 256, Width: 256, StallTimeout: 300 * time.Millisecond})
	sr, err := srv.client.Stream(context.Background(), StreamParams{Batch: 16, Epochs: -1, Profile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	if _, err := sr.Next(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stalled stream to be closed", func() bool { return srv.srv.openStreams() == 0 })
	if n := srv.srv.metrics.stalledClosed.Get(); n != 1 {
		t.Errorf("%d streams closed for stalling, want 1", n)
	}
}

// TestEvictStalled: at the stream limit, a new stream takes the place of one stalled for
// EvictAfter; a stream that is being read is never evicted.
func TestEvictStalled(t *testing.T) {
	fx := smallDataset(t)
	// EvictAfter well above the pauses a loaded machine gives the reading client below.
	const evictAfter = 500 * time.Millisecond
	srv := startServer(t, fx.ds, Config{Height: 256, Width: 256, MaxStreams: 1, EvictAfter: evictAfter})
	ctx := context.Background()
	stalled, err := srv.client.Stream(ctx, StreamParams{Batch: 16, Epochs: -1, Profile: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := stalled.Next(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the unread stream to stall", func() bool { return longestStall(srv.srv) > evictAfter })
	opened := time.Now()
	reading, err := srv.client.Stream(ctx, StreamParams{Batch: 4, Epochs: -1, Profile: "none"})
	if err != nil {
		t.Fatalf("a new stream at the limit, the other stalled: %v", err)
	}
	defer reading.Close()
	if n := srv.srv.metrics.evicted.Get(); n != 1 {
		t.Errorf("%d streams evicted, want 1", n)
	}
	// The stalled client finds its stream cut once it reads past what the socket held.
	for {
		if _, err := stalled.Next(); err != nil {
			break
		}
	}
	// A stream being read holds its place however long the newcomer waits: read it until it is
	// older than EvictAfter (at least; a slow machine only reads longer).
	for time.Since(opened) < evictAfter*3/2 {
		if _, err := reading.Next(); err != nil {
			t.Fatal(err)
		}
	}
	_, err = srv.client.Stream(ctx, StreamParams{Batch: 4})
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusTooManyRequests {
		t.Errorf("a third stream while the second is read: %v, want 429", err)
	}
}
