package offline

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/facestream/facestream/arrowio"
)

// fillRows appends rows rows of distinct values to every column of b, whatever the work-file
// schema (the column types the work files use).
func fillRows(t *testing.T, rows int) func(b *array.RecordBuilder) {
	return func(b *array.RecordBuilder) {
		for c, f := range b.Fields() {
			for r := range rows {
				v := c*100 + r
				switch f := f.(type) {
				case *array.Int64Builder:
					f.Append(int64(v))
				case *array.Int32Builder:
					f.Append(int32(v))
				case *array.Float32Builder:
					f.Append(float32(v) / 7)
				case *array.BooleanBuilder:
					f.Append(v%2 == 1)
				case *array.StringBuilder:
					f.Append(string(rune('a' + v%26)))
				case *array.BinaryBuilder:
					f.Append(make([]byte, v%5))
				case *array.FixedSizeListBuilder:
					f.Append(true)
					dim := int(f.Type().(*arrow.FixedSizeListType).Len())
					for k := range dim {
						f.ValueBuilder().(*array.Float32Builder).Append(float32(v*dim + k))
					}
				default:
					t.Fatalf("column %d: no filler for %T", c, f)
				}
			}
		}
	}
}

// TestWorkFilesGiveBackTheirMemory writes and reads every work-file schema through a checked
// allocator: each reads back as written, and nothing allocated outlives the calls, whether the
// read succeeds, the reader's callback fails or the file is damaged.
func TestWorkFilesGiveBackTheirMemory(t *testing.T) {
	schemas := map[string]*arrow.Schema{
		"embeddings": arrowio.EmbeddingsSchema(4), "centers": arrowio.CentersSchema(3), "cosine": cosineSchema(),
		"nearest": nearestSchema(), "augment": augmentSchema(2),
	}
	for name, schema := range schemas {
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), name+".arrow")
			if err := writeArrowWith(mem, path, schema, fillRows(t, 5)); err != nil {
				t.Fatal(err)
			}
			b := array.NewRecordBuilder(mem, schema)
			defer b.Release()
			fillRows(t, 5)(b)
			want := b.NewRecordBatch()
			defer want.Release()
			batches := 0
			err := readArrowWith(mem, path, func(rec arrow.RecordBatch) error {
				batches++
				if !array.RecordEqual(rec, want) {
					t.Errorf("read back %v, wrote %v", rec, want)
				}
				return nil
			})
			if err != nil || batches != 1 {
				t.Fatalf("read %d batches, %v; want 1", batches, err)
			}
			refuse := errors.New("refused")
			if err := readArrowWith(mem, path, func(arrow.RecordBatch) error { return refuse }); !errors.Is(err, refuse) {
				t.Errorf("a failing callback: %v, want its error", err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			clear(data[len(data)/3 : len(data)/2])
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := readArrowWith(mem, path, func(arrow.RecordBatch) error { return nil }); err == nil {
				t.Error("a damaged work file was read")
			}
		})
	}
}

// TestEmbeddingsFileGivesBackItsMemory: embeddings go through their file as they are, with a
// checked allocator.
func TestEmbeddingsFileGivesBackItsMemory(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "e.arrow")
	want := clusteredEmbeddings(3, 4, 5, nil)
	if err := writeArrowWith(mem, path, arrowio.EmbeddingsSchema(want.dim), want.fill); err != nil {
		t.Fatal(err)
	}
	got := &embeddings{}
	if err := readArrowWith(mem, path, got.appendBatch); err != nil {
		t.Fatal(err)
	}
	if got.dim != want.dim || !slices.Equal(got.ids, want.ids) || !slices.Equal(got.labels, want.labels) || !slices.Equal(got.emb, want.emb) {
		t.Fatalf("read back %+v, wrote %+v", got, want)
	}
}
