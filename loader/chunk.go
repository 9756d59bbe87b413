package loader

import (
	"io"
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
}

func newChunkWriter(w io.Writer) *chunkWriter {
	return &chunkWriter{w: w, buf: make([]byte, 0, chunkSize)}
}

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
	n, err := c.w.Write(p)
	c.waited += time.Since(start)
	c.written += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
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
