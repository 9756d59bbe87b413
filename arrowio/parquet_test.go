package arrowio

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// checkedAllocator is an allocator that fails t unless everything taken from it is given back by
// the end of the test (the test's deferred calls run first).
func checkedAllocator(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func TestExportParquet(t *testing.T) {
	mem := checkedAllocator(t)
	dir := t.TempDir()
	samples := makeSamples(parquetGroupRows+50, 7, 3, 5) // two row groups
	writeDataset(t, filepath.Join(dir, "ds"), samples, 7, WriterOptions{})
	ds, err := Open(filepath.Join(dir, "ds"))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	path := filepath.Join(dir, "out.parquet")
	if err := exportParquet(ds, path, mem); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("export left extra files: %v", entries)
	}

	// Same schema as the shards; zstd everywhere but the image column.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSchema(sc, Schema()); err != nil {
		t.Fatal(err)
	}
	rg := pf.MetaData().RowGroup(0)
	for i := range rg.NumColumns() {
		col, err := rg.ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		want := compress.Codecs.Zstd
		if sc.Field(i).Name == "image" {
			want = compress.Codecs.Uncompressed
		}
		if col.Compression() != want {
			t.Errorf("column %s compressed with %v, want %v", sc.Field(i).Name, col.Compression(), want)
		}
	}

	p, err := openParquetImages(path, "image", "", mem)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.NumRows() != int64(len(samples)) || len(p.Identities()) != 7 {
		t.Fatalf("%d rows, %d identities; want %d, 7", p.NumRows(), len(p.Identities()), len(samples))
	}
	// Read the last group first, then the first: the group cache must follow.
	for _, row := range []int64{int64(len(samples)) - 1, 0, parquetGroupRows, 1} {
		img, err := p.Image(row)
		if err != nil {
			t.Fatal(err)
		}
		s := samples[row]
		if !bytes.Equal(img, s.Image) || p.Identities()[p.RowIdentity(row)] != classesFor(7)[s.Label].Identity {
			t.Fatalf("row %d: identity %s, bytes equal %v", row, p.Identities()[p.RowIdentity(row)], bytes.Equal(img, s.Image))
		}
	}
	if _, err := p.Image(p.NumRows()); err == nil {
		t.Error("a row past the end was read")
	}
}

// writeForeignParquet writes a Parquet file such as other tools produce: a
// "jpeg" bytes column and a "person" string column.
func writeForeignParquet(t *testing.T, path string, people []string) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "person", Type: arrow.BinaryTypes.String},
		{Name: "jpeg", Type: arrow.BinaryTypes.Binary},
	}, nil)
	b := array.NewRecordBuilder(checkedAllocator(t), sc)
	defer b.Release()
	for i, p := range people {
		b.Field(0).(*array.StringBuilder).Append(p)
		b.Field(1).(*array.BinaryBuilder).Append([]byte{byte(i)})
	}
	writeParquetRecord(t, path, b, nil)
}

// writeParquetRecord writes the rows built in b as a Parquet file (props nil: the defaults).
func writeParquetRecord(t *testing.T, path string, b *array.RecordBuilder, props *parquet.WriterProperties) {
	t.Helper()
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	mem := checkedAllocator(t)
	if props == nil {
		props = parquet.NewWriterProperties(parquet.WithAllocator(mem))
	}
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestParquetIdentityColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "people.parquet")
	people := []string{"zoe", "adam", "zoe", "mia", "adam"}
	writeForeignParquet(t, path, people)
	p, err := openParquetImages(path, "jpeg", "person", checkedAllocator(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !slices.Equal(p.Identities(), []string{"adam", "mia", "zoe"}) {
		t.Fatalf("identities %v", p.Identities())
	}
	for row, who := range people {
		img, err := p.Image(int64(row))
		if err != nil {
			t.Fatal(err)
		}
		if p.Identities()[p.RowIdentity(int64(row))] != who || !bytes.Equal(img, []byte{byte(row)}) {
			t.Errorf("row %d: %s %v, want %s", row, p.Identities()[p.RowIdentity(int64(row))], img, who)
		}
	}
}

func TestParquetMissingColumns(t *testing.T) {
	mem := checkedAllocator(t)
	path := filepath.Join(t.TempDir(), "people.parquet")
	writeForeignParquet(t, path, []string{"a"})
	for _, cols := range [][2]string{{"image", "person"}, {"jpeg", ""}, {"jpeg", "jpeg"}, {"person", "person"}} {
		_, err := openParquetImages(path, cols[0], cols[1], mem)
		if err == nil {
			t.Fatalf("columns %q opened", cols)
		}
		for _, want := range []string{path, "person utf8", "jpeg binary"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("columns %q: error %q does not mention %q", cols, err, want)
			}
		}
	}
	if _, err := OpenParquetImages(filepath.Join(t.TempDir(), "none.parquet"), "image", ""); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
	notParquet := filepath.Join(t.TempDir(), "x.parquet")
	if err := os.WriteFile(notParquet, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openParquetImages(notParquet, "image", "", mem); err == nil || !strings.Contains(err.Error(), notParquet) {
		t.Errorf("not a parquet file: %v", err)
	}
}

// TestParquetDamagedRowGroup: a row group that fails to read is an error for its rows and
// leaves the other groups readable.
func TestParquetDamagedRowGroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "two-groups.parquet")
	sc := arrow.NewSchema([]arrow.Field{{Name: "image", Type: arrow.BinaryTypes.Binary}, {Name: "label", Type: arrow.PrimitiveTypes.Int32}}, nil)
	mem := checkedAllocator(t)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for i := range 4 {
		b.Field(0).(*array.BinaryBuilder).Append([]byte("photo bytes " + string(rune('a'+i))))
		b.Field(1).(*array.Int32Builder).Append(int32(i))
	}
	writeParquetRecord(t, path, b, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(2), parquet.WithDictionaryDefault(false), parquet.WithAllocator(mem)))
	// Overwrite the page header of row group 1's image column.
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	chunk, err := r.MetaData().RowGroup(1).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	off := chunk.DataPageOffset()
	r.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := off; i < off+8; i++ {
		data[i] = 0xff
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	p, err := openParquetImages(path, "image", "label", mem)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, step := range []struct {
		row     int64
		wantErr bool
	}{{0, false}, {2, true}, {0, false}, {1, false}, {3, true}} {
		img, err := p.Image(step.row)
		if (err != nil) != step.wantErr {
			t.Fatalf("row %d: %q, %v; want an error: %v", step.row, img, err, step.wantErr)
		}
	}
}
