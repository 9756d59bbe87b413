package loader

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// chunkSize is the most bytes handed to the connection at once: large enough that a batch costs
// few syscalls, small enough that a slow reader blocks the stream after little buffering.
const chunkSize = 256 << 10

// chunkWriter coalesces small writes (IPC metadata, NPY headers) and cuts large ones (a batch's
// pixels) into chunks of at most chunkSize; pixels bigger than a chunk pass through uncopied.
type chunkWriter struct {
	w       io.Writer
	buf     []byte
	written int64
	waited  time.Duration // time spent in the connection's writes, blocked by a slow reader included

	// With conn set, every write to it gets a deadline stall away: a client that reads nothing for
	// that long loses the stream. blocked holds when the write in progress began (unix ns; 0: none).
	conn    net.Conn
	stall   time.Duration
	blocked *atomic.Int64
}

func newChunkWriter(w io.Writer) *chunkWriter {
	return &chunkWriter{w: w, buf: make([]byte, 0, chunkSize)}
}

// errStalled ends a stream whose client read nothing for the stall timeout.
var errStalled = errors.New("the client read nothing for the stall timeout")

func (c *chunkWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if len(c.buf) == 0 && len(p) >= chunkSize {
			if err := c.emit(p[:chunkSize]); err != nil {
				return total - len(p), err
			}
			p = p[chunkSize:]
			continue
		}
		n := copy(c.buf[len(c.buf):cap(c.buf)], p)
		c.buf = c.buf[:len(c.buf)+n]
		p = p[n:]
		if len(c.buf) == cap(c.buf) {
			if err := c.Flush(); err != nil {
				return total - len(p), err
			}
		}
	}
	return total, nil
}

// Flush hands what is buffered to the connection.
func (c *chunkWriter) Flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	err := c.emit(c.buf)
	c.buf = c.buf[:0]
	return err
}

func (c *chunkWriter) emit(p []byte) error {
	start := time.Now()
	if c.conn != nil {
		if err := c.conn.SetWriteDeadline(start.Add(c.stall)); err != nil {
			return &connError{err}
		}
		c.blocked.Store(start.UnixNano())
	}
	n, err := c.w.Write(p)
	if c.conn != nil {
		c.blocked.Store(0)
	}
	c.waited += time.Since(start)
	c.written += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &connError{fmt.Errorf("%w (%v)", errStalled, c.stall)}
	}
	if err != nil {
		return &connError{err}
	}
	return nil
}

// connError is a failed write to the connection: the client went away or stopped the stream.
type connError struct{ err error }

func (e *connError) Error() string { return "write to client: " + e.err.Error() }
func (e *connError) Unwrap() error { return e.err }
