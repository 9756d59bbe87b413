package arrowio

import (
	"encoding/binary"
	"errors"
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"
)

// CheckFooter bounds the vector lengths in an Arrow IPC file's footer that arrow-go's reader
// allocates by before it reads anything else: a corrupt length there made it allocate tens of
// gigabytes (FuzzShardReader found one). In a well-formed flatbuffer every entry of those vectors
// (fields, children, metadata) takes 4 bytes of its own, so together they cannot list more than a
// quarter of the footer's bytes: one budget for the whole tree, which also stops a table listed
// many times over. Call it on any Arrow IPC file read from disk before ipc.NewFileReader; a file
// without the trailing magic passes, for the reader to refuse. Vtable slots are those of Arrow's
// File.fbs and Schema.fbs: Footer.schema 6; Schema.fields 6, custom_metadata 8; Field.children 14,
// custom_metadata 16.
func CheckFooter(data []byte) (err error) {
	defer func() { // offsets that point outside the footer panic in the flatbuffers accessors
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt Arrow footer: %v", r)
		}
	}()
	const tail = 10 // the footer's int32 length, then "ARROW1"
	if len(data) < tail || string(data[len(data)-6:]) != "ARROW1" {
		return nil // no footer at all: the IPC reader refuses the file as not Arrow
	}
	size := int(binary.LittleEndian.Uint32(data[len(data)-tail:]))
	if size <= 0 || size > len(data)-tail {
		return fmt.Errorf("footer of %d bytes in a file of %d", size, len(data))
	}
	buf := data[len(data)-tail-size : len(data)-tail]
	footer := flatbuffers.Table{Bytes: buf, Pos: flatbuffers.GetUOffsetT(buf)}
	schema, ok := child(&footer, 6)
	if !ok {
		return errors.New("footer without a schema")
	}
	budget := len(buf) / 4
	if err := checkFields(&schema, 6, 8, &budget, 0); err != nil {
		return fmt.Errorf("corrupt Arrow footer of %d bytes: %w", len(buf), err)
	}
	return nil
}

// checkFields takes the lengths of t's field vector (in slot) and metadata vector (in metaSlot)
// from budget, then those of each field's children and metadata, recursively.
func checkFields(t *flatbuffers.Table, slot, metaSlot flatbuffers.VOffsetT, budget *int, depth int) error {
	if depth > 32 {
		return errors.New("fields nested deeper than 32")
	}
	n, err := take(t, slot, budget, "fields")
	if err != nil {
		return err
	}
	if _, err := take(t, metaSlot, budget, "metadata entries"); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	vector := t.Vector(flatbuffers.UOffsetT(t.Offset(slot)))
	for i := range n {
		field := flatbuffers.Table{Bytes: t.Bytes, Pos: t.Indirect(vector + flatbuffers.UOffsetT(i)*4)}
		if err := checkFields(&field, 14, 16, budget, depth+1); err != nil {
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

// take is the length of the vector in slot of t (0 when absent), taken from budget; it fails when
// the budget cannot cover it.
func take(t *flatbuffers.Table, slot flatbuffers.VOffsetT, budget *int, what string) (int, error) {
	o := flatbuffers.UOffsetT(t.Offset(slot))
	if o == 0 {
		return 0, nil
	}
	n := t.VectorLen(o)
	if n < 0 || n > *budget {
		return 0, fmt.Errorf("%d %s, more than the footer's bytes can hold", n, what)
	}
	*budget -= n
	return n, nil
}
