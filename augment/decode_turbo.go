//go:build cgo && !facestream_purego

package augment

/*
#cgo LDFLAGS: -lturbojpeg
#include <turbojpeg.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// JPEGDecoder names the JPEG decoder this build uses.
const JPEGDecoder = "turbojpeg"

// turboJPEG decodes JPEG with libjpeg-turbo's TurboJPEG API, straight to RGB in caller memory.
type turboJPEG struct {
	handle C.tjhandle
	// Header outputs live here rather than on the stack: locals passed to C escape to the heap.
	width, height, subsamp, colorspace C.int
	yield                              cgoYield
}

// newJPEGDecoder returns a TurboJPEG decompressor. It fails only when C memory is exhausted,
// which, like a failed make, is not something a caller can handle.
func newJPEGDecoder() jpegDecoder {
	h := C.tjInitDecompress()
	if h == nil {
		panic("turbojpeg: cannot create a decompressor: " + C.GoString(C.tjGetErrorStr2(nil)))
	}
	return &turboJPEG{handle: h}
}

func (d *turboJPEG) header(encoded []byte) (int, int, error) {
	if len(encoded) == 0 {
		return 0, 0, errors.New("read jpeg header: empty input")
	}
	if width, height, ok := jpegFrameSize(encoded); ok {
		return width, height, nil
	}
	return d.readHeader(encoded)
}

// readHeader is TurboJPEG's own reading of the header, for what jpegFrameSize does not walk.
func (d *turboJPEG) readHeader(encoded []byte) (int, int, error) {
	if C.tjDecompressHeader3(d.handle, (*C.uchar)(unsafe.Pointer(&encoded[0])), C.ulong(len(encoded)),
		&d.width, &d.height, &d.subsamp, &d.colorspace) != 0 {
		return 0, 0, fmt.Errorf("read jpeg header: %s", d.lastError())
	}
	return int(d.width), int(d.height), nil
}

// decode decodes at 1/denom of the size (libjpeg-turbo scales in the DCT domain, which is also
// much faster than decoding everything and resizing).
func (d *turboJPEG) decode(encoded []byte, width, height, denom int, buf []byte) ([]byte, int, int, error) {
	if len(encoded) == 0 {
		return buf, 0, 0, errors.New("decode jpeg: empty input")
	}
	sw, sh := (width+denom-1)/denom, (height+denom-1)/denom
	buf = growCached(buf, sw*sh*3)
	// LIMITSCANS refuses progressive files with absurd scan counts (a CPU-time bomb).
	flags := C.int(C.TJFLAG_LIMITSCANS)
	if C.tjDecompress2(d.handle, (*C.uchar)(unsafe.Pointer(&encoded[0])), C.ulong(len(encoded)),
		(*C.uchar)(unsafe.Pointer(&buf[0])), C.int(sw), 0, C.int(sh), C.TJPF_RGB, flags) != 0 {
		return buf, 0, 0, fmt.Errorf("decode jpeg %dx%d at 1/%d: %s", width, height, denom, d.lastError())
	}
	d.yield.after(time.Now())
	return buf, sw, sh, nil
}

func (d *turboJPEG) lastError() string { return C.GoString(C.tjGetErrorStr2(d.handle)) }

func (d *turboJPEG) close() {
	if d.handle != nil {
		C.tjDestroy(d.handle)
		d.handle = nil
	}
}

// growCached is grow for TurboJPEG's output: the buffer starts one byte past a 32-byte boundary.
// libjpeg-turbo's colour conversion writes a row that starts on such a boundary with
// non-temporal stores, which bypass the cache: right for a frame that nothing reads soon, wrong
// here, where the resampling reads the pixels at once (112x112 faces: every other row, and a
// fifth of the decode-and-augment time). Off the boundary, no row of an even length starts on one.
func growCached(buf []byte, n int) []byte {
	if cap(buf) >= n && uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%32 == 1 {
		return buf[:n]
	}
	buf = make([]byte, n+32)
	off := (33 - int(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%32)) % 32
	return buf[off : off+n]
}

// yieldEvery is how often a goroutine that decodes without pause yields to the scheduler: well
// within the 10 ms after which the runtime's monitor (sysmon) counts a goroutine that was not
// rescheduled as running too long.
const yieldEvery = 5 * time.Millisecond

// cgoYield keeps the Go runtime from fighting a goroutine that spends most of its time in C.
// A decode of a large photo (150 us at 250x250) is one long C call, during which the goroutine
// keeps its P; one that is never rescheduled (a worker that always has the next image) is, after
// 10 ms, taken from its P in the middle of a call, and the monitor then polls every 20 us and
// takes Ps from other calls as well: on the 2-core VM, 5,000 to 20,000 thread switches a second
// and 5 % more CPU time per image (go.dev/issue/19574 and 18236 describe the same costs). A yield
// every few milliseconds costs nothing measurable and keeps the monitor asleep.
type cgoYield struct{ last time.Time }

// after is called after each C call, with the time; it yields when yieldEvery has passed since
// the last yield and reports whether it did.
func (y *cgoYield) after(now time.Time) bool {
	if now.Sub(y.last) < yieldEvery {
		return false
	}
	y.last = now
	runtime.Gosched()
	return true
}
