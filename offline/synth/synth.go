// Package synth generates synthetic face-identity sets: parametric faces,
// varied per photo, with a long-tailed number of photos per identity and
// planted label noise, written as an ImageFolder tree plus a truth file that
// says which photos are clean, mislabeled or junk.
package synth

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/facestream/facestream/internal/splitmix"
)

// Kind says what a generated photo really is.
type Kind string

const (
	Clean      Kind = "clean"      // the identity it is filed under
	Mislabeled Kind = "mislabeled" // another identity's face, filed under this one
	Junk       Kind = "junk"       // not a face at all
	Outsider   Kind = "outsider"   // a person outside the set filed under one of its identities (plant)
)

// Options configures a synthetic set.
type Options struct {
	Identities int     // number of identities (folders)
	Seed       uint64  // everything is a pure function of the seed
	Noise      float64 // fraction of photos filed under the wrong identity
	Junk       float64 // fraction of photos that are not faces
	Size       int     // image side in pixels (112 matches ArcFace crops)
	Workers    int     // parallel renderers; 0 means GOMAXPROCS. Does not change the output.
}

// Photo is one line of truth.csv.
type Photo struct {
	Path         string // relative to DIR/images
	TrueIdentity string // whose face it shows; empty for junk
	Kind         Kind
}

// Summary counts what Generate wrote.
type Summary struct {
	Identities, Photos, Mislabeled, Junk int
}

// Photo-count distribution: a discrete Pareto tail, P(count ≥ k) = (minPhotos/k)^tailAlpha,
// gives most identities 2–10 photos and about 1 % of them 100 or more, like real sets.
const (
	minPhotos = 2
	maxPhotos = 400
	tailAlpha = 1.1
)

// Stream tags keep the random streams of counts, identities and photos independent.
const (
	streamCount uint64 = iota + 1
	streamIdentity
	streamPhoto
)

// IdentityName is the folder name of identity i of a set of n: zero-padded
// so that names sort in index order.
func IdentityName(i, n int) string {
	return fmt.Sprintf("id%0*d", max(5, len(strconv.Itoa(n-1))), i)
}

func (o Options) validate() error {
	switch {
	case o.Identities < 2:
		return fmt.Errorf("synth: need at least 2 identities, got %d", o.Identities)
	case o.Noise < 0 || o.Junk < 0 || o.Noise+o.Junk >= 1:
		return fmt.Errorf("synth: noise %.3g and junk %.3g must be ≥ 0 and sum below 1", o.Noise, o.Junk)
	case o.Size < 16 || o.Size > 1024:
		return fmt.Errorf("synth: size %d outside 16..1024", o.Size)
	}
	return nil
}

// newRand returns the random stream for (seed, stream, a, b): a SplitMix-style
// mix so that neighbouring identities and photos get unrelated streams.
func newRand(seed, stream uint64, a, b int) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix.Step(seed^splitmix.Step(stream)), splitmix.Step(uint64(a)<<32|uint64(uint32(b))^stream<<60)))
}

// photoCount is how many photos identity i gets.
func photoCount(seed uint64, i int) int {
	u := 1 - newRand(seed, streamCount, i, 0).Float64() // (0, 1]
	n := int(minPhotos * math.Pow(u, -1/tailAlpha))
	return min(n, maxPhotos)
}

type job struct{ identity, index int }

// Generate writes the set under dir: dir/images/<identity>/<nnnn>.jpg and
// dir/truth.csv (written last, atomically). The bytes depend only on opts
// minus Workers.
func Generate(ctx context.Context, dir string, opts Options) (Summary, error) {
	if err := opts.validate(); err != nil {
		return Summary{}, err
	}
	var jobs []job
	for i := range opts.Identities {
		if err := os.MkdirAll(filepath.Join(dir, "images", IdentityName(i, opts.Identities)), 0o755); err != nil {
			return Summary{}, fmt.Errorf("synth: %w", err)
		}
		for j := range photoCount(opts.Seed, i) {
			jobs = append(jobs, job{i, j})
		}
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	truth := make([]Photo, len(jobs))
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := newRenderer(opts)
			for {
				k := int(next.Add(1) - 1)
				if k >= len(jobs) || ctx.Err() != nil {
					return
				}
				p, err := r.photo(dir, jobs[k])
				if err != nil {
					errs[w] = err
					next.Store(int64(len(jobs))) // stop the others early
					return
				}
				truth[k] = p
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return Summary{}, err
	}
	sum := Summary{Identities: opts.Identities, Photos: len(truth)}
	for _, p := range truth {
		switch p.Kind {
		case Mislabeled:
			sum.Mislabeled++
		case Junk:
			sum.Junk++
		}
	}
	return sum, WriteTruth(filepath.Join(dir, "truth.csv"), truth)
}

// renderer owns one worker's reusable buffers.
type renderer struct {
	opts Options
	c    *canvas
	img  *image.RGBA
	buf  bytes.Buffer
}

func newRenderer(opts Options) *renderer {
	return &renderer{
		opts: opts,
		c:    newCanvas(opts.Size),
		img:  image.NewRGBA(image.Rect(0, 0, opts.Size, opts.Size)),
	}
}

// photo renders and writes photo j of identity i. Its kind and content
// come from the (seed, i, j) stream alone, so any worker produces the same bytes.
func (r *renderer) photo(dir string, jb job) (Photo, error) {
	rng := newRand(r.opts.Seed, streamPhoto, jb.identity, jb.index)
	rel := IdentityName(jb.identity, r.opts.Identities) + "/" + fmt.Sprintf("%04d.jpg", jb.index)
	p := Photo{Path: rel, Kind: Clean}
	u := rng.Float64()
	var quality int
	switch {
	case u < r.opts.Junk:
		p.Kind = Junk
		renderJunk(r.c, rng)
		quality = 50 + rng.IntN(46)
	default:
		who := jb.identity
		if u < r.opts.Junk+r.opts.Noise {
			p.Kind = Mislabeled
			who = (who + 1 + rng.IntN(r.opts.Identities-1)) % r.opts.Identities
		}
		p.TrueIdentity = IdentityName(who, r.opts.Identities)
		id := newIdentity(newRand(r.opts.Seed, streamIdentity, who, 0))
		ps := newPose(rng, &id)
		renderFace(r.c, rng, &id, &ps)
		quality = ps.quality
	}
	r.toImage()
	r.buf.Reset()
	if err := jpeg.Encode(&r.buf, r.img, &jpeg.Options{Quality: quality}); err != nil {
		return Photo{}, fmt.Errorf("synth: encode %s: %w", rel, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "images", filepath.FromSlash(rel)), r.buf.Bytes(), 0o644); err != nil {
		return Photo{}, fmt.Errorf("synth: %w", err)
	}
	return p, nil
}

func (r *renderer) toImage() {
	pix := r.img.Pix
	for i, j := 0, 0; i < len(r.c.pix); i, j = i+3, j+4 {
		pix[j] = clampByte(r.c.pix[i])
		pix[j+1] = clampByte(r.c.pix[i+1])
		pix[j+2] = clampByte(r.c.pix[i+2])
		pix[j+3] = 255
	}
}

func clampByte(v float32) uint8 {
	return uint8(max(0, min(255, v+0.5)))
}

// WriteTruth writes truth.csv through a temporary file so a reader never sees half of it.
func WriteTruth(path string, photos []Photo) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	rows := [][]string{{"path", "true_identity", "kind"}}
	for _, p := range photos {
		rows = append(rows, []string{p.Path, p.TrueIdentity, string(p.Kind)})
	}
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("synth: write %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".truth-*.csv")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	_, err = f.Write(b.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("synth: write %s: %w", path, err)
	}
	return nil
}

// ReadTruth reads a truth.csv written by Generate or plant.
func ReadTruth(path string) ([]Photo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("synth: read %s: %w", path, err)
	}
	if len(rows) == 0 || len(rows[0]) != 3 || rows[0][0] != "path" {
		return nil, fmt.Errorf("synth: %s: missing header path,true_identity,kind", path)
	}
	photos := make([]Photo, 0, len(rows)-1)
	for _, row := range rows[1:] {
		photos = append(photos, Photo{Path: row[0], TrueIdentity: row[1], Kind: Kind(row[2])})
	}
	return photos, nil
}
