package loader

import (
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/facestream/facestream/internal/npy"
)

// batchData is one finished training batch in the wire's column layout. The slices are the
// stream's reusable buffers; encoders read them and keep no reference after encode returns.
type batchData struct {
	images []byte // n*H*W*C, NHWC
	labels []int32
	ids    []int64
	pos    []int64
	epochs []int32
}

func (b *batchData) count() int { return len(b.labels) }

// streamShape is what every batch of a stream has in common.
type streamShape struct {
	height, width, channels int
	batch                   int
}

func (s streamShape) imageBytes() int { return s.height * s.width * s.channels }

// encoder writes batches in one wire format and then the explicit end of the stream.
type encoder interface {
	encode(b *batchData) error
	finish(batches, images int64) error
}

// arrowEncoder writes an Arrow IPC stream whose record batches are built over the batch buffers.
type arrowEncoder struct {
	w      *ipc.Writer
	schema *arrow.Schema
	tensor *TensorType
}

// streamMeta is the schema metadata of an Arrow stream (strings, per PROTOCOL.md).
type streamMeta struct {
	rank, world, epoch, batches, start, epochs int
	mode, profile                              string
	seed                                       uint64
}

// newArrowEncoder starts an IPC stream on w; opts go to the IPC writer (tests pass a checked
// allocator).
func newArrowEncoder(w io.Writer, shape streamShape, meta streamMeta, opts ...ipc.Option) *arrowEncoder {
	tensor := NewTensorType(shape.height, shape.width, shape.channels)
	md := arrow.NewMetadata(
		[]string{"height", "width", "channels", "rank", "world", "epoch", "batch", "batches", "mode", "profile", "seed", "start", "epochs"},
		[]string{
			strconv.Itoa(shape.height), strconv.Itoa(shape.width), strconv.Itoa(shape.channels),
			strconv.Itoa(meta.rank), strconv.Itoa(meta.world), strconv.Itoa(meta.epoch), strconv.Itoa(shape.batch),
			strconv.Itoa(meta.batches), meta.mode, meta.profile, strconv.FormatUint(meta.seed, 10),
			strconv.Itoa(meta.start), strconv.Itoa(meta.epochs),
		})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "image", Type: tensor},
		{Name: "label", Type: arrow.PrimitiveTypes.Int32},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "pos", Type: arrow.PrimitiveTypes.Int64},
		{Name: "epoch", Type: arrow.PrimitiveTypes.Int32},
	}, &md)
	return &arrowEncoder{w: ipc.NewWriter(w, append(opts, ipc.WithSchema(schema))...), schema: schema, tensor: tensor}
}

// primitive wraps a buffer as non-null array data without copying; the caller releases it.
func primitive(dt arrow.DataType, n int, data []byte) arrow.ArrayData {
	buf := memory.NewBufferBytes(data)
	defer buf.Release() // NewData holds its own reference
	return array.NewData(dt, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
}

// column wraps a buffer as a non-null array without copying; the caller releases it.
func column(dt arrow.DataType, n int, data []byte) arrow.Array {
	d := primitive(dt, n, data)
	defer d.Release() // the array holds its own reference
	return array.MakeFromData(d)
}

func (e *arrowEncoder) encode(b *batchData) error {
	n := b.count()
	pixels := primitive(arrow.PrimitiveTypes.Uint8, len(b.images), b.images)
	defer pixels.Release()
	list := array.NewData(e.tensor.Storage, n, []*memory.Buffer{nil}, []arrow.ArrayData{pixels}, 0, 0)
	defer list.Release()
	storage := array.MakeFromData(list)
	defer storage.Release()
	cols := []arrow.Array{
		array.NewExtensionArrayWithStorage(e.tensor, storage),
		column(arrow.PrimitiveTypes.Int32, n, arrow.Int32Traits.CastToBytes(b.labels)),
		column(arrow.PrimitiveTypes.Int64, n, arrow.Int64Traits.CastToBytes(b.ids)),
		column(arrow.PrimitiveTypes.Int64, n, arrow.Int64Traits.CastToBytes(b.pos)),
		column(arrow.PrimitiveTypes.Int32, n, arrow.Int32Traits.CastToBytes(b.epochs)),
	}
	rec := array.NewRecordBatch(e.schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()
	if err := e.w.Write(rec); err != nil {
		return fmt.Errorf("write arrow record batch: %w", err)
	}
	return nil
}

// finish writes the IPC end-of-stream marker (and the schema, for a stream with no batch).
func (e *arrowEncoder) finish(int64, int64) error {
	if err := e.w.Close(); err != nil {
		return fmt.Errorf("end arrow stream: %w", err)
	}
	return nil
}

// npyEncoder writes three NPY arrays per batch and an end-marker array. The wire's integers are
// little-endian, which the casts below give on every platform this serves from (amd64, arm64).
type npyEncoder struct {
	w      io.Writer
	shape  streamShape
	header []byte // reused for every header
}

func newNPYEncoder(w io.Writer, shape streamShape) *npyEncoder {
	return &npyEncoder{w: w, shape: shape, header: make([]byte, 0, npy.MaxHeader+npy.Prelude)}
}

func (e *npyEncoder) array(data []byte, descr string, shape ...int) error {
	e.header = npy.AppendHeader(e.header[:0], descr, shape...)
	if _, err := e.w.Write(e.header); err != nil {
		return err
	}
	_, err := e.w.Write(data)
	return err
}

func (e *npyEncoder) encode(b *batchData) error {
	n, s := b.count(), e.shape
	if err := e.array(b.images, npy.DescrUint8, n, s.height, s.width, s.channels); err != nil {
		return fmt.Errorf("write npy images: %w", err)
	}
	if err := e.array(arrow.Int32Traits.CastToBytes(b.labels), npy.DescrInt32, n); err != nil {
		return fmt.Errorf("write npy labels: %w", err)
	}
	if err := e.array(arrow.Int64Traits.CastToBytes(b.ids), npy.DescrInt64, n); err != nil {
		return fmt.Errorf("write npy ids: %w", err)
	}
	return nil
}

// finish writes the end marker: int64 [batches_sent, images_sent], shape (2,).
func (e *npyEncoder) finish(batches, images int64) error {
	var counts [2]int64
	counts[0], counts[1] = batches, images
	if err := e.array(arrow.Int64Traits.CastToBytes(counts[:]), npy.DescrInt64, 2); err != nil {
		return fmt.Errorf("write npy end marker: %w", err)
	}
	return nil
}
