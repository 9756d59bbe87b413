package loader

import (
	"bytes"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// countingAllocator counts the parent allocations the recycler makes.
type countingAllocator struct {
	memory.Allocator
	allocs int
}

func (c *countingAllocator) Allocate(size int) []byte {
	c.allocs++
	return c.Allocator.Allocate(size)
}

// TestRecycler: freed buffers come back for the next allocation that fits, small ones pass
// through, Reallocate keeps the bytes, and drain gives everything back to the parent.
func TestRecycler(t *testing.T) {
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer checked.AssertSize(t, 0)
	parent := &countingAllocator{Allocator: checked}
	r := newRecycler(parent)

	const n = 2 * minRecycled
	a := r.Allocate(n)
	r.Free(a)
	b := r.Allocate(n - 64) // fits in a's buffer
	if &b[0] != &a[0] || parent.allocs != 1 {
		t.Fatalf("a freed buffer was not reused (%d parent allocations)", parent.allocs)
	}
	c := r.Allocate(2 * n) // does not fit: a new buffer
	if parent.allocs != 2 {
		t.Fatalf("%d parent allocations, want 2", parent.allocs)
	}
	b[1] = 9
	b = r.Reallocate(n, b) // grows within its buffer
	if &b[0] != &a[0] || b[1] != 9 {
		t.Error("Reallocate within the buffer moved it or lost its bytes")
	}
	b = r.Reallocate(3*n, b) // moves; a's buffer is kept
	if b[1] != 9 || len(b) != 3*n || parent.allocs != 3 {
		t.Errorf("Reallocate to a larger buffer: byte %d, len %d, %d parent allocations", b[1], len(b), parent.allocs)
	}
	small := r.Allocate(100) // straight from the parent, and back
	r.Free(small)
	r.Free(b)
	r.Free(c)
	if got := r.Allocate(2 * n); &got[0] != &c[0] { // the smallest kept buffer that fits
		t.Error("the smallest kept buffer that fits was not chosen")
	}
	for range maxKept + 1 { // maxKept+2 lent at once, then freed: the excess goes back
		r.Allocate(n)
	}
	for len(r.lent) > 0 {
		r.Free(r.lent[0])
	}
	if len(r.kept) != maxKept {
		t.Errorf("%d buffers kept, want %d", len(r.kept), maxKept)
	}
	r.drain()
}

// TestArrowDecoderReusesBodies: reading a stream of like batches takes two body buffers from
// the allocator, whatever the number of batches, and gives them back at Close.
func TestArrowDecoderReusesBodies(t *testing.T) {
	if err := registerTensorType(); err != nil {
		t.Fatal(err)
	}
	shape := streamShape{height: 32, width: 32, channels: 3, batch: 32} // 96 KB of pixels a batch
	const batches = 12
	var wire bytes.Buffer
	enc := newArrowEncoder(&wire, shape, streamMeta{mode: "uniform", profile: "face"})
	for k := range batches {
		if err := enc.encode(testBatch(shape, k, shape.batch, 1, k*shape.batch)); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.finish(batches, batches*int64(shape.batch)); err != nil {
		t.Fatal(err)
	}
	checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer checked.AssertSize(t, 0)
	parent := &countingAllocator{Allocator: checked}
	r := &StreamReader{body: io.NopCloser(&wire), tail: &tailReader{r: &wire}, batchesPerEpoch: batches}
	r.batch.Height, r.batch.Width, r.batch.Channels = shape.height, shape.width, shape.channels
	d := newArrowDecoder(r, parent)
	r.next, r.release = d.next, d.release
	for k := range batches {
		b, err := r.Next()
		if err != nil {
			t.Fatalf("batch %d: %v", k, err)
		}
		if want := testBatch(shape, k, shape.batch, 1, k*shape.batch); !bytes.Equal(b.Images, want.images) {
			t.Fatalf("batch %d: wrong pixels", k)
		}
	}
	if parent.allocs > 2 {
		t.Errorf("%d batches took %d allocations, want 2 (the body being read and the one before it)", batches, parent.allocs)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}
