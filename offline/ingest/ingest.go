// Package ingest imports a face-identity set (an ImageFolder tree, an
// InsightFace RecordIO file or a Parquet file) into a raw facestream
// dataset, validating every image in parallel and quarantining the ones that
// are not usable images, with the reason, in report/import.json.
package ingest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/augment"
)

// Source formats.
const (
	FormatImageFolder = "imagefolder"
	FormatRec         = "rec"
	FormatParquet     = "parquet"
)

// ReportName is the import report inside the dataset.
const ReportName = "report/import.json"

// Options configure Import.
type Options struct {
	Format      string // FormatImageFolder, FormatRec or FormatParquet
	Source      string // ImageFolder root, .rec (or the folder holding train.rec) or .parquet
	Out         string // dataset folder
	Force       bool   // replace a dataset already in Out
	Verify      bool   // decode every image fully (the server's decoder), not just its header
	MaxPixels   int64  // photos larger (width × height) are quarantined; 0: augment.DefaultMaxPixels
	Workers     int    // validating goroutines; 0 means GOMAXPROCS
	ImageColumn string // Parquet image-bytes column ("image" when empty)
	LabelColumn string // Parquet label (int) or identity (string) column; empty tries label, identity
	// Progress, when set, is called from one goroutine after each photo.
	Progress func(done, total int)
}

// Quarantined is a refused file and why.
type Quarantined struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
}

// Duplicate is a photo whose bytes equal an earlier one's.
type Duplicate struct {
	Source      string `json:"source"`
	DuplicateOf string `json:"duplicate_of"`
}

// Report is report/import.json.
type Report struct {
	Format          string         `json:"format"`
	Source          string         `json:"source"`
	Verified        bool           `json:"verified"`
	Samples         int            `json:"samples"`
	Identities      int            `json:"identities"`
	Formats         map[string]int `json:"formats"` // accepted photos per image format
	Quarantined     []Quarantined  `json:"quarantined"`
	EmptyIdentities []string       `json:"empty_identities"`
	Duplicates      []Duplicate    `json:"duplicates"`
	Seconds         float64        `json:"seconds"`
	ImagesPerSecond float64        `json:"images_per_second"`
}

// Import reads opts.Source and writes the raw dataset opts.Out. Samples get ids 0..N-1 in
// output order (identities sorted, photos sorted within) and labels 0..C-1 in sorted identity
// order over the identities that keep at least one photo.
func Import(ctx context.Context, opts Options) (*Report, error) {
	src, err := open(opts)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	start := time.Now()
	// An absolute source lets later stages find files beside it (synth's truth.csv) from any folder.
	origin, err := filepath.Abs(opts.Source)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", opts.Source, err)
	}
	w, err := arrowio.Create(opts.Out, arrowio.WriterOptions{Kind: arrowio.KindRaw, Source: origin, Force: opts.Force})
	if err != nil {
		return nil, err
	}
	rep, classes, err := write(ctx, src, w, opts)
	if err != nil {
		w.Abort()
		return nil, err
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.ImagesPerSecond = float64(src.Len()) / max(rep.Seconds, 1e-9)
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("import report: %w", err)
	}
	if err := w.WriteFile(ReportName, data); err != nil {
		w.Abort()
		return nil, err
	}
	w.SetCount("quarantined", int64(len(rep.Quarantined)))
	w.SetCount("duplicates", int64(len(rep.Duplicates)))
	w.SetCount("empty_identities", int64(len(rep.EmptyIdentities)))
	w.SetStage("import", arrowio.Stage{Params: map[string]any{
		"format": opts.Format, "source": opts.Source, "verify": opts.Verify,
	}})
	if _, err := w.Finish(classes); err != nil {
		return nil, err
	}
	return rep, nil
}

func open(opts Options) (source, error) {
	switch opts.Format {
	case FormatImageFolder:
		return openFolder(opts.Source)
	case FormatRec:
		return openRec(opts.Source)
	case FormatParquet:
		col := opts.ImageColumn
		if col == "" {
			col = "image"
		}
		return openParquet(opts.Source, col, opts.LabelColumn)
	}
	return nil, fmt.Errorf("unknown source format %q (want %s, %s or %s)", opts.Format, FormatImageFolder, FormatRec, FormatParquet)
}

// checked is one photo after validation.
type checked struct {
	data   []byte
	sum    [sha256.Size]byte
	format string
	size   [2]int // height, width
	reason string // why it is quarantined; empty when accepted
	err    error  // a failure to read the source: fatal
}

// write validates the photos on all workers and appends the accepted ones in source order.
func write(ctx context.Context, src source, w *arrowio.Writer, opts Options) (*Report, []arrowio.Class, error) {
	ctx, cancel := context.WithCancel(ctx)
	results := validate(ctx, src, opts)
	// On an early return the workers may still be reading src, which the caller closes next:
	// stop them, and wait until they have (validate closes results after its workers end).
	defer func() {
		cancel()
		for range results {
		}
	}()

	names := src.Identities()
	rep := &Report{
		Format: opts.Format, Source: opts.Source, Verified: opts.Verify, Formats: map[string]int{},
		Quarantined: []Quarantined{}, EmptyIdentities: []string{}, Duplicates: []Duplicate{},
	}
	var digests []digest
	var classes []arrowio.Class
	kept := make([]bool, len(names))
	sizes := map[[2]int]int{}
	sample := arrowio.Sample{Parent: -1, Weight: 1, Sim: float32(math.NaN())}
	for i := range src.Len() {
		res, ok := <-results
		if !ok {
			return nil, nil, fmt.Errorf("import %s: %w", opts.Source, ctx.Err())
		}
		if res.err != nil {
			return nil, nil, res.err
		}
		identity, origin := src.Entry(i)
		switch {
		case identity < 0:
			rep.Quarantined = append(rep.Quarantined, Quarantined{origin, "not inside an identity folder"})
		case res.reason != "":
			rep.Quarantined = append(rep.Quarantined, Quarantined{origin, res.reason})
		default:
			if !kept[identity] {
				kept[identity] = true
				classes = append(classes, arrowio.Class{Label: int32(len(classes)), Identity: names[identity]})
			}
			digests = append(digests, digest{binary.LittleEndian.Uint64(res.sum[:]), i})
			sample.ID, sample.Label, sample.Image, sample.Source = int64(rep.Samples), int32(len(classes)-1), res.data, origin
			if err := w.Append(&sample); err != nil {
				return nil, nil, err
			}
			rep.Samples++
			classes[len(classes)-1].RawCount++
			rep.Formats[res.format]++
			sizes[res.size]++
		}
		if opts.Progress != nil {
			opts.Progress(i+1, src.Len())
		}
	}
	// The commonest size is the dataset's size hint (aligned face sets are all one size).
	var hint [2]int
	for size, n := range sizes {
		if n > sizes[hint] || (n == sizes[hint] && (size[0] < hint[0] || (size[0] == hint[0] && size[1] < hint[1]))) {
			hint = size
		}
	}
	w.SetImageSize(hint[0], hint[1])
	dups, err := duplicates(src, digests)
	if err != nil {
		return nil, nil, err
	}
	rep.Duplicates = dups
	for i, name := range names {
		if !kept[i] {
			rep.EmptyIdentities = append(rep.EmptyIdentities, name)
		}
	}
	if rep.Samples == 0 {
		first := ""
		if len(rep.Quarantined) > 0 {
			first = fmt.Sprintf(" (first: %s: %s)", rep.Quarantined[0].Source, rep.Quarantined[0].Reason)
		}
		return nil, nil, fmt.Errorf("import %s: no usable image among %d files; %d quarantined%s",
			opts.Source, src.Len(), len(rep.Quarantined), first)
	}
	rep.Identities = len(classes)
	return rep, classes, nil
}

// digest is a kept photo's sha256 prefix and its source index: 16 bytes a
// photo, so duplicate detection stays small at Glint360K's 17 M photos.
type digest struct {
	prefix uint64
	index  int
}

// duplicates finds photos whose bytes equal an earlier photo's: equal
// digests are candidates, confirmed by comparing the bytes (read again, so
// a prefix collision never reports a false duplicate). Ordered by photo.
func duplicates(src source, digests []digest) ([]Duplicate, error) {
	slices.SortFunc(digests, func(a, b digest) int {
		return cmp.Or(cmp.Compare(a.prefix, b.prefix), cmp.Compare(a.index, b.index))
	})
	type found struct{ index, of int }
	var dups []found
	for start := 0; start < len(digests); {
		end := start + 1
		for end < len(digests) && digests[end].prefix == digests[start].prefix {
			end++
		}
		if end-start > 1 {
			group, err := sameBytes(src, digests[start:end])
			if err != nil {
				return nil, err
			}
			for i, first := range group {
				if first != i {
					dups = append(dups, found{digests[start+i].index, digests[start+first].index})
				}
			}
		}
		start = end
	}
	slices.SortFunc(dups, func(a, b found) int { return cmp.Compare(a.index, b.index) })
	out := make([]Duplicate, len(dups))
	for i, d := range dups {
		_, origin := src.Entry(d.index)
		_, first := src.Entry(d.of)
		out[i] = Duplicate{origin, first}
	}
	return out, nil
}

// sameBytes reads a group of photos with equal digests and returns, for
// each, the position in the group of the first photo with the same bytes.
func sameBytes(src source, group []digest) ([]int, error) {
	data := make([][]byte, len(group))
	first := make([]int, len(group))
	for i, d := range group {
		b, err := src.Read(d.index)
		if err != nil {
			_, origin := src.Entry(d.index)
			return nil, fmt.Errorf("read %s again: %w", origin, err)
		}
		data[i], first[i] = b, i
		for j := range i {
			if first[j] == j && bytes.Equal(data[j], b) {
				first[i] = j
				break
			}
		}
	}
	return first, nil
}

// validate reads and checks photos on opts.Workers goroutines and delivers the results in
// source order. At most a window of photos is in flight, so memory stays bounded.
func validate(ctx context.Context, src source, opts Options) <-chan checked {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	maxPixels := min(cmp.Or(opts.MaxPixels, augment.DefaultMaxPixels), augment.MaxPixels)
	window := 4 * workers
	slots := make([]chan checked, window)
	for i := range slots {
		slots[i] = make(chan checked, 1)
	}
	jobs := make(chan int, window)
	out := make(chan checked, window)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var decoder *augment.Worker // the server's decoder, for a full decode of every photo
			if opts.Verify {
				decoder = augment.NewDecoder()
				decoder.SetMaxPixels(maxPixels)
			}
			for i := range jobs {
				if err := ctx.Err(); err != nil { // cancelled: answer the queued jobs without reading
					slots[i%window] <- checked{err: err}
					continue
				}
				slots[i%window] <- check(src, i, decoder, maxPixels)
			}
		})
	}
	// The feeder may run at most window photos ahead of the collector, which
	// frees a slot by taking its result.
	free := make(chan struct{}, window)
	for range window {
		free <- struct{}{}
	}
	go func() {
		defer close(jobs)
		for i := range src.Len() {
			select {
			case <-free:
			case <-ctx.Done():
				return
			}
			jobs <- i
		}
	}()
	go func() {
		defer close(out)
		defer wg.Wait()
		for i := range src.Len() {
			var res checked
			select {
			case res = <-slots[i%window]:
			case <-ctx.Done():
				return
			}
			free <- struct{}{}
			select {
			case out <- res:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// check reads photo i and decides whether it is a usable image: its header, and with a
// decoder, the whole image.
func check(src source, i int, decoder *augment.Worker, maxPixels int64) checked {
	data, err := src.Read(i)
	if u := (*unreadable)(nil); errors.As(err, &u) {
		return checked{reason: u.Error()}
	}
	if err != nil {
		_, origin := src.Entry(i)
		return checked{err: fmt.Errorf("read %s: %w", origin, err)}
	}
	res := checked{data: data, sum: sha256.Sum256(data)}
	if len(data) == 0 {
		res.reason = "empty file"
		return res
	}
	res.format, res.size[1], res.size[0], err = augment.DecodeConfig(data)
	if px := int64(res.size[0]) * int64(res.size[1]); err == nil && px > maxPixels {
		err = fmt.Errorf("%s image %dx%d is over the limit of %d pixels (--max-pixels)", res.format, res.size[1], res.size[0], maxPixels)
	}
	if err == nil && decoder != nil {
		_, _, _, err = decoder.DecodeRGB(data)
	}
	if err != nil {
		res.reason = err.Error()
	}
	return res
}
