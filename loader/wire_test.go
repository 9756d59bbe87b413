package loader

import (
	"bytes"
	"fmt"
	"testing"

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
