package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/facestream/facestream/arrowio"
)

// inspection is what inspect prints; its JSON keys are for scripts.
type inspection struct {
	Dataset     string           `json:"dataset"`
	Kind        string           `json:"kind"`
	Source      string           `json:"source"`
	Samples     int              `json:"samples"`
	Identities  int              `json:"identities"`
	Shards      int              `json:"shards"`
	Bytes       int64            `json:"bytes"`
	Quarantined int64            `json:"quarantined"`
	Counts      map[string]int64 `json:"counts"`
	PerIdentity struct {
		Min    int32   `json:"min"`
		Median int32   `json:"median"`
		Max    int32   `json:"max"`
		Mean   float64 `json:"mean"`
	} `json:"per_identity"`
	Histogram []bucketCount `json:"histogram"`
	Stages    []string      `json:"stages"`
	Verified  bool          `json:"verified"`
}

type bucketCount struct {
	Bucket     string `json:"bucket"`
	Identities int    `json:"identities"`
}

// runInspect prints a dataset's counts, identities, per-identity size histogram and shards.
func runInspect(args []string) error { return inspect(os.Stdout, args) }

func inspect(stdout io.Writer, args []string) (err error) {
	fs := newFlags("inspect", "DS [--json] [--verify]")
	asJSON := fs.Bool("json", false, "print one JSON object")
	verify := fs.Bool("verify", false, "check every shard's sha256 against the manifest")
	st := addStorageFlags(fs)
	pos, err := parseExact(fs, args, "DS")
	if err != nil {
		return err
	}
	ds, err := st.open(context.Background(), pos[0])
	if err != nil {
		return err
	}
	defer closeDataset(ds, pos[0], &err)
	if *verify {
		if err := ds.Verify(); err != nil {
			return err
		}
	}
	in := describe(ds)
	in.Dataset, in.Verified = pos[0], *verify
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	return printInspection(stdout, &in)
}

func describe(ds *arrowio.Dataset) inspection {
	m := ds.Manifest()
	in := inspection{
		Kind: m.Kind, Source: m.Source, Samples: ds.Len(), Identities: ds.NumClasses(),
		Shards: len(m.Shards), Quarantined: m.Count("quarantined"), Counts: m.Counts, Stages: []string{},
	}
	if in.Counts == nil {
		in.Counts = map[string]int64{}
	}
	for _, s := range m.Shards {
		in.Bytes += s.Bytes
	}
	for name := range m.Stages {
		in.Stages = append(in.Stages, name)
	}
	slices.Sort(in.Stages)
	sizes := make([]int32, 0, ds.NumClasses())
	for _, c := range ds.Classes() {
		sizes = append(sizes, c.Count)
	}
	slices.Sort(sizes)
	if len(sizes) > 0 {
		in.PerIdentity.Min, in.PerIdentity.Median, in.PerIdentity.Max = sizes[0], sizes[len(sizes)/2], sizes[len(sizes)-1]
		in.PerIdentity.Mean = float64(ds.Len()) / float64(len(sizes))
	}
	// Photos-per-identity buckets [lo, hi]; hi 0 for no bound.
	buckets := [...]struct {
		name   string
		lo, hi int32
	}{{"1", 1, 1}, {"2-4", 2, 4}, {"5-9", 5, 9}, {"10-19", 10, 19}, {"20-49", 20, 49}, {"50-99", 50, 99}, {"100+", 100, 0}}
	for _, b := range buckets {
		n := 0
		for _, s := range sizes {
			if s >= b.lo && (b.hi == 0 || s <= b.hi) {
				n++
			}
		}
		in.Histogram = append(in.Histogram, bucketCount{b.name, n})
	}
	return in
}

func printInspection(w io.Writer, in *inspection) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "dataset\t%s\n", in.Dataset)
	fmt.Fprintf(tw, "kind\t%s\n", in.Kind)
	fmt.Fprintf(tw, "source\t%s\n", in.Source)
	fmt.Fprintf(tw, "samples\t%d\n", in.Samples)
	fmt.Fprintf(tw, "identities\t%d\n", in.Identities)
	fmt.Fprintf(tw, "shards\t%d (%.1f MiB)\n", in.Shards, float64(in.Bytes)/(1<<20))
	fmt.Fprintf(tw, "quarantined\t%d\n", in.Quarantined)
	for _, key := range sortedKeys(in.Counts) {
		if key != "quarantined" {
			fmt.Fprintf(tw, "%s\t%d\n", key, in.Counts[key])
		}
	}
	p := in.PerIdentity
	fmt.Fprintf(tw, "photos per identity\tmin %d, median %d, mean %.1f, max %d\n", p.Min, p.Median, p.Mean, p.Max)
	if len(in.Stages) > 0 {
		fmt.Fprintf(tw, "stages\t%v\n", in.Stages)
	}
	if in.Verified {
		fmt.Fprintf(tw, "checksums\tverified\n")
	}
	fmt.Fprintln(tw, "\nphotos\tidentities")
	widest := 1
	for _, b := range in.Histogram {
		widest = max(widest, b.Identities)
	}
	for _, b := range in.Histogram {
		bar := make([]byte, (b.Identities*40+widest-1)/widest)
		for i := range bar {
			bar[i] = '#'
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", b.Bucket, b.Identities, bar)
	}
	return tw.Flush()
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
