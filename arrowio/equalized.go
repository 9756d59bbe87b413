package arrowio

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Files an equalized dataset holds besides its shards, classes.arrow and dataset.json: the
// pre-model's embeddings of every sample and its identity centres, which offline S2 computes
// and S4 writes, for trainers that initialise a classifier or mine hard examples from them.
const (
	EmbeddingsFile = "embeddings/embeddings.arrow" // EmbeddingsSchema: one row per sample
	CentersFile    = "centers.arrow"               // CentersSchema: one row per identity
	CentersNPYFile = "centers.npy"                 // the centres as an identities×dim float32 NPY matrix
)

// EmbeddingField is the column of L2-normalised embeddings of width dim.
func EmbeddingField(dim int) arrow.Field {
	return arrow.Field{Name: "emb", Type: arrow.FixedSizeListOf(int32(dim), arrow.PrimitiveTypes.Float32)}
}

// EmbeddingsSchema is the schema of EmbeddingsFile (and of offline's embedding work files).
func EmbeddingsSchema(dim int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "label", Type: arrow.PrimitiveTypes.Int32},
		EmbeddingField(dim),
	}, nil)
}

// CentersSchema is the schema of CentersFile: each identity's label, name and centre.
func CentersSchema(dim int) *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "label", Type: arrow.PrimitiveTypes.Int32},
		{Name: "identity", Type: arrow.BinaryTypes.String},
		EmbeddingField(dim),
	}, nil)
}

// EmbeddingWidth is the list width of column col, which must be a fixed-size list of float32.
func EmbeddingWidth(s *arrow.Schema, col int) (int, error) {
	if col >= s.NumFields() {
		return 0, fmt.Errorf("schema %s has no column %d", s, col)
	}
	t, ok := s.Field(col).Type.(*arrow.FixedSizeListType)
	if !ok || !arrow.TypeEqual(t.Elem(), arrow.PrimitiveTypes.Float32) || t.Len() < 1 {
		return 0, fmt.Errorf("column %s is %s, want fixed_size_list<float32>", s.Field(col).Name, s.Field(col).Type)
	}
	return int(t.Len()), nil
}
