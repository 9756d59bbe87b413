package loader

import (
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// recycler is the Go client's allocator for the Arrow IPC reader. The reader allocates each record
// batch's body anew (4.8 MB for 128 images of 112×112) and frees it a batch later; from the Go
// allocator, that was fresh memory to zero and collect for every batch, about 4 % of the served
// path's CPU. The recycler keeps freed bodies and hands them out again, so a stream of like batches
// settles on two buffers. Their bytes are not zeroed: the reader overwrites every body byte it reads.
// Allocations under minRecycled go straight to the parent.
type recycler struct {
	parent memory.Allocator
	mu     sync.Mutex
	lent   [][]byte // buffers handed out, as the parent allocated them
	kept   [][]byte // buffers freed and kept, as the parent allocated them
}

const (
	minRecycled = 64 << 10 // smaller allocations (a metadata-only message) are not worth keeping
	maxKept     = 4        // kept buffers beyond the two a stream needs go back to the parent
)

func newRecycler(parent memory.Allocator) *recycler { return &recycler{parent: parent} }

// Allocate returns size bytes (contents undefined) from the smallest kept buffer that holds them,
// or from the parent.
func (r *recycler) Allocate(size int) []byte {
	if size < minRecycled {
		return r.parent.Allocate(size)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	best := -1
	for i, b := range r.kept {
		if len(b) >= size && (best < 0 || len(b) < len(r.kept[best])) {
			best = i
		}
	}
	var buf []byte
	if best >= 0 {
		buf = r.kept[best]
		r.kept = append(r.kept[:best], r.kept[best+1:]...)
	} else {
		buf = r.parent.Allocate(size)
	}
	r.lent = append(r.lent, buf)
	return buf[:size]
}

// Reallocate resizes b in place when its buffer holds size bytes, else moves it.
func (r *recycler) Reallocate(size int, b []byte) []byte {
	if orig, ok := r.lender(b); ok && size <= len(orig) && size >= minRecycled {
		return orig[:size]
	}
	nb := r.Allocate(size)
	copy(nb, b)
	r.Free(b)
	return nb
}

// Free keeps a recycled buffer for the next Allocate (up to maxKept) and gives the rest back.
func (r *recycler) Free(b []byte) {
	r.mu.Lock()
	i := r.lentIndex(b)
	if i < 0 {
		r.mu.Unlock()
		r.parent.Free(b)
		return
	}
	orig := r.lent[i]
	r.lent = append(r.lent[:i], r.lent[i+1:]...)
	if len(r.kept) < maxKept {
		r.kept = append(r.kept, orig)
		orig = nil
	}
	r.mu.Unlock()
	if orig != nil {
		r.parent.Free(orig)
	}
}

// drain gives every kept buffer back to the parent: the stream is over.
func (r *recycler) drain() {
	r.mu.Lock()
	kept := r.kept
	r.kept = nil
	r.mu.Unlock()
	for _, b := range kept {
		r.parent.Free(b)
	}
}

// lender returns the buffer b was cut from, if the recycler lent it.
func (r *recycler) lender(b []byte) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.lentIndex(b); i >= 0 {
		return r.lent[i], true
	}
	return nil, false
}

// lentIndex finds b among the lent buffers by its first byte's address (-1: not lent; the caller
// holds mu).
func (r *recycler) lentIndex(b []byte) int {
	if cap(b) == 0 {
		return -1
	}
	p := unsafe.SliceData(b)
	for i, l := range r.lent {
		if unsafe.SliceData(l) == p {
			return i
		}
	}
	return -1
}
