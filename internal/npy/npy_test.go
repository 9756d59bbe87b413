package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		descr string
		shape []int
		dict  string
	}{
		{DescrUint8, []int{256, 112, 112, 3}, "{'descr': '|u1', 'fortran_order': False, 'shape': (256, 112, 112, 3), }"},
		{DescrInt32, []int{7}, "{'descr': '<i4', 'fortran_order': False, 'shape': (7,), }"},
		{DescrInt64, []int{0}, "{'descr': '<i8', 'fortran_order': False, 'shape': (0,), }"},
	} {
		h := AppendHeader(nil, tc.descr, tc.shape...)
		if len(h)%Align != 0 || h[len(h)-1] != '\n' {
			t.Errorf("%v: header of %d bytes does not end a 64-byte block with a newline", tc.shape, len(h))
		}
		n, err := HeaderLen(h)
		if err != nil || Prelude+n != len(h) {
			t.Fatalf("%v: header length %d, %v; want %d", tc.shape, n, err, len(h)-Prelude)
		}
		if got := string(bytes.TrimRight(h[Prelude:], " \n")); got != tc.dict {
			t.Errorf("dict %q, want %q", got, tc.dict)
		}
		var parsed Header
		if err := ParseDict(h[Prelude:], &parsed); err != nil || parsed.Descr != tc.descr || !slices.Equal(parsed.Shape, tc.shape) {
			t.Errorf("parsed %+v, %v; want %s %v", parsed, err, tc.descr, tc.shape)
		}
	}
}

func TestAppendHeaderAllocatesNothing(t *testing.T) {
	buf := make([]byte, 0, MaxHeader+Prelude)
	if a := testing.AllocsPerRun(100, func() { buf = AppendHeader(buf[:0], DescrUint8, 4096, 112, 112, 3) }); a != 0 {
		t.Fatalf("%v allocations per header", a)
	}
}

func TestParseDictRejects(t *testing.T) {
	for _, dict := range []string{
		"",
		"{'descr': '<i4', 'fortran_order': True, 'shape': (3,), }",
		"{'descr': '<i4', 'fortran_order': False, }",
		"{'descr': '<i4', 'fortran_order': False, 'shape': (3, x), }",
		"{'descr': '<i4', 'fortran_order': False, 'shape': (-3,), }",
		"{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5), }",
		"'descr': '<i4'",
	} {
		var h Header
		if err := ParseDict([]byte(dict), &h); err == nil {
			t.Errorf("%q parsed as %+v", dict, h)
		}
	}
}

// FuzzHeader: the client's header parser never panics and reads back what the encoder writes.
func FuzzHeader(f *testing.F) {
	f.Add(AppendHeader(nil, DescrUint8, 2, 3, 4, 3))
	f.Add(AppendHeader(nil, DescrInt64, 2))
	f.Add([]byte("\x93NUMPY\x01\x00\x10\x00{'shape': ((),)}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := HeaderLen(data)
		if err != nil || len(data) < Prelude+n {
			return
		}
		var h Header
		if ParseDict(data[Prelude:Prelude+n], &h) != nil {
			return
		}
		if _, err := h.Elements(1 << 40); err != nil {
			return
		}
		again := AppendHeader(nil, h.Descr, h.Shape...)
		var back Header
		if len(h.Shape) > 0 && len(h.Descr) < 16 && !bytes.ContainsAny([]byte(h.Descr), "'") {
			if err := ParseDict(again[Prelude:], &back); err != nil || back.Descr != h.Descr || !slices.Equal(back.Shape, h.Shape) {
				t.Fatalf("%+v re-encoded as %q reads back as %+v, %v", h, again, back, err)
			}
		}
	})
}

func TestFloat32Matrix(t *testing.T) {
	values := []float32{1, -2.5, 3, 4, 5, 6}
	data := Float32Matrix(values, 2, 3)
	if !bytes.HasPrefix(data, []byte("\x93NUMPY\x01\x00")) {
		t.Fatalf("magic %q", data[:8])
	}
	hlen := int(binary.LittleEndian.Uint16(data[8:10]))
	header := string(data[10 : 10+hlen])
	if (10+hlen)%64 != 0 || !strings.HasSuffix(header, "\n") || !strings.Contains(header, "'shape': (2, 3)") || !strings.Contains(header, "'<f4'") {
		t.Fatalf("header %q (data starts at %d)", header, 10+hlen)
	}
	body := data[10+hlen:]
	if len(body) != 4*len(values) {
		t.Fatalf("body %d bytes, want %d", len(body), 4*len(values))
	}
	for i, v := range values {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:])); got != v {
			t.Fatalf("value %d = %v, want %v", i, got, v)
		}
	}
}
