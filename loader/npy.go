package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// NPY v1.0 (numpy.lib.format): magic, version, little-endian uint16 header length, then a Python
// dict literal padded with spaces to a multiple of 64 bytes and ended by a newline.
const (
	npyMagic      = "\x93NUMPY\x01\x00"
	npyPrelude    = len(npyMagic) + 2
	npyAlign      = 64
	npyMaxHeader  = 256 // longer headers are not ours
	npyMaxDims    = 4
	npyDescrUint8 = "|u1"
	npyDescrInt32 = "<i4"
	npyDescrInt64 = "<i8"
)

// npyHeader is an array's dtype and shape.
type npyHeader struct {
	descr string
	shape []int
}

// appendNPYHeader appends the complete header of an array; it allocates nothing when dst has room.
func appendNPYHeader(dst []byte, descr string, shape ...int) []byte {
	start := len(dst)
	dst = append(dst, npyMagic...)
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
	for (len(dst)-start+1)%npyAlign != 0 {
		dst = append(dst, ' ')
	}
	dst = append(dst, '\n')
	binary.LittleEndian.PutUint16(dst[start+len(npyMagic):], uint16(len(dst)-start-npyPrelude))
	return dst
}

// npyHeaderLen reads the prelude and returns the length of the dict that follows it.
func npyHeaderLen(prelude []byte) (int, error) {
	if len(prelude) < npyPrelude || string(prelude[:6]) != npyMagic[:6] {
		return 0, errors.New("not an NPY array (bad magic)")
	}
	if prelude[6] != 1 || prelude[7] != 0 {
		return 0, fmt.Errorf("NPY version %d.%d, want 1.0", prelude[6], prelude[7])
	}
	n := int(binary.LittleEndian.Uint16(prelude[len(npyMagic):]))
	if n > npyMaxHeader {
		return 0, fmt.Errorf("NPY header of %d bytes, longer than the %d this protocol writes", n, npyMaxHeader)
	}
	return n, nil
}

// parseNPYDict reads the header dict this protocol writes: a C-order array with a descr and up to
// four dimensions. It accepts what numpy writes for such arrays, not every Python literal.
func parseNPYDict(dict []byte, h *npyHeader) error {
	rest := bytes.TrimSpace(dict)
	if !bytes.HasPrefix(rest, []byte("{")) || !bytes.HasSuffix(rest, []byte("}")) {
		return fmt.Errorf("NPY header %q is not a dict", dict)
	}
	descr, ok := dictValue(rest, "'descr':")
	if !ok || len(descr) < 2 || descr[0] != '\'' || descr[len(descr)-1] != '\'' {
		return fmt.Errorf("NPY header %q has no descr", dict)
	}
	h.descr = string(descr[1 : len(descr)-1])
	order, ok := dictValue(rest, "'fortran_order':")
	if !ok || string(order) != "False" {
		return fmt.Errorf("NPY header %q is not a C-order array", dict)
	}
	shape, ok := dictValue(rest, "'shape':")
	if !ok || len(shape) < 2 || shape[0] != '(' || shape[len(shape)-1] != ')' {
		return fmt.Errorf("NPY header %q has no shape tuple", dict)
	}
	h.shape = h.shape[:0]
	for _, f := range bytes.Split(shape[1:len(shape)-1], []byte(",")) {
		f = bytes.TrimSpace(f)
		if len(f) == 0 {
			continue // the trailing comma of a 1-tuple
		}
		n, err := strconv.ParseInt(string(f), 10, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("NPY header %q: bad dimension %q", dict, f)
		}
		if len(h.shape) == npyMaxDims {
			return fmt.Errorf("NPY header %q has more than %d dimensions", dict, npyMaxDims)
		}
		h.shape = append(h.shape, int(n))
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

// elements is the product of the shape, or an error when it overflows limit.
func (h *npyHeader) elements(limit int) (int, error) {
	n := 1
	for _, d := range h.shape {
		if d != 0 && n > limit/d {
			return 0, fmt.Errorf("NPY array of shape %v is larger than %d elements", h.shape, limit)
		}
		n *= d
	}
	return n, nil
}
