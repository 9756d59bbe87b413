// Package recordio reads and writes MXNet RecordIO files (.rec with a .idx
// beside it) as InsightFace ships Glint360K, MS1MV3 and WebFace: dmlc-core's
// record framing plus MXNet's image-record header.
//
// A record is framed as magic 0xced7230a, a little-endian length word whose
// top 3 bits are a continuation flag, the data, and zero padding to 4 bytes.
// dmlc's writer splits a record wherever its data holds the magic at a
// 4-byte aligned offset (flags 1 start, 2 middle, 3 end; 0 is a whole
// record) and the reader puts the magic back between the parts.
package recordio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Magic starts every record part.
const Magic uint32 = 0xced7230a

// Continuation flags of the length word.
const (
	flagWhole  = 0
	flagStart  = 1
	flagMiddle = 2
	flagEnd    = 3
)

// maxLength is the largest part dmlc writes (29 bits of length).
const maxLength = 1<<29 - 1

// ErrCorrupt is wrapped by every error about malformed record data.
var ErrCorrupt = errors.New("corrupt RecordIO data")

func lengthWord(cflag, n uint32) uint32 { return cflag<<29 | n }

func pad4(n int) int { return (n + 3) &^ 3 }

// Reader reads records one after another from an io.Reader. Wrap files in
// a bufio.Reader: Reader issues two reads per part.
type Reader struct {
	r   io.Reader
	off int64
	buf []byte
	hdr [8]byte
}

// NewReader reads records from r, whose first byte is at offset 0.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Offset is the offset of the next record.
func (r *Reader) Offset() int64 { return r.off }

// Next returns the next record's data with split parts joined. The slice is
// valid until the next call. It returns io.EOF after the last record and an
// error wrapping ErrCorrupt (or io.ErrUnexpectedEOF) for malformed data.
func (r *Reader) Next() ([]byte, error) {
	r.buf = r.buf[:0]
	start := r.off
	for part := 0; ; part++ {
		n, err := io.ReadFull(r.r, r.hdr[:])
		switch {
		case err == io.EOF && part == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("record at offset %d: truncated header (%d of 8 bytes): %w", start, n, io.ErrUnexpectedEOF)
		case err != nil:
			return nil, fmt.Errorf("record at offset %d: %w", start, err)
		}
		if m := binary.LittleEndian.Uint32(r.hdr[:4]); m != Magic {
			return nil, fmt.Errorf("record at offset %d: magic %#08x, want %#08x: %w", r.off, m, Magic, ErrCorrupt)
		}
		word := binary.LittleEndian.Uint32(r.hdr[4:])
		cflag, n32 := word>>29, word&maxLength
		if cflag > flagEnd || (part == 0) != (cflag == flagWhole || cflag == flagStart) {
			return nil, fmt.Errorf("record at offset %d: continuation flag %d in part %d: %w", r.off, cflag, part, ErrCorrupt)
		}
		r.off += 8
		size := len(r.buf)
		if err := r.read(pad4(int(n32))); err != nil {
			return nil, fmt.Errorf("record at offset %d: %d bytes of data: %w", start, n32, err)
		}
		r.buf = r.buf[:size+int(n32)]
		if cflag == flagWhole || cflag == flagEnd {
			return r.buf, nil
		}
		r.buf = binary.LittleEndian.AppendUint32(r.buf, Magic)
	}
}

// readChunk bounds how far the buffer grows ahead of the data actually read,
// so a corrupt length word cannot make the reader allocate half a gigabyte.
const readChunk = 1 << 20

// read appends n bytes from the stream to r.buf.
func (r *Reader) read(n int) error {
	for n > 0 {
		k := min(n, readChunk)
		size := len(r.buf)
		r.buf = slices.Grow(r.buf, k)[:size+k]
		if _, err := io.ReadFull(r.r, r.buf[size:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		r.off += int64(k)
		n -= k
	}
	return nil
}

// Writer writes records in dmlc's exact layout, splitting at aligned magics.
type Writer struct {
	w    io.Writer
	off  int64
	hdr  [8]byte
	zero [3]byte // padding source
}

// NewWriter writes records to w, whose first byte is at offset 0.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes one record and returns the offset it starts at (for the .idx).
func (w *Writer) Write(data []byte) (int64, error) {
	if len(data) > maxLength {
		return 0, fmt.Errorf("record of %d bytes: RecordIO takes fewer than 2^29", len(data))
	}
	start := w.off
	begin := 0
	for i := 0; i+4 <= len(data); i += 4 {
		if binary.LittleEndian.Uint32(data[i:]) != Magic {
			continue
		}
		flag := uint32(flagMiddle)
		if begin == 0 {
			flag = flagStart
		}
		if err := w.part(flag, data[begin:i]); err != nil {
			return 0, err
		}
		begin = i + 4
	}
	flag := uint32(flagWhole)
	if begin != 0 {
		flag = flagEnd
	}
	if err := w.part(flag, data[begin:]); err != nil {
		return 0, err
	}
	return start, nil
}

func (w *Writer) part(cflag uint32, data []byte) error {
	binary.LittleEndian.PutUint32(w.hdr[:4], Magic)
	binary.LittleEndian.PutUint32(w.hdr[4:], lengthWord(cflag, uint32(len(data))))
	padding := pad4(len(data)) - len(data)
	for _, b := range [][]byte{w.hdr[:], data, w.zero[:padding]} {
		n, err := w.w.Write(b)
		w.off += int64(n)
		if err != nil {
			return fmt.Errorf("write record at offset %d: %w", w.off, err)
		}
	}
	return nil
}
