//go:build cgo && !facestream_purego

package augment

import (
	"testing"
	"time"
	"unsafe"
)

// TestGrowCached: TurboJPEG's output buffer starts one byte past a 32-byte boundary (so that
// libjpeg-turbo does not write its rows with non-temporal stores), and a buffer that is large
// enough is reused without an allocation.
func TestGrowCached(t *testing.T) {
	start := func(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
	buf := growCached(nil, 112*112*3)
	if len(buf) != 112*112*3 || start(buf)%32 != 1 {
		t.Fatalf("len %d, start %d mod 32; want %d, 1", len(buf), start(buf)%32, 112*112*3)
	}
	if smaller := growCached(buf, 100*100*3); start(smaller) != start(buf) || len(smaller) != 100*100*3 {
		t.Error("a smaller decode did not reuse the buffer")
	}
	if larger := growCached(buf, 250*250*3); start(larger)%32 != 1 || len(larger) != 250*250*3 {
		t.Errorf("a larger decode: len %d, start %d mod 32", len(larger), start(larger)%32)
	}
	if allocs := testing.AllocsPerRun(100, func() { buf = growCached(buf, 112*112*3) }); allocs != 0 {
		t.Errorf("%v allocations a reuse, want 0", allocs)
	}
	// A buffer that is large enough but on the boundary is replaced.
	aligned := make([]byte, 1<<16)
	off := (32 - int(start(aligned)%32)) % 32
	if got := growCached(aligned[off:], 1000); start(got)%32 != 1 {
		t.Errorf("an aligned buffer was kept (start %d mod 32)", start(got)%32)
	}
}

// TestCgoYield: a decoding goroutine yields at its first C call, then once every yieldEvery,
// never more often.
func TestCgoYield(t *testing.T) {
	var y cgoYield
	t0 := time.Now()
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, // the first call
		{time.Millisecond, false},
		{yieldEvery - time.Microsecond, false},
		{yieldEvery, true},
		{yieldEvery + time.Millisecond, false},
		{3 * yieldEvery, true},
		{3*yieldEvery + yieldEvery/2, false},
	}
	for _, s := range steps {
		if got := y.after(t0.Add(s.at)); got != s.want {
			t.Errorf("after %v: yielded %v, want %v", s.at, got, s.want)
		}
	}
}
