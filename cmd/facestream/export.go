package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/offline/recordio"
)

// runExport writes a dataset as a Parquet file and/or an InsightFace RecordIO set.
func runExport(args []string) (err error) {
	fs := newFlags("export", "DS [--parquet FILE] [--rec FILE.rec]")
	parquetPath := fs.String("parquet", "", "write a Parquet file (zstd, the shard schema)")
	recPath := fs.String("rec", "", "write an InsightFace RecordIO set (FILE.rec and FILE.idx)")
	st := addStorageFlags(fs)
	pos, err := parseExact(fs, args, "DS")
	if err != nil {
		return err
	}
	if *parquetPath == "" && *recPath == "" {
		fs.Usage()
		return errors.New("nothing to do: give --parquet, --rec or both")
	}
	for _, location := range []string{*parquetPath, *recPath} {
		if err := arrowio.CheckLocal(location); err != nil {
			return err
		}
	}
	ds, err := st.open(context.Background(), pos[0])
	if err != nil {
		return err
	}
	defer closeDataset(ds, pos[0], &err)
	if *parquetPath != "" {
		if err := arrowio.ExportParquet(ds, *parquetPath); err != nil {
			return err
		}
		fmt.Printf("wrote %d samples to %s\n", ds.Len(), *parquetPath)
	}
	if *recPath != "" {
		if err := exportRec(ds, *recPath); err != nil {
			return err
		}
		fmt.Printf("wrote %d samples to %s and %s\n", ds.Len(), *recPath, recordio.IndexPath(*recPath))
	}
	return nil
}

// exportRec writes the samples grouped by label, the layout InsightFace's readers expect.
func exportRec(ds *arrowio.Dataset, path string) error {
	rows := make([]int, ds.Len())
	for i := range rows {
		rows[i] = i
	}
	slices.SortStableFunc(rows, func(a, b int) int { return cmp.Compare(ds.Label(a), ds.Label(b)) })
	w, err := recordio.CreateSet(path, ds.Len(), ds.NumClasses())
	if err != nil {
		return err
	}
	for _, row := range rows {
		if err := w.Add(int(ds.Label(row)), ds.Image(row)); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close()
}
