package loader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/valyala/fasthttp"
)

// FuzzStreamQuery: any query string is either a valid request within the limits or a 400, never a panic.
func FuzzStreamQuery(f *testing.F) {
	for _, q := range []string{"batch=8", "batch=8&rank=1&world=2&start=16&epochs=0", "mode=pk&p=2&k=4", "batch=9&mode=pk",
		"batch=1&epoch=2147483647&epochs=2", "format=npy&batch=3&pad=1&seed=18446744073709551615", "%zz=1", "batch=8&batch=9"} {
		f.Add(q)
	}
	d := queryDefaults{mode: "uniform", profile: "face", maxBatch: 4096}
	f.Fuzz(func(t *testing.T, query string) {
		var args fasthttp.Args
		args.Parse(query)
		q, err := parseStream(&args, d)
		if err != nil {
			if _, ok := err.(*badRequest); !ok {
				t.Fatalf("%q: error %v is not a bad request", query, err)
			}
			return
		}
		switch {
		case q.batch < 1 || q.batch > d.maxBatch, q.rank < 0 || q.rank >= q.world, q.start%q.batch != 0,
			q.epoch < 0, q.epochs < 0, q.epochs > 0 && q.epoch+q.epochs-1 > maxEpoch,
			q.mode == "pk" && q.p*q.k != q.batch:
			t.Fatalf("%q accepted as %+v", query, q)
		}
	})
}

// TestChunkWriter: writes reach the connection in order, in chunks of at most chunkSize, with
// small writes coalesced.
func TestChunkWriter(t *testing.T) {
	var sink chunkSink
	cw := newChunkWriter(&sink)
	var want []byte
	for i, n := range []int{10, 300, chunkSize + 5, 3*chunkSize + 1, 1, chunkSize - 1, 7} {
		p := bytes.Repeat([]byte{byte(i)}, n)
		want = append(want, p...)
		if _, err := cw.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.data, want) || cw.written != int64(len(want)) {
		t.Fatalf("wrote %d bytes (counted %d), want %d", len(sink.data), cw.written, len(want))
	}
	for i, n := range sink.chunks {
		if n > chunkSize || (n < chunkSize/2 && i < len(sink.chunks)-1 && i > 0) {
			t.Errorf("chunk %d of %d bytes (sizes %v)", i, n, sink.chunks)
		}
	}
}

type chunkSink struct {
	data   []byte
	chunks []int
}

func (s *chunkSink) Write(p []byte) (int, error) {
	s.data = append(s.data, p...)
	s.chunks = append(s.chunks, len(p))
	return len(p), nil
}

func TestChunkWriterStopsOnError(t *testing.T) {
	cw := newChunkWriter(failingWriter{})
	if _, err := cw.Write(make([]byte, 2*chunkSize)); err == nil {
		t.Fatal("a failed connection write was not reported")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("connection reset") }

func TestTensorTypeSerialization(t *testing.T) {
	tt := NewTensorType(112, 96, 3)
	if got := tt.Serialize(); got != `{"shape":[112,96,3]}` {
		t.Errorf("Serialize %s", got)
	}
	back, err := tt.Deserialize(tt.Storage, tt.Serialize())
	if err != nil || !back.ExtensionEquals(tt) {
		t.Fatalf("Deserialize: %v, %v", back, err)
	}
	if _, err := tt.Deserialize(NewTensorType(2, 2, 3).Storage, tt.Serialize()); err == nil {
		t.Error("a storage of the wrong size was accepted")
	}
	if _, err := tt.Deserialize(tt.Storage, `{"shape":`); err == nil {
		t.Error("bad metadata was accepted")
	}
}

// TestColumnReleasesItsData: the encoder's columns own their data alone, so releasing a column
// frees the data and its buffers.
func TestColumnReleasesItsData(t *testing.T) {
	c := column(arrow.PrimitiveTypes.Int32, 2, make([]byte, 8))
	d := c.Data()
	c.Release()
	if d.Buffers() != nil {
		t.Error("a released column's data still holds its buffers: a reference was never released")
	}
}

// testBatch is a batch of n images of epoch from position start on, each value distinct.
func testBatch(shape streamShape, k, n, epoch, start int) *batchData {
	b := &batchData{images: make([]byte, n*shape.imageBytes()), labels: make([]int32, n), ids: make([]int64, n),
		pos: make([]int64, n), epochs: make([]int32, n)}
	for i := range b.images {
		b.images[i] = byte(k*31 + i)
	}
	for i := range n {
		b.labels[i], b.ids[i], b.pos[i], b.epochs[i] = int32(k*100+i), int64(k*1000+i), int64(start+i), int32(epoch)
	}
	return b
}

// TestWireRoundTrip: batches encoded in each wire format read back as they were, up to the end
// marker, and the Arrow encoder and decoder give back all the memory they take.
func TestWireRoundTrip(t *testing.T) {
	if err := registerTensorType(); err != nil {
		t.Fatal(err)
	}
	shape := streamShape{height: 4, width: 3, channels: 3, batch: 5}
	const perEpoch, batches = 2, 3 // the third batch starts the second epoch
	for _, format := range []Format{FormatArrow, FormatNPY} {
		t.Run(string(format), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			var wire bytes.Buffer
			var enc encoder = newNPYEncoder(&wire, shape)
			if format == FormatArrow {
				enc = newArrowEncoder(&wire, shape, streamMeta{mode: "uniform", profile: "face"}, ipc.WithAllocator(mem))
			}
			var want []*batchData
			for k := range batches {
				b := testBatch(shape, k, shape.batch, 1+k/perEpoch, k%perEpoch*shape.batch)
				if err := enc.encode(b); err != nil {
					t.Fatal(err)
				}
				want = append(want, b)
			}
			if err := enc.finish(batches, batches*int64(shape.batch)); err != nil {
				t.Fatal(err)
			}
			r := &StreamReader{body: io.NopCloser(&wire), tail: &tailReader{r: &wire}, batchesPerEpoch: perEpoch}
			r.batch.Height, r.batch.Width, r.batch.Channels = shape.height, shape.width, shape.channels
			if format == FormatArrow {
				d := newArrowDecoder(r, mem)
				r.next, r.release = d.next, d.release
			} else {
				r.next = newNPYDecoder(r, StreamParams{Epoch: 1}).next
			}
			defer r.Close()
			for k, w := range want {
				got, err := r.Next()
				if err != nil {
					t.Fatalf("batch %d: %v", k, err)
				}
				if !bytes.Equal(got.Images, w.images) || !slices.Equal(got.Labels, w.labels) || !slices.Equal(got.IDs, w.ids) ||
					!slices.Equal(got.Pos, w.pos) || got.Epoch != int(w.epochs[0]) {
					t.Fatalf("batch %d reads back as labels %v ids %v pos %v epoch %d; want %v %v %v %d",
						k, got.Labels, got.IDs, got.Pos, got.Epoch, w.labels, w.ids, w.pos, w.epochs[0])
				}
			}
			if _, err := r.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("after the last batch: %v, want io.EOF", err)
			}
		})
	}
}
