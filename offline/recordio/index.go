package recordio

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// IndexEntry is one line of a .idx file: a record key and its offset in the .rec.
type IndexEntry struct {
	Key    uint64
	Offset int64
}

// ReadIndex parses a .idx file (`key\toffset` per line, as MXIndexedRecordIO writes it).
func ReadIndex(r io.Reader) ([]IndexEntry, error) {
	var entries []IndexEntry
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		k, off, ok := strings.Cut(text, "\t")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not key<TAB>offset: %w", line, text, ErrCorrupt)
		}
		key, err := strconv.ParseUint(strings.TrimSpace(k), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: key: %w", line, err)
		}
		offset, err := strconv.ParseInt(strings.TrimSpace(off), 10, 64)
		if err != nil || offset < 0 {
			return nil, fmt.Errorf("line %d: offset %q: %w", line, off, ErrCorrupt)
		}
		entries = append(entries, IndexEntry{Key: key, Offset: offset})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	return entries, nil
}

// WriteIndex writes entries in .idx format.
func WriteIndex(w io.Writer, entries []IndexEntry) error {
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		fmt.Fprintf(bw, "%d\t%d\n", e.Key, e.Offset)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return nil
}
