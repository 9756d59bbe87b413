package main

import (
	"errors"
	"fmt"

	"github.com/facestream/facestream/arrowio"
)

// closeDataset closes ds (opened from dir) and joins a failure into *err: commands with a named
// error result open a dataset and `defer closeDataset(ds, dir, &err)`.
func closeDataset(ds *arrowio.Dataset, dir string, err *error) {
	if cerr := ds.Close(); cerr != nil {
		*err = errors.Join(*err, fmt.Errorf("close dataset %s: %w", dir, cerr))
	}
}
