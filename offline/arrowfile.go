package offline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/facestream/facestream/arrowio"
)

// The work files are small Arrow IPC files, each one record batch, written whole and atomically.

// embeddingField is the column of L2-normalised embeddings of width dim.
func embeddingField(dim int) arrow.Field {
	return arrow.Field{Name: "emb", Type: arrow.FixedSizeListOf(int32(dim), arrow.PrimitiveTypes.Float32)}
}

// embeddingsSchema is embeddings/*.arrow: one row per photo.
func embeddingsSchema(dim int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "label", Type: arrow.PrimitiveTypes.Int32},
		embeddingField(dim),
	}, nil)
}

// embeddings are rows of photos with their embeddings, row i at emb[i*dim:(i+1)*dim].
type embeddings struct {
	dim    int
	ids    []int64
	labels []int32
	emb    []float32
}

func (e *embeddings) len() int            { return len(e.ids) }
func (e *embeddings) row(i int) []float32 { return e.emb[i*e.dim : (i+1)*e.dim] }
func (e *embeddings) append(o *embeddings) {
	e.ids, e.labels, e.emb = append(e.ids, o.ids...), append(e.labels, o.labels...), append(e.emb, o.emb...)
}

func writeEmbeddings(path string, e *embeddings) error {
	return writeArrow(path, embeddingsSchema(e.dim), e.fill)
}

func readEmbeddings(path string) (*embeddings, error) {
	e := &embeddings{}
	return e, readArrow(path, e.appendBatch)
}

// fill appends the rows to an embeddings-schema record builder.
func (e *embeddings) fill(b *array.RecordBuilder) {
	b.Field(0).(*array.Int64Builder).AppendValues(e.ids, nil)
	b.Field(1).(*array.Int32Builder).AppendValues(e.labels, nil)
	appendEmbeddings(b.Field(2).(*array.FixedSizeListBuilder), e.emb, e.dim)
}

// appendBatch appends the rows of an embeddings-schema record batch, copied.
func (e *embeddings) appendBatch(rec arrow.RecordBatch) error {
	dim, err := embeddingWidth(rec.Schema(), 2)
	if err != nil {
		return err
	}
	if !rec.Schema().Equal(embeddingsSchema(dim)) {
		return fmt.Errorf("schema %s, want %s", rec.Schema(), embeddingsSchema(dim))
	}
	e.dim = dim
	e.ids = append(e.ids, rec.Column(0).(*array.Int64).Int64Values()...)
	e.labels = append(e.labels, rec.Column(1).(*array.Int32).Int32Values()...)
	e.emb = append(e.emb, embeddingValues(rec.Column(2), dim)...)
	return nil
}

// embeddingWidth is the list width of column col, which must be a fixed-size list of float32.
func embeddingWidth(s *arrow.Schema, col int) (int, error) {
	if col >= s.NumFields() {
		return 0, fmt.Errorf("schema %s has no column %d", s, col)
	}
	t, ok := s.Field(col).Type.(*arrow.FixedSizeListType)
	if !ok || !arrow.TypeEqual(t.Elem(), arrow.PrimitiveTypes.Float32) || t.Len() < 1 {
		return 0, fmt.Errorf("column %s is %s, want fixed_size_list<float32>", s.Field(col).Name, s.Field(col).Type)
	}
	return int(t.Len()), nil
}

func appendEmbeddings(b *array.FixedSizeListBuilder, emb []float32, dim int) {
	for range len(emb) / dim {
		b.Append(true)
	}
	b.ValueBuilder().(*array.Float32Builder).AppendValues(emb, nil)
}

func embeddingValues(col arrow.Array, dim int) []float32 {
	l := col.(*array.FixedSizeList)
	off := l.Data().Offset()
	return l.ListValues().(*array.Float32).Float32Values()[off*dim : (off+l.Len())*dim]
}

// writeArrow writes one record batch, filled by fill, as an Arrow IPC file, atomically.
func writeArrow(path string, schema *arrow.Schema, fill func(b *array.RecordBuilder)) error {
	return writeArrowWith(memory.DefaultAllocator, path, schema, fill)
}

// writeArrowWith is writeArrow with the allocator the batch and the IPC writer use.
func writeArrowWith(mem memory.Allocator, path string, schema *arrow.Schema, fill func(b *array.RecordBuilder)) error {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	fill(b)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Write(rec); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return arrowio.WriteFileAtomic(path, buf.Bytes())
}

// readArrow calls each for every record batch of an Arrow IPC file; the batch is released after.
func readArrow(path string, each func(rec arrow.RecordBatch) error) error {
	return readArrowWith(memory.DefaultAllocator, path, each)
}

// readArrowWith is readArrow with the allocator the IPC reader uses.
func readArrowWith(mem memory.Allocator, path string, each func(rec arrow.RecordBatch) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read work file: %w", err)
	}
	if err := arrowio.CheckFooter(data); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer r.Close()
	for i := range r.NumRecords() {
		rec, err := r.RecordBatch(i) // the reader's until the next call
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if err := each(rec); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	return nil
}

// npyMatrix encodes a rows×cols float32 matrix as NPY format version 1.0 (little-endian, C order),
// which numpy.load reads.
func npyMatrix(values []float32, rows, cols int) []byte {
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	// Magic (6) + version (2) + header length (2) + header + padding + '\n' is a multiple of 64.
	pad := 63 - (10+len(header))%64
	header += string(bytes.Repeat([]byte{' '}, pad)) + "\n"
	out := make([]byte, 0, 10+len(header)+4*len(values))
	out = append(out, "\x93NUMPY\x01\x00"...)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(header)))
	out = append(out, header...)
	for _, v := range values {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
	}
	return out
}
