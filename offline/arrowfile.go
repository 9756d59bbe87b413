package offline

import (
	"bytes"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/facestream/facestream/arrowio"
)

// The work files are small Arrow IPC files, each one record batch, written whole and atomically.

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
	return writeArrow(path, arrowio.EmbeddingsSchema(e.dim), e.fill)
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
	dim, err := arrowio.EmbeddingWidth(rec.Schema(), 2)
	if err != nil {
		return err
	}
	if !rec.Schema().Equal(arrowio.EmbeddingsSchema(dim)) {
		return fmt.Errorf("schema %s, want %s", rec.Schema(), arrowio.EmbeddingsSchema(dim))
	}
	e.dim = dim
	e.ids = append(e.ids, rec.Column(0).(*array.Int64).Int64Values()...)
	e.labels = append(e.labels, rec.Column(1).(*array.Int32).Int32Values()...)
	e.emb = append(e.emb, embeddingValues(rec.Column(2), dim)...)
	return nil
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
