// Package npy writes and reads the NPY v1.0 format (numpy.lib.format) that numpy.load reads: the
// server's npy wire format and the offline stages' centers.npy both go through it.
//
// A file or array is: magic, version, little-endian uint16 header length, then a Python dict
// literal padded with spaces to a multiple of 64 bytes and ended by a newline, then the data.
package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

const (
	magic = "\x93NUMPY\x01\x00"
	// Prelude is the magic, the version and the header length: what precedes the header dict.
	Prelude = len(magic) + 2
	// Align is the multiple of bytes at which the data starts.
	Align = 64
	// MaxHeader is the longest header dict read; longer ones are not facestream's.
	MaxHeader = 256
	// MaxDims is the most dimensions read.
	MaxDims = 4
)

// The dtypes facestream writes.
const (
	DescrUint8   = "|u1"
	DescrInt32   = "<i4"
	DescrInt64   = "<i8"
	DescrFloat32 = "<f4"
)

// Header is an array's dtype and shape.
type Header struct {
	Descr string
	Shape []int
}

// AppendHeader appends the complete header of an array; it allocates nothing when dst has room.
func AppendHeader(dst []byte, descr string, shape ...int) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = append(dst, 0, 0) // header length, set below
	dst = append(dst, "{'descr': '"...)
	dst = append(dst, descr...)
	dst = append(dst, "', 'fortran_order': False, 'shape': ("...)
	for i, n := range shape {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	if len(shape) == 1 {
		dst = append(dst, ',')
	}
	dst = append(dst, "), }"...)
	for (len(dst)-start+1)%Align != 0 {
		dst = append(dst, ' ')
	}
	dst = append(dst, '\n')
	binary.LittleEndian.PutUint16(dst[start+len(magic):], uint16(len(dst)-start-Prelude))
	return dst
}

// Float32Matrix encodes a rows×cols float32 matrix (little-endian, C order) as a whole NPY file.
func Float32Matrix(values []float32, rows, cols int) []byte {
	out := AppendHeader(make([]byte, 0, Prelude+MaxHeader+4*len(values)), DescrFloat32, rows, cols)
	for _, v := range values {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
	}
	return out
}

// HeaderLen reads the prelude and returns the length of the dict that follows it.
func HeaderLen(prelude []byte) (int, error) {
	if len(prelude) < Prelude || string(prelude[:6]) != magic[:6] {
		return 0, errors.New("not an NPY array (bad magic)")
	}
	if prelude[6] != 1 || prelude[7] != 0 {
		return 0, fmt.Errorf("NPY version %d.%d, want 1.0", prelude[6], prelude[7])
	}
	n := int(binary.LittleEndian.Uint16(prelude[len(magic):]))
	if n > MaxHeader {
		return 0, fmt.Errorf("NPY header of %d bytes, longer than the %d this protocol writes", n, MaxHeader)
	}
	return n, nil
}

// ParseDict reads the header dict facestream writes into h: a C-order array with a descr and up
// to MaxDims dimensions. It accepts what numpy writes for such arrays, not every Python literal,
// and reuses h's shape slice.
func ParseDict(dict []byte, h *Header) error {
	rest := bytes.TrimSpace(dict)
	if !bytes.HasPrefix(rest, []byte("{")) || !bytes.HasSuffix(rest, []byte("}")) {
		return fmt.Errorf("NPY header %q is not a dict", dict)
	}
	descr, ok := dictValue(rest, "'descr':")
	if !ok || len(descr) < 2 || descr[0] != '\'' || descr[len(descr)-1] != '\'' {
		return fmt.Errorf("NPY header %q has no descr", dict)
	}
	h.Descr = string(descr[1 : len(descr)-1])
	order, ok := dictValue(rest, "'fortran_order':")
	if !ok || string(order) != "False" {
		return fmt.Errorf("NPY header %q is not a C-order array", dict)
	}
	shape, ok := dictValue(rest, "'shape':")
	if !ok || len(shape) < 2 || shape[0] != '(' || shape[len(shape)-1] != ')' {
		return fmt.Errorf("NPY header %q has no shape tuple", dict)
	}
	h.Shape = h.Shape[:0]
	for _, f := range bytes.Split(shape[1:len(shape)-1], []byte(",")) {
		f = bytes.TrimSpace(f)
		if len(f) == 0 {
			continue // the trailing comma of a 1-tuple
		}
		n, err := strconv.ParseInt(string(f), 10, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("NPY header %q: bad dimension %q", dict, f)
		}
		if len(h.Shape) == MaxDims {
			return fmt.Errorf("NPY header %q has more than %d dimensions", dict, MaxDims)
		}
		h.Shape = append(h.Shape, int(n))
	}
	return nil
}

// dictValue returns the value after key in a flat dict literal: up to the next top-level comma.
func dictValue(dict []byte, key string) ([]byte, bool) {
	i := bytes.Index(dict, []byte(key))
	if i < 0 {
		return nil, false
	}
	v := bytes.TrimLeft(dict[i+len(key):], " ")
	depth := 0
	for j, c := range v {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',', '}':
			if depth == 0 {
				return bytes.TrimSpace(v[:j]), true
			}
		}
	}
	return nil, false
}

// Elements is the product of the shape, or an error when it overflows limit.
func (h *Header) Elements(limit int) (int, error) {
	n := 1
	for _, d := range h.Shape {
		if d != 0 && n > limit/d {
			return 0, fmt.Errorf("NPY array of shape %v is larger than %d elements", h.Shape, limit)
		}
		n *= d
	}
	return n, nil
}
