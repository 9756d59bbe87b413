package loader

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestTensorBytesShortValues: a tensor column whose values are shorter than its rows (a malformed
// stream) gives no bytes rather than a panic.
func TestTensorBytesShortValues(t *testing.T) {
	typ := NewTensorType(2, 2, 1)
	values := array.NewUint8Builder(memory.DefaultAllocator)
	defer values.Release()
	values.AppendValues(make([]uint8, 8), nil) // two rows of four
	child := values.NewUint8Array()
	defer child.Release()
	storageType := typ.StorageType()
	data := array.NewData(storageType, 3, []*memory.Buffer{nil}, []arrow.ArrayData{child.Data()}, 0, 0) // three rows
	defer data.Release()
	storage := array.MakeFromData(data)
	defer storage.Release()
	arr := array.NewExtensionArrayWithStorage(typ, storage).(*TensorArray)
	defer arr.Release()
	if b := arr.Bytes(); b != nil {
		t.Errorf("%d bytes from values shorter than the rows, want none", len(b))
	}
}
