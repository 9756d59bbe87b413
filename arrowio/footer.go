package arrowio

import (
	"encoding/binary"
	"errors"
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"
)

// checkFooter bounds the vector lengths in an Arrow IPC file's footer that arrow-go's reader
// allocates by before it reads anything else: a corrupt length there made it allocate tens of
// gigabytes (FuzzShardReader found one). A flatbuffer vector of n offsets takes 4n bytes, so a
// length over a quarter of the footer is corrupt. Offsets that point outside the footer panic in
// the flatbuffers accessors, which decodeShard recovers from. Vtable slots are those of Arrow's
// File.fbs and Schema.fbs: Footer.schema 6; Schema.fields 6, custom_metadata 8; Field.children 14,
// custom_metadata 16.
func checkFooter(data []byte) error {
	const tail = 10 // the footer's int32 length, then "ARROW1"
	if len(data) < tail || string(data[len(data)-6:]) != "ARROW1" {
		return nil // no footer at all: the IPC reader refuses the file as not Arrow
	}
	size := int(binary.LittleEndian.Uint32(data[len(data)-tail:]))
	if size <= 0 || size > len(data)-tail {
		return fmt.Errorf("footer of %d bytes in a file of %d", size, len(data))
	}
	buf := data[len(data)-tail-size : len(data)-tail]
	limit := len(buf) / 4
	footer := flatbuffers.Table{Bytes: buf, Pos: flatbuffers.GetUOffsetT(buf)}
	schema, ok := child(&footer, 6)
	if !ok {
		return errors.New("footer without a schema")
	}
	return checkFields(&schema, 6, 8, limit, 0)
}

// checkFields checks the lengths of t's field vector (in slot) and metadata vector (in metaSlot),
// then those of each field's children and metadata, recursively.
func checkFields(t *flatbuffers.Table, slot, metaSlot flatbuffers.VOffsetT, limit, depth int) error {
	if depth > 32 {
		return errors.New("fields nested deeper than 32")
	}
	n, err := vectorLen(t, slot, limit, "fields")
	if err != nil {
		return err
	}
	if _, err := vectorLen(t, metaSlot, limit, "metadata entries"); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	vector := t.Vector(flatbuffers.UOffsetT(t.Offset(slot)))
	for i := range n {
		field := flatbuffers.Table{Bytes: t.Bytes, Pos: t.Indirect(vector + flatbuffers.UOffsetT(i)*4)}
		if err := checkFields(&field, 14, 16, limit, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// child is the table in slot of t, if present.
func child(t *flatbuffers.Table, slot flatbuffers.VOffsetT) (flatbuffers.Table, bool) {
	o := flatbuffers.UOffsetT(t.Offset(slot))
	if o == 0 {
		return flatbuffers.Table{}, false
	}
	return flatbuffers.Table{Bytes: t.Bytes, Pos: t.Indirect(o + t.Pos)}, true
}

// vectorLen is the length of the vector in slot of t (0 when absent), refused past limit.
func vectorLen(t *flatbuffers.Table, slot flatbuffers.VOffsetT, limit int, what string) (int, error) {
	o := flatbuffers.UOffsetT(t.Offset(slot))
	if o == 0 {
		return 0, nil
	}
	n := t.VectorLen(o)
	if n < 0 || n > limit {
		return 0, fmt.Errorf("footer lists %d %s in %d bytes", n, what, 4*limit)
	}
	return n, nil
}
