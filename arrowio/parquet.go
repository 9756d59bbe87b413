package arrowio

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ParquetIdentitiesKey is the Parquet key-value metadata under which ExportParquet stores the
// identity names (a JSON array indexed by label), so an import restores them.
const ParquetIdentitiesKey = "facestream.identities"

// Row groups are cut at whichever comes first: small enough to read one at a time on import.
const (
	parquetGroupRows  = 4096
	parquetGroupBytes = 64 << 20
)

// ExportParquet writes the dataset as one Parquet file with the shard schema: zstd for every
// column but the already-compressed images. The file appears under path only when complete.
func ExportParquet(ds *Dataset, path string) error {
	return exportParquet(ds, path, memory.DefaultAllocator)
}

// exportParquet is ExportParquet with the allocator every Arrow and Parquet buffer comes from.
func exportParquet(ds *Dataset, path string, mem memory.Allocator) error {
	names := make([]string, ds.NumClasses())
	for _, c := range ds.Classes() {
		names[c.Label] = c.Identity
	}
	identities, err := json.Marshal(names)
	if err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	out, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("export parquet: %w", err)
	}
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionFor("image", compress.Codecs.Uncompressed),
		parquet.WithDictionaryFor("image", false),
		parquet.WithMaxRowGroupLength(parquetGroupRows),
		parquet.WithAllocator(mem),
	)
	// The sink hides out's Close: pqarrow closes a Closer, and commit must sync first.
	fw, err := pqarrow.NewFileWriter(Schema(), struct{ io.Writer }{out}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem)))
	if err != nil {
		out.abort()
		return fmt.Errorf("export %s: %w", path, err)
	}
	if err := writeParquetRows(ds, fw, mem); err != nil {
		fw.Close()
		out.abort()
		return fmt.Errorf("export %s: %w", path, err)
	}
	if err := fw.AppendKeyValueMetadata(ParquetIdentitiesKey, string(identities)); err != nil {
		fw.Close()
		out.abort()
		return fmt.Errorf("export %s: %w", path, err)
	}
	if err := fw.Close(); err != nil {
		out.abort()
		return fmt.Errorf("export %s: %w", path, err)
	}
	if _, err := out.commit(); err != nil {
		return fmt.Errorf("export parquet: %w", err)
	}
	return nil
}

// writeParquetRows writes every row of ds, one row group per batch.
func writeParquetRows(ds *Dataset, fw *pqarrow.FileWriter, mem memory.Allocator) error {
	b := array.NewRecordBuilder(mem, Schema())
	defer b.Release()
	rows, bytes := 0, 0
	flush := func() error {
		rec := b.NewRecordBatch()
		defer rec.Release()
		rows, bytes = 0, 0
		return fw.Write(rec)
	}
	for row := range ds.Len() {
		s := ds.Sample(row)
		appendSample(b, &s)
		rows++
		bytes += len(s.Image)
		if rows >= parquetGroupRows || bytes >= parquetGroupBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if rows > 0 {
		return flush()
	}
	return nil
}

// ParquetImages reads photos from a Parquet file: an image-bytes column and either an integer
// label column or a string identity column. Not safe for concurrent use.
type ParquetImages struct {
	path      string
	f         *os.File
	fr        *pqarrow.FileReader
	imageCol  int
	groupEnds []int64 // cumulative row counts per row group

	group  int // row group whose images are loaded, -1 for none
	images *arrow.Chunked

	rowIdentity []int32  // per row, an index into names
	names       []string // sorted identity names
}

// OpenParquetImages opens path, finds its columns and reads the identity of every row. An
// empty labelColumn tries "label", then "identity". A missing column is an error naming the
// file and the columns it has.
func OpenParquetImages(path, imageColumn, labelColumn string) (*ParquetImages, error) {
	return openParquetImages(path, imageColumn, labelColumn, memory.DefaultAllocator)
}

// openParquetImages is OpenParquetImages with the allocator the file's buffers come from.
func openParquetImages(path, imageColumn, labelColumn string, mem memory.Allocator) (*ParquetImages, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	p, err := readParquetImages(f, path, imageColumn, labelColumn, mem)
	if err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

func readParquetImages(f *os.File, path, imageColumn, labelColumn string, mem memory.Allocator) (*ParquetImages, error) {
	pf, err := file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetGroupRows}, mem)
	if err != nil {
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	sc, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("read parquet %s: %w", path, err)
	}
	missing := func(what string, names ...string) error {
		have := make([]string, sc.NumFields())
		for i, fld := range sc.Fields() {
			have[i] = fld.Name + " " + fld.Type.String()
		}
		return fmt.Errorf("parquet %s has no %s column %q; its columns: %v", path, what, names, have)
	}
	imageCol := fieldIndex(sc, imageColumn, arrow.BINARY, arrow.LARGE_BINARY)
	if imageCol < 0 {
		return nil, missing("binary image", imageColumn)
	}
	candidates := []string{labelColumn}
	if labelColumn == "" {
		candidates = []string{"label", "identity"}
	}
	labelCol := -1
	for _, name := range candidates {
		if labelCol = fieldIndex(sc, name, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
			arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.STRING, arrow.LARGE_STRING); labelCol >= 0 {
			break
		}
	}
	if labelCol < 0 {
		return nil, missing("integer label or string identity", candidates...)
	}
	p := &ParquetImages{path: path, f: f, fr: fr, imageCol: imageCol, group: -1}
	var total int64
	for i := range pf.NumRowGroups() {
		total += pf.RowGroup(i).NumRows()
		p.groupEnds = append(p.groupEnds, total)
	}
	if p.rowIdentity, p.names, err = p.readIdentities(sc.Field(labelCol).Name, labelCol); err != nil {
		return nil, err
	}
	return p, nil
}

// Identities are the identity names in sorted order.
func (p *ParquetImages) Identities() []string { return p.names }

// RowIdentity is the index into Identities of row's identity.
func (p *ParquetImages) RowIdentity(row int64) int32 { return p.rowIdentity[row] }

// fieldIndex finds a top-level column by name and type, or returns -1.
func fieldIndex(sc *arrow.Schema, name string, types ...arrow.Type) int {
	for _, i := range sc.FieldIndices(name) {
		if slices.Contains(types, sc.Field(i).Type.ID()) {
			return i
		}
	}
	return -1
}

// readIdentities reads the label column and returns, per row, an index into the sorted
// identity names: strings sort as strings, integer labels numerically (named by the
// exporter's metadata when it is there, else by their number).
func (p *ParquetImages) readIdentities(name string, col int) ([]int32, []string, error) {
	chunked, err := p.readColumn(col, nil)
	if err != nil {
		return nil, nil, err
	}
	defer chunked.Release()
	rows := make([]string, 0, chunked.Len())
	var numbers []int64
	for _, chunk := range chunked.Chunks() {
		if chunk.NullN() > 0 {
			return nil, nil, fmt.Errorf("parquet %s: column %s has null values", p.path, name)
		}
		switch a := chunk.(type) {
		case *array.String:
			for i := range a.Len() {
				rows = append(rows, a.Value(i))
			}
		case *array.LargeString:
			for i := range a.Len() {
				rows = append(rows, a.Value(i))
			}
		default:
			for i := range a.Len() {
				n, err := strconv.ParseInt(a.ValueStr(i), 10, 64)
				if err != nil {
					return nil, nil, fmt.Errorf("parquet %s: column %s: %w", p.path, name, err)
				}
				numbers = append(numbers, n)
			}
		}
	}
	if numbers != nil {
		return p.numericIdentities(numbers)
	}
	names := slices.Clone(rows)
	slices.Sort(names)
	names = slices.Compact(names)
	index := make(map[string]int32, len(names))
	for i, n := range names {
		index[n] = int32(i)
	}
	perRow := make([]int32, len(rows))
	for i, r := range rows {
		perRow[i] = index[r]
	}
	return perRow, names, nil
}

func (p *ParquetImages) numericIdentities(labels []int64) ([]int32, []string, error) {
	distinct := slices.Clone(labels)
	slices.Sort(distinct)
	distinct = slices.Compact(distinct)
	var exported []string
	if kv := p.fr.ParquetReader().MetaData().KeyValueMetadata(); kv != nil {
		if v := kv.FindValue(ParquetIdentitiesKey); v != nil {
			if err := json.Unmarshal([]byte(*v), &exported); err != nil {
				return nil, nil, fmt.Errorf("parquet %s: metadata %s: %w", p.path, ParquetIdentitiesKey, err)
			}
		}
	}
	names := make([]string, len(distinct))
	index := make(map[int64]int32, len(distinct))
	for i, l := range distinct {
		index[l] = int32(i)
		names[i] = strconv.FormatInt(l, 10)
		if l >= 0 && l < int64(len(exported)) {
			names[i] = exported[l]
		}
	}
	perRow := make([]int32, len(labels))
	for i, l := range labels {
		perRow[i] = index[l]
	}
	return perRow, names, nil
}

// readColumn reads column col of the row groups listed (nil: all of them); the caller releases it.
// The record reader gives back its page buffers on Release, which a column reader of a single
// row group (pqarrow's ColumnChunkReader.Read) never does.
func (p *ParquetImages) readColumn(col int, groups []int) (*arrow.Chunked, error) {
	rr, err := p.fr.GetRecordReader(context.Background(), []int{col}, groups)
	if err != nil {
		return nil, fmt.Errorf("parquet %s: column %d: %w", p.path, col, err)
	}
	defer rr.Release()
	var chunks []arrow.Array
	defer func() {
		for _, c := range chunks {
			c.Release()
		}
	}()
	for rr.Next() {
		c := rr.RecordBatch().Column(0)
		c.Retain() // the reader releases its batch at the next Next
		chunks = append(chunks, c)
	}
	if err := rr.Err(); err != nil {
		return nil, fmt.Errorf("parquet %s: read column %d: %w", p.path, col, err)
	}
	return arrow.NewChunked(rr.Schema().Field(0).Type, chunks), nil
}

// NumRows is the number of rows in the file.
func (p *ParquetImages) NumRows() int64 {
	if len(p.groupEnds) == 0 {
		return 0
	}
	return p.groupEnds[len(p.groupEnds)-1]
}

// Image returns a copy of row's image bytes. It keeps one row group's images in memory, so
// rows are cheapest read in file order.
func (p *ParquetImages) Image(row int64) ([]byte, error) {
	if row < 0 || row >= p.NumRows() {
		return nil, fmt.Errorf("parquet %s: row %d out of range [0, %d)", p.path, row, p.NumRows())
	}
	g, _ := slices.BinarySearchFunc(p.groupEnds, row+1, cmp.Compare[int64])
	if g != p.group {
		if p.images != nil {
			p.images.Release()
			p.images, p.group = nil, -1 // no group loaded until the read below succeeds
		}
		data, err := p.readColumn(p.imageCol, []int{g})
		if err != nil {
			return nil, fmt.Errorf("read the images of row group %d: %w", g, err)
		}
		p.images, p.group = data, g
	}
	i := row
	if g > 0 {
		i -= p.groupEnds[g-1]
	}
	for _, chunk := range p.images.Chunks() {
		if i >= int64(chunk.Len()) {
			i -= int64(chunk.Len())
			continue
		}
		if chunk.IsNull(int(i)) {
			return nil, nil
		}
		switch a := chunk.(type) {
		case *array.Binary:
			return slices.Clone(a.Value(int(i))), nil
		case *array.LargeBinary:
			return slices.Clone(a.Value(int(i))), nil
		}
		return nil, fmt.Errorf("parquet %s: image column is %s", p.path, chunk.DataType())
	}
	return nil, errors.New("parquet " + p.path + ": row group shorter than its metadata")
}

// Close releases the loaded images and closes the file.
func (p *ParquetImages) Close() error {
	if p.images != nil {
		p.images.Release()
		p.images, p.group = nil, -1
	}
	return p.f.Close()
}
