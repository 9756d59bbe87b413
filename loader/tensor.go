package loader

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// tensorExtensionName is Arrow's canonical extension for a column of equally shaped tensors.
const tensorExtensionName = "arrow.fixed_shape_tensor"

// TensorType is arrow.fixed_shape_tensor over fixed_size_list<uint8>[product(shape)]: one
// row-major uint8 tensor (here an H×W×C image) per row.
type TensorType struct {
	arrow.ExtensionBase
	shape []int
}

// NewTensorType returns the uint8 tensor type of the given shape.
func NewTensorType(shape ...int) *TensorType {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &TensorType{
		ExtensionBase: arrow.ExtensionBase{Storage: arrow.FixedSizeListOfNonNullable(int32(n), arrow.PrimitiveTypes.Uint8)},
		shape:         slices.Clone(shape),
	}
}

// Shape is the tensor shape of every row.
func (t *TensorType) Shape() []int { return slices.Clone(t.shape) }

// ExtensionName implements arrow.ExtensionType.
func (*TensorType) ExtensionName() string { return tensorExtensionName }

// tensorMetadata is the extension's serialized form; permutation and dim_names are omitted (row-major, unnamed).
type tensorMetadata struct {
	Shape []int `json:"shape"`
}

// Serialize implements arrow.ExtensionType: {"shape":[H,W,C]}.
func (t *TensorType) Serialize() string {
	b, _ := json.Marshal(tensorMetadata{Shape: t.shape}) // ints always marshal
	return string(b)
}

// Deserialize implements arrow.ExtensionType. It accepts uint8 storage only: what this protocol sends.
func (*TensorType) Deserialize(storage arrow.DataType, data string) (arrow.ExtensionType, error) {
	var md tensorMetadata
	if err := json.Unmarshal([]byte(data), &md); err != nil {
		return nil, fmt.Errorf("%s metadata %q: %w", tensorExtensionName, data, err)
	}
	t := NewTensorType(md.Shape...)
	if !arrow.TypeEqual(storage, t.Storage) {
		return nil, fmt.Errorf("%s of shape %v: storage %s, want %s", tensorExtensionName, md.Shape, storage, t.Storage)
	}
	return t, nil
}

// ExtensionEquals implements arrow.ExtensionType.
func (t *TensorType) ExtensionEquals(other arrow.ExtensionType) bool {
	o, ok := other.(*TensorType)
	return ok && slices.Equal(t.shape, o.shape)
}

// ArrayType implements arrow.ExtensionType.
func (*TensorType) ArrayType() reflect.Type { return reflect.TypeOf(TensorArray{}) }

// String names the type with its shape.
func (t *TensorType) String() string {
	return fmt.Sprintf("extension<%s%v>", tensorExtensionName, t.shape)
}

// TensorArray is a column of TensorType.
type TensorArray struct {
	array.ExtensionArrayBase
}

// Bytes are the tensors of all rows back to back, row-major: zero-copy. It is nil when the
// values are shorter than the rows say (a malformed stream), which a length check then reports.
func (a *TensorArray) Bytes() []byte {
	list := a.Storage().(*array.FixedSizeList)
	values := list.ListValues().(*array.Uint8).Uint8Values()
	size := int(list.DataType().(*arrow.FixedSizeListType).Len())
	off, end := list.Offset()*size, (list.Offset()+list.Len())*size
	if off < 0 || end > len(values) {
		return nil
	}
	return values[off:end]
}

// registerTensorType makes arrow-go's IPC reader decode the extension as TensorType. The
// registry is arrow-go's own process-wide table; registering twice is harmless.
func registerTensorType() error {
	if t := arrow.GetExtensionType(tensorExtensionName); t != nil {
		if _, ours := t.(*TensorType); ours {
			return nil
		}
		return fmt.Errorf("extension %s is already registered as %T", tensorExtensionName, t)
	}
	err := arrow.RegisterExtensionType(NewTensorType())
	if _, ours := arrow.GetExtensionType(tensorExtensionName).(*TensorType); ours {
		return nil // registered, by this call or a concurrent one
	}
	return fmt.Errorf("register %s: %w", tensorExtensionName, err)
}
