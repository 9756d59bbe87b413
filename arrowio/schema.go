// Package arrowio owns the dataset on disk: the shard schema, the manifest, the atomic shard
// writer and the memory-mapped reader with zero-copy access to any row's image bytes.
package arrowio

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Column positions in a shard; the order is part of the on-disk format.
const (
	colID = iota
	colLabel
	colImage
	colOrigin
	colParent
	colWeight
	colSim
	colRecipe
	colSource
)

// Origins of a sample.
const (
	OriginOriginal  uint8 = 0
	OriginAugmented uint8 = 1
)

var shardFields = []arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "label", Type: arrow.PrimitiveTypes.Int32},
	{Name: "image", Type: arrow.BinaryTypes.Binary},
	{Name: "origin", Type: arrow.PrimitiveTypes.Uint8},
	{Name: "parent", Type: arrow.PrimitiveTypes.Int64},
	{Name: "weight", Type: arrow.PrimitiveTypes.Float32},
	{Name: "sim", Type: arrow.PrimitiveTypes.Float32},
	{Name: "recipe", Type: arrow.BinaryTypes.String},
	{Name: "source", Type: arrow.BinaryTypes.String},
}

var classFields = []arrow.Field{
	{Name: "label", Type: arrow.PrimitiveTypes.Int32},
	{Name: "identity", Type: arrow.BinaryTypes.String},
	{Name: "count", Type: arrow.PrimitiveTypes.Int32},
	{Name: "raw_count", Type: arrow.PrimitiveTypes.Int32},
	{Name: "clean_count", Type: arrow.PrimitiveTypes.Int32},
	{Name: "aug_count", Type: arrow.PrimitiveTypes.Int32},
	{Name: "quota", Type: arrow.PrimitiveTypes.Int32},
}

// Schema is the schema of every shard (and of the Parquet interchange file).
func Schema() *arrow.Schema { return arrow.NewSchema(shardFields, nil) }

// ClassSchema is the schema of classes.arrow.
func ClassSchema() *arrow.Schema { return arrow.NewSchema(classFields, nil) }

// checkSchema refuses a schema whose fields differ from want, naming the first difference.
func checkSchema(got, want *arrow.Schema) error {
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("unknown schema: %d columns, want %d (%s)", got.NumFields(), want.NumFields(), want)
	}
	for i, f := range want.Fields() {
		g := got.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return fmt.Errorf("unknown schema: column %d is %s %s, want %s %s", i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	return nil
}

// Sample is one photo and everything the stages know of it.
type Sample struct {
	ID     int64   // stable across stages
	Label  int32   // dense 0..C-1
	Image  []byte  // encoded bytes as in the source
	Origin uint8   // OriginOriginal or OriginAugmented
	Parent int64   // id of the photo an augmentation was made from; -1 for originals
	Weight float32 // sampling weight
	Sim    float32 // cosine to the class centre; NaN before S2
	Recipe string  // offline ops applied, empty for originals
	Source string  // relative path, record key or Parquet row
}

// Class is one identity and its per-stage counts.
type Class struct {
	Label      int32
	Identity   string
	Count      int32 // photos of this identity in this dataset
	RawCount   int32 // photos before cleaning
	CleanCount int32 // photos kept by S2
	AugCount   int32 // offline augmentations kept by S3
	Quota      int32 // draws per epoch for the balanced sampler; 0 when not equalized
}

// appendSample appends one row to a builder of the shard schema.
func appendSample(b *array.RecordBuilder, s *Sample) {
	b.Field(colID).(*array.Int64Builder).Append(s.ID)
	b.Field(colLabel).(*array.Int32Builder).Append(s.Label)
	b.Field(colImage).(*array.BinaryBuilder).Append(s.Image)
	b.Field(colOrigin).(*array.Uint8Builder).Append(s.Origin)
	b.Field(colParent).(*array.Int64Builder).Append(s.Parent)
	b.Field(colWeight).(*array.Float32Builder).Append(s.Weight)
	b.Field(colSim).(*array.Float32Builder).Append(s.Sim)
	b.Field(colRecipe).(*array.StringBuilder).Append(s.Recipe)
	b.Field(colSource).(*array.StringBuilder).Append(s.Source)
}
