package arrowio

import (
	"encoding/binary"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"
)

// footerFile is an Arrow IPC file holding only a footer: one field nested levels deep in struct
// fields, each level's children vector listing the next level's table copies times. With
// childrenLen, the deepest children vector's length word is overwritten with it.
func footerFile(levels, copies int, childrenLen uint32) []byte {
	b := flatbuffers.NewBuilder(0)
	b.StartObject(0)
	empty := b.EndObject() // the type table of Null and Struct_
	field := func(typeType byte, children flatbuffers.UOffsetT) flatbuffers.UOffsetT {
		b.StartObject(7) // Field: name, nullable, type_type, type, dictionary, children, custom_metadata
		b.PrependByteSlot(2, typeType, 0)
		b.PrependUOffsetTSlot(3, empty, 0)
		if children != 0 {
			b.PrependUOffsetTSlot(5, children, 0)
		}
		return b.EndObject()
	}
	vector := func(elems ...flatbuffers.UOffsetT) flatbuffers.UOffsetT {
		b.StartVector(4, len(elems), 4)
		for i := len(elems) - 1; i >= 0; i-- {
			b.PrependUOffsetT(elems[i])
		}
		return b.EndVector(len(elems))
	}
	const null, structType = 1, 13
	node := field(null, 0)
	var deepest flatbuffers.UOffsetT
	for level := range levels {
		elems := make([]flatbuffers.UOffsetT, copies)
		for i := range elems {
			elems[i] = node
		}
		children := vector(elems...)
		if level == 0 {
			deepest = children
		}
		node = field(structType, children)
	}
	fields := vector(node)
	b.StartObject(4) // Schema: endianness, fields, custom_metadata, features
	b.PrependUOffsetTSlot(1, fields, 0)
	schema := b.EndObject()
	b.StartObject(4) // Footer: version, schema, dictionaries, recordBatches
	b.PrependUOffsetTSlot(1, schema, 0)
	b.Finish(b.EndObject())
	footer := b.FinishedBytes()
	if childrenLen != 0 && deepest != 0 {
		binary.LittleEndian.PutUint32(footer[len(footer)-int(deepest):], childrenLen)
	}
	file := append([]byte("ARROW1\x00\x00"), footer...)
	file = binary.LittleEndian.AppendUint32(file, uint32(len(footer)))
	return append(file, "ARROW1"...)
}

func TestCheckFooter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		file   []byte
		refuse string
	}{
		{"nested fields", footerFile(4, 1, 0), ""},
		{"no magic", []byte("not an arrow file at all"), ""},
		{"a children length past the footer", footerFile(2, 1, 4_000_000), "4000000 fields"},
		// 2^24 copies of the leaf through 24 levels that each list the next one twice: 800 bytes.
		{"one table listed over and over", footerFile(24, 2, 0), "more than the footer's bytes"},
		{"nested too deep", footerFile(40, 1, 0), "deeper than 32"},
	} {
		err := CheckFooter(tc.file)
		if tc.refuse == "" && err != nil || tc.refuse != "" && (err == nil || !strings.Contains(err.Error(), tc.refuse)) {
			t.Errorf("%s: %v, want refusal %q", tc.name, err, tc.refuse)
		}
	}
	// The classes file goes through the same check.
	if _, err := decodeClasses(footerFile(2, 1, 4_000_000)); err == nil || !strings.Contains(err.Error(), "footer") {
		t.Errorf("classes file with a corrupt footer: %v", err)
	}
}
