package arrowio

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Dataset is an open, memory-mapped dataset. All methods are safe for concurrent readers.
type Dataset struct {
	dir      string
	manifest *Manifest
	shards   [][]byte // mmapped shard files
	batches  []columns
	starts   []int // first row of each batch; one extra entry holds the row count
	classes  []Class
	labels   []int32

	// rowOf maps id-minID to a row when ids are dense enough; otherwise Row binary-searches.
	rowOf []int32
	minID int64

	onClose []func() error // run by Close, after the shards are unmapped
}

// columns are the typed columns of one record batch; they reference mmapped memory.
type columns struct {
	rec    arrow.RecordBatch
	id     *array.Int64
	label  *array.Int32
	image  *array.Binary
	origin *array.Uint8
	parent *array.Int64
	weight *array.Float32
	sim    *array.Float32
	recipe *array.String
	source *array.String
}

// Open maps the dataset in dir. It refuses a folder without a manifest, a shard whose size does
// not match the manifest, and a schema it does not know, naming the file. Checksums are checked
// by Verify, which reads every byte.
func Open(dir string) (*Dataset, error) {
	if err := CheckLocal(dir); err != nil {
		return nil, err
	}
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	d := &Dataset{dir: dir, manifest: m, starts: []int{0}}
	if err := d.load(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Dataset) load() error {
	dir, m := d.dir, d.manifest
	var err error
	if d.classes, err = readClasses(dir, m); err != nil {
		return err
	}
	for _, s := range m.Shards {
		if err := d.openShard(s); err != nil {
			return err
		}
	}
	if got := d.starts[len(d.starts)-1]; int64(got) != m.Samples {
		return fmt.Errorf("open dataset %s: shards hold %d rows, manifest says %d", dir, got, m.Samples)
	}
	if err := d.index(); err != nil {
		return fmt.Errorf("open dataset %s: %w", dir, err)
	}
	return nil
}

func checkSize(dir string, f FileInfo) (string, error) {
	path := filepath.Join(dir, f.File)
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	if st.Size() != f.Bytes {
		return "", fmt.Errorf("%s: size %d bytes, manifest says %d (truncated or replaced)", path, st.Size(), f.Bytes)
	}
	return path, nil
}

func (d *Dataset) openShard(s FileInfo) error {
	path, err := checkSize(d.dir, s)
	if err != nil {
		return err
	}
	data, err := mmapFile(path)
	if err != nil {
		return err
	}
	d.shards = append(d.shards, data)
	batches, err := decodeShard(data)
	if err != nil {
		return fmt.Errorf("read shard %s: %w", path, err)
	}
	var rows int64
	for _, b := range batches {
		d.batches = append(d.batches, b)
		rows += int64(b.id.Len())
		d.starts = append(d.starts, d.starts[len(d.starts)-1]+b.id.Len())
	}
	if rows != s.Rows {
		return fmt.Errorf("read shard %s: %d rows, manifest says %d", path, rows, s.Rows)
	}
	return nil
}

// decodeShard reads every record batch of an Arrow IPC file held in memory, without copying.
func decodeShard(data []byte) (batches []columns, err error) {
	// Corrupt bytes can make the IPC decoder index out of range; a bad shard must be an error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			for _, b := range batches {
				b.rec.Release()
			}
			batches, err = nil, fmt.Errorf("corrupt Arrow file: %v", r)
		}
	}()
	if err := CheckFooter(data); err != nil {
		return nil, err
	}
	// No message of a shard can be larger than the shard itself.
	limit := int64(len(data))
	fr, err := ipc.NewMappedFileReader(data, ipc.WithAllocator(memory.DefaultAllocator),
		ipc.WithMetadataSizeLimit(limit), ipc.WithBodySizeLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("not an Arrow IPC file: %w", err)
	}
	defer fr.Close()
	if err := checkSchema(fr.Schema(), Schema()); err != nil {
		return nil, err
	}
	release := func() {
		for _, b := range batches {
			b.rec.Release()
		}
	}
	for i := 0; i < fr.NumRecords(); i++ {
		rec, err := fr.RecordBatchAt(i)
		if err != nil {
			release()
			return nil, fmt.Errorf("record batch %d: %w", i, err)
		}
		b := columnsOf(rec)
		batches = append(batches, b)
		if err := b.validate(rec.NumRows()); err != nil {
			release()
			return nil, fmt.Errorf("record batch %d: %w", i, err)
		}
	}
	return batches, nil
}

// validate checks what a reader later trusts: every column has the batch's rows, and the offsets
// of the variable-length columns stay inside their data, so Image(row) can never slice out of range.
func (c *columns) validate(rows int64) error {
	for i, col := range c.rec.Columns() {
		if int64(col.Len()) != rows {
			return fmt.Errorf("column %s has %d rows, the batch %d", shardFields[i].Name, col.Len(), rows)
		}
	}
	for _, v := range []struct {
		name string
		arr  interface{ ValidateFull() error }
	}{{"image", c.image}, {"recipe", c.recipe}, {"source", c.source}} {
		if err := v.arr.ValidateFull(); err != nil {
			return fmt.Errorf("column %s: %w", v.name, err)
		}
	}
	return nil
}

func columnsOf(rec arrow.RecordBatch) columns {
	return columns{
		rec:    rec,
		id:     rec.Column(colID).(*array.Int64),
		label:  rec.Column(colLabel).(*array.Int32),
		image:  rec.Column(colImage).(*array.Binary),
		origin: rec.Column(colOrigin).(*array.Uint8),
		parent: rec.Column(colParent).(*array.Int64),
		weight: rec.Column(colWeight).(*array.Float32),
		sim:    rec.Column(colSim).(*array.Float32),
		recipe: rec.Column(colRecipe).(*array.String),
		source: rec.Column(colSource).(*array.String),
	}
}

func mmapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("read shard %s: empty file", path)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return data, nil
}

// index builds the per-row label array and the id lookup, and checks labels and id order.
func (d *Dataset) index() error {
	n := d.Len()
	d.labels = make([]int32, 0, n)
	last := int64(math.MinInt64)
	for _, b := range d.batches {
		for i, l := range b.label.Int32Values() {
			if l < 0 || int(l) >= len(d.classes) {
				return fmt.Errorf("row %d has label %d outside 0..%d", len(d.labels), l, len(d.classes)-1)
			}
			if id := b.id.Value(i); id <= last {
				return fmt.Errorf("row %d: id %d does not increase (previous %d)", len(d.labels), id, last)
			} else {
				last = id
			}
			d.labels = append(d.labels, l)
		}
	}
	if n == 0 {
		return nil
	}
	d.minID = d.ID(0)
	// Ids increase, so the span is positive unless it overflows int64 (ids far apart): compare unsigned.
	span := uint64(d.ID(n-1)) - uint64(d.minID) + 1
	if span > 4*uint64(n)+1024 {
		return nil // sparse ids: Row binary-searches instead
	}
	d.rowOf = make([]int32, span)
	for i := range d.rowOf {
		d.rowOf[i] = -1
	}
	for row := 0; row < n; row++ {
		d.rowOf[d.ID(row)-d.minID] = int32(row)
	}
	return nil
}

// Close unmaps the shards. Slices returned by Image must not be used afterwards.
func (d *Dataset) Close() error {
	for _, b := range d.batches {
		b.rec.Release()
	}
	d.batches = nil
	var errs []error
	for _, s := range d.shards {
		if err := syscall.Munmap(s); err != nil {
			errs = append(errs, fmt.Errorf("unmap shard of %s: %w", d.dir, err))
		}
	}
	d.shards = nil
	for _, f := range d.onClose {
		errs = append(errs, f())
	}
	d.onClose = nil
	return errors.Join(errs...)
}

// OnClose has Close call f once the dataset is unmapped: whoever provided its files (a cache)
// learns that they are no longer in use.
func (d *Dataset) OnClose(f func() error) { d.onClose = append(d.onClose, f) }

// Dir is the dataset folder.
func (d *Dataset) Dir() string { return d.dir }

// Manifest is the dataset's dataset.json.
func (d *Dataset) Manifest() *Manifest { return d.manifest }

// Len is the number of rows.
func (d *Dataset) Len() int { return d.starts[len(d.starts)-1] }

// NumClasses is the number of identities.
func (d *Dataset) NumClasses() int { return len(d.classes) }

// Classes are the identities in label order; callers must not modify the slice.
func (d *Dataset) Classes() []Class { return d.classes }

// Labels is the label of every row; callers must not modify the slice.
func (d *Dataset) Labels() []int32 { return d.labels }

// Quotas are the per-class draws per epoch, or nil when the dataset has none.
func (d *Dataset) Quotas() []int32 {
	q := make([]int32, len(d.classes))
	any := false
	for i, c := range d.classes {
		q[i] = c.Quota
		any = any || c.Quota != 0
	}
	if !any {
		return nil
	}
	return q
}

// Weights are the per-row sampling weights, or nil when every row weighs the same non-zero amount
// (all-zero weights are returned so the sampler can refuse them).
func (d *Dataset) Weights() []float32 {
	w := make([]float32, 0, d.Len())
	same := true
	for _, b := range d.batches {
		for _, v := range b.weight.Float32Values() {
			same = same && (len(w) == 0 || v == w[0])
			w = append(w, v)
		}
	}
	if len(w) == 0 || (same && w[0] > 0) {
		return nil
	}
	return w
}

// Fingerprint identifies the dataset's content; every stage and plan mixes it into its seeds.
func (d *Dataset) Fingerprint() uint64 {
	h := fnv.New64a()
	h.Write([]byte(d.manifest.Classes.SHA256))
	for _, s := range d.manifest.Shards {
		h.Write([]byte(s.SHA256))
	}
	return h.Sum64()
}

// locate maps a row to its batch and the row's index inside it.
func (d *Dataset) locate(row int) (*columns, int) {
	b := sort.Search(len(d.batches), func(i int) bool { return d.starts[i+1] > row })
	return &d.batches[b], row - d.starts[b]
}

// ID is the row's stable sample id.
func (d *Dataset) ID(row int) int64 { b, i := d.locate(row); return b.id.Value(i) }

// Label is the row's dense identity label.
func (d *Dataset) Label(row int) int32 { return d.labels[row] }

// Image is the row's encoded image, referencing the mapped shard: no copy.
func (d *Dataset) Image(row int) []byte { b, i := d.locate(row); return b.image.Value(i) }

// Origin is OriginOriginal or OriginAugmented.
func (d *Dataset) Origin(row int) uint8 { b, i := d.locate(row); return b.origin.Value(i) }

// Parent is the id an augmentation was made from, -1 for originals.
func (d *Dataset) Parent(row int) int64 { b, i := d.locate(row); return b.parent.Value(i) }

// Weight is the row's sampling weight.
func (d *Dataset) Weight(row int) float32 { b, i := d.locate(row); return b.weight.Value(i) }

// Sim is the row's cosine to its class centre (NaN before S2).
func (d *Dataset) Sim(row int) float32 { b, i := d.locate(row); return b.sim.Value(i) }

// Recipe is the offline ops applied to the row.
func (d *Dataset) Recipe(row int) string { b, i := d.locate(row); return b.recipe.Value(i) }

// Source is where the row's photo came from.
func (d *Dataset) Source(row int) string { b, i := d.locate(row); return b.source.Value(i) }

// Sample returns every field of a row; Image references the mapped shard.
func (d *Dataset) Sample(row int) Sample {
	b, i := d.locate(row)
	return b.sample(i)
}

// sample is row i of the batch; its bytes and strings point into the mapped shard.
func (c *columns) sample(i int) Sample {
	return Sample{
		ID: c.id.Value(i), Label: c.label.Value(i), Image: c.image.Value(i), Origin: c.origin.Value(i),
		Parent: c.parent.Value(i), Weight: c.weight.Value(i), Sim: c.sim.Value(i),
		Recipe: c.recipe.Value(i), Source: c.source.Value(i),
	}
}

// Row finds the row holding a sample id.
func (d *Dataset) Row(id int64) (int, bool) {
	if d.rowOf != nil {
		k := id - d.minID
		if k < 0 || k >= int64(len(d.rowOf)) || d.rowOf[k] < 0 {
			return 0, false
		}
		return int(d.rowOf[k]), true
	}
	n := d.Len()
	row := sort.Search(n, func(r int) bool { return d.ID(r) >= id })
	if row < n && d.ID(row) == id {
		return row, true
	}
	return 0, false
}

// Verify checks every shard's and classes.arrow's sha256 against the manifest.
func (d *Dataset) Verify() error {
	files := append([]FileInfo{d.manifest.Classes}, d.manifest.Shards...)
	for _, f := range files {
		path := filepath.Join(d.dir, f.File)
		got, err := HashFile(path)
		if err != nil {
			return err
		}
		if got.SHA256 != f.SHA256 {
			return fmt.Errorf("%s: sha256 %s, manifest says %s (corrupt)", path, got.SHA256, f.SHA256)
		}
	}
	return nil
}

func readClasses(dir string, m *Manifest) ([]Class, error) {
	path, err := checkSize(dir, m.Classes)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read classes %s: %w", path, err)
	}
	classes, err := decodeClasses(data)
	if err != nil {
		return nil, fmt.Errorf("read classes %s: %w", path, err)
	}
	if len(classes) != m.Identities {
		return nil, fmt.Errorf("read classes %s: %d classes, manifest says %d", path, len(classes), m.Identities)
	}
	return classes, nil
}

func decodeClasses(data []byte) (classes []Class, err error) {
	defer func() {
		if r := recover(); r != nil {
			classes, err = nil, fmt.Errorf("corrupt Arrow file: %v", r)
		}
	}()
	if err := CheckFooter(data); err != nil {
		return nil, err
	}
	fr, err := ipc.NewMappedFileReader(data, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return nil, fmt.Errorf("not an Arrow IPC file: %w", err)
	}
	defer fr.Close()
	if err := checkSchema(fr.Schema(), ClassSchema()); err != nil {
		return nil, err
	}
	for i := 0; i < fr.NumRecords(); i++ {
		rec, err := fr.RecordBatch(i)
		if err != nil {
			return nil, fmt.Errorf("record batch %d: %w", i, err)
		}
		cols := make([]*array.Int32, 7)
		for _, c := range []int{0, 2, 3, 4, 5, 6} {
			cols[c] = rec.Column(c).(*array.Int32)
		}
		ident := rec.Column(1).(*array.String)
		for r := 0; r < int(rec.NumRows()); r++ {
			c := Class{
				Label: cols[0].Value(r), Identity: ident.Value(r), Count: cols[2].Value(r),
				RawCount: cols[3].Value(r), CleanCount: cols[4].Value(r), AugCount: cols[5].Value(r), Quota: cols[6].Value(r),
			}
			if c.Label != int32(len(classes)) {
				return nil, fmt.Errorf("class row %d has label %d; labels must be 0..C-1 in order", len(classes), c.Label)
			}
			classes = append(classes, c)
		}
	}
	return classes, nil
}
