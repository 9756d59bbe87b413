package loader

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/augment"
	"github.com/facestream/facestream/internal/testdataset"
	"github.com/facestream/facestream/sampler"
)

const testSize = 32 // output height and width: small keeps the tests fast

// fixture is a dataset of tiny JPEGs, identity by identity.
type fixture struct {
	ds  *arrowio.Dataset
	dir string
}

// datasetOptions shape a test dataset.
type datasetOptions struct {
	identities, perIdentity int
	corrupt                 func(label, i int) bool // photos stored as bytes that do not decode
	oversize                func(label, i int) bool // photos stored as 120×120 PNGs
}

func newFixture(t testing.TB, o datasetOptions) *fixture {
	t.Helper()
	ds := testdataset.Open(t, testdataset.Options{Source: "loader test", Identities: o.identities, PerIdentity: o.perIdentity,
		Size: 40, FirstID: 1000, Photo: func(c, i int) []byte {
			img := testdataset.JPEG(t, 40, 40, c, i)
			if o.corrupt != nil && o.corrupt(c, i) {
				img = append(img[:20:20], "not the rest of a JPEG"...)
			}
			if o.oversize != nil && o.oversize(c, i) {
				var b bytes.Buffer
				if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 120, 120))); err != nil {
					t.Fatal(err)
				}
				img = b.Bytes()
			}
			return img
		}})
	return &fixture{ds: ds, dir: ds.Dir()}
}

// smallDataset is 10 identities × 20 photos.
func smallDataset(t testing.TB) *fixture {
	return newFixture(t, datasetOptions{identities: 10, perIdentity: 20})
}

// running is a server listening on a loopback port.
type running struct {
	srv    *Server
	url    string
	client *Client
	served chan error
}

func startServer(t testing.TB, ds *arrowio.Dataset, cfg Config) *running {
	t.Helper()
	if cfg.Height == 0 {
		cfg.Height, cfg.Width = testSize, testSize
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := NewServer(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{srv: srv, url: "http://" + ln.Addr().String(), served: make(chan error, 1)}
	r.client = NewClient(r.url, cfg.Token)
	go func() { r.served <- srv.Serve(ln) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts the server down; calling it twice is harmless.
func (r *running) stop(t testing.TB) {
	if r.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := <-r.served; err != nil {
		t.Errorf("serve: %v", err)
	}
	r.srv = nil
}

// expected is what the plan says a rank gets, and the pixels the augment package makes of it.
type expected struct {
	rows   []int32
	labels []int32
	ids    []int64
	pos    []int64
	epochs []int32
}

// planFor computes a stream's content independently of the server: sampler plan, dataset columns.
func planFor(t testing.TB, ds *arrowio.Dataset, p StreamParams, mode sampler.Mode) expected {
	t.Helper()
	pop := &sampler.Population{Labels: ds.Labels(), NumClasses: ds.NumClasses(), Quotas: ds.Quotas(),
		Weights: ds.Weights(), Fingerprint: ds.Fingerprint()}
	var e expected
	epochs := max(p.Epochs, 1)
	for k := range epochs {
		ep, err := sampler.Build(pop, sampler.Spec{Mode: mode, Seed: p.Seed, Epoch: p.Epoch + k, EpochLen: p.EpochLen, P: p.P, K: p.K})
		if err != nil {
			t.Fatal(err)
		}
		rp, err := ep.Rank(max(p.World, 1), p.Rank, p.Batch, p.Pad)
		if err != nil {
			t.Fatal(err)
		}
		start := 0
		if k == 0 {
			start = p.Start
		}
		for pos := start; pos < rp.Len(); pos++ {
			row := rp.At(pos)
			e.rows = append(e.rows, row)
			e.labels = append(e.labels, ds.Label(int(row)))
			e.ids = append(e.ids, ds.ID(int(row)))
			e.pos = append(e.pos, int64(pos))
			e.epochs = append(e.epochs, int32(p.Epoch+k))
		}
	}
	return e
}

// pixels makes the image the server should send for a row at a position.
func pixels(t testing.TB, ds *arrowio.Dataset, profile string, row int32, seed uint64, epoch int, pos int64) []byte {
	t.Helper()
	prof, err := augment.BuiltinProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, testSize*testSize*3)
	if err := augment.NewWorker(prof, testSize, testSize).Process(ds.Image(int(row)), seed, epoch, pos, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// received is everything a stream delivered, concatenated.
type received struct {
	images []byte
	labels []int32
	ids    []int64
	pos    []int64
	epochs []int32
}

func (r *received) add(b *Batch) {
	r.images = append(r.images, b.Images...)
	r.labels = append(r.labels, b.Labels...)
	r.ids = append(r.ids, b.IDs...)
	r.pos = append(r.pos, b.Pos...)
	for range b.Labels {
		r.epochs = append(r.epochs, int32(b.Epoch))
	}
}

// readAll reads a stream to its end marker; the error is nil only when the marker came.
func readAll(ctx context.Context, c *Client, p StreamParams) (*received, error) {
	sr, err := c.Stream(ctx, p)
	if err != nil {
		return nil, err
	}
	defer sr.Close()
	var got received
	for {
		b, err := sr.Next()
		if errors.Is(err, io.EOF) {
			return &got, nil
		}
		if err != nil {
			return &got, err
		}
		got.add(b)
	}
}

// checkPlan compares what a stream delivered with the independent plan.
func checkPlan(t testing.TB, got *received, want expected) {
	t.Helper()
	if len(got.ids) != len(want.ids) {
		t.Fatalf("got %d images, plan has %d", len(got.ids), len(want.ids))
	}
	for i := range want.ids {
		if got.ids[i] != want.ids[i] || got.labels[i] != want.labels[i] || got.pos[i] != want.pos[i] || got.epochs[i] != want.epochs[i] {
			t.Fatalf("image %d: got id %d label %d pos %d epoch %d, plan says id %d label %d pos %d epoch %d", i,
				got.ids[i], got.labels[i], got.pos[i], got.epochs[i], want.ids[i], want.labels[i], want.pos[i], want.epochs[i])
		}
	}
}
