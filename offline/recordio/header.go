package recordio

import (
	"encoding/binary"
	"fmt"
	"math"
)

// HeaderSize is the size of MXNet's IRHeader: flag uint32, label float32,
// id uint64, id2 uint64, little-endian.
const HeaderSize = 24

// Header is the image-record header MXNet's recordio.pack writes before the
// payload. When Flag > 0, Flag float32 labels follow it (and Label is 0).
type Header struct {
	Flag   uint32
	Label  float32
	ID     uint64
	ID2    uint64
	Labels []float32
}

// Identity is the record's class: the first of the label array when there
// is one, else the scalar label.
func (h *Header) Identity() float32 {
	if len(h.Labels) > 0 {
		return h.Labels[0]
	}
	return h.Label
}

// ParseRecord splits a record into its header and payload. The payload
// aliases rec.
func ParseRecord(rec []byte) (Header, []byte, error) {
	h, n, err := parseHeader(rec, len(rec), math.MaxInt)
	if err != nil {
		return Header{}, nil, err
	}
	return h, rec[n:], nil
}

// parseHeader decodes the header and at most maxLabels of its labels from
// prefix, the first bytes of a record of total bytes, and returns the offset
// of the payload. prefix must hold the labels it decodes.
func parseHeader(prefix []byte, total, maxLabels int) (Header, int, error) {
	rec := prefix
	if total < HeaderSize || len(rec) < HeaderSize {
		return Header{}, 0, fmt.Errorf("record of %d bytes has no %d-byte header: %w", total, HeaderSize, ErrCorrupt)
	}
	h := Header{
		Flag:  binary.LittleEndian.Uint32(rec[0:]),
		Label: math.Float32frombits(binary.LittleEndian.Uint32(rec[4:])),
		ID:    binary.LittleEndian.Uint64(rec[8:]),
		ID2:   binary.LittleEndian.Uint64(rec[16:]),
	}
	end := HeaderSize + 4*int64(h.Flag)
	if end > int64(total) {
		return Header{}, 0, fmt.Errorf("header announces %d labels, record has %d bytes: %w", h.Flag, total, ErrCorrupt)
	}
	if h.Flag > 0 {
		h.Labels = make([]float32, min(int(h.Flag), maxLabels))
		for i := range h.Labels {
			h.Labels[i] = math.Float32frombits(binary.LittleEndian.Uint32(rec[HeaderSize+4*i:]))
		}
	}
	return h, int(end), nil
}

// AppendRecord appends the record of h and payload to dst the way MXNet's
// recordio.pack does: with labels, Flag becomes their count and Label 0.
func AppendRecord(dst []byte, h Header, payload []byte) []byte {
	if len(h.Labels) > 0 {
		h.Flag, h.Label = uint32(len(h.Labels)), 0
	}
	dst = binary.LittleEndian.AppendUint32(dst, h.Flag)
	dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(h.Label))
	dst = binary.LittleEndian.AppendUint64(dst, h.ID)
	dst = binary.LittleEndian.AppendUint64(dst, h.ID2)
	for _, l := range h.Labels {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(l))
	}
	return append(dst, payload...)
}
