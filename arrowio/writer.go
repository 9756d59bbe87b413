package arrowio

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultShardBytes is the size at which the writer starts a new shard.
const DefaultShardBytes = 256 << 20

// A record batch is cut at whichever comes first; small batches keep the writer's memory bounded.
const (
	batchRows  = 4096
	batchBytes = 16 << 20
)

// WriterOptions configure Create.
type WriterOptions struct {
	Kind        string // KindRaw or KindEqualized
	Source      string // where the data came from, for people reading the manifest
	Force       bool   // replace a dataset already in the folder
	ShardBytes  int64  // 0: DefaultShardBytes
	ImageHeight int    // size hint for readers; 0 when unknown
	ImageWidth  int
	Mem         memory.Allocator // nil: memory.DefaultAllocator
}

// Writer writes a dataset folder: shards as they fill, then classes.arrow, then dataset.json.
// Replacing a dataset, it writes into a staging folder inside dir and swaps the new files in only
// once they are complete: a failed replacement leaves the old dataset as it was.
type Writer struct {
	dir      string
	root     string // where files are written now: dir, or its staging folder when replacing
	opts     WriterOptions
	mem      memory.Allocator
	manifest Manifest
	perLabel []int32

	builder    *array.RecordBuilder
	batchN     int
	batchBytes int

	shard      *atomicFile
	shardIPC   *ipc.FileWriter
	shardRows  int64
	shardIndex int
	lastID     int64
	done       bool
	failed     error // the first write error: the rows held may be lost, so nothing more is taken
}

// ClearedNames are the files and folders of a dataset folder that Create deletes first.
func ClearedNames() []string { return []string{"shards", "classes.arrow", "embeddings", "report"} }

// stagingName is the folder inside a dataset folder where a replacement is written.
const stagingName = ".facestream-replacing"

// Create starts a dataset in dir. It refuses a folder that already holds a dataset unless
// opts.Force is set; the old dataset then stays whole until Finish swaps the new one in.
func Create(dir string, opts WriterOptions) (*Writer, error) {
	if err := CheckLocal(dir); err != nil {
		return nil, err
	}
	if opts.Kind != KindRaw && opts.Kind != KindEqualized {
		return nil, fmt.Errorf("create dataset %s: unknown kind %q", dir, opts.Kind)
	}
	if opts.ShardBytes <= 0 {
		opts.ShardBytes = DefaultShardBytes
	}
	mem := opts.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	root := dir
	staging := filepath.Join(dir, stagingName)
	if err := os.RemoveAll(staging); err != nil { // what a crashed replacement left
		return nil, fmt.Errorf("clear %s: %w", staging, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestName)); err == nil {
		if !opts.Force {
			return nil, fmt.Errorf("create dataset %s: the folder already holds a dataset (use --force to replace it)", dir)
		}
		root = staging
	} else {
		// Whatever a crashed writer left is no dataset without its manifest; clear it.
		if err := clearDataset(dir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "shards"), 0o755); err != nil {
		return nil, fmt.Errorf("create dataset %s: %w", dir, err)
	}
	return &Writer{
		dir:  dir,
		root: root,
		opts: opts,
		mem:  mem,
		manifest: Manifest{
			FormatVersion: FormatVersion,
			Kind:          opts.Kind,
			Source:        opts.Source,
			ImageHeight:   opts.ImageHeight,
			ImageWidth:    opts.ImageWidth,
			Counts:        map[string]int64{},
			Stages:        map[string]Stage{},
		},
		lastID: math.MinInt64,
	}, nil
}

// Dir is the dataset folder.
func (w *Writer) Dir() string { return w.dir }

// SetStage records a stage's parameters and fingerprint in the manifest.
func (w *Writer) SetStage(name string, st Stage) { w.manifest.Stages[name] = st }

// SetImageSize records the size hint when it is only known once the images were seen.
func (w *Writer) SetImageSize(height, width int) {
	w.manifest.ImageHeight, w.manifest.ImageWidth = height, width
}

// SetCount records an extra count in the manifest (quarantined, duplicates...).
func (w *Writer) SetCount(key string, n int64) { w.manifest.Counts[key] = n }

// WriteFile writes an extra file (a report, embeddings) atomically under the dataset folder.
func (w *Writer) WriteFile(rel string, data []byte) error {
	path, err := w.Path(rel)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data)
}

// Path is where an extra file rel of the dataset is to be written now (inside the staging folder
// while a replacement is written): Finish puts it in its place.
func (w *Writer) Path(rel string) (string, error) {
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("write %q: path escapes the dataset folder", rel)
	}
	return filepath.Join(w.root, rel), nil
}

// Append adds one sample. Ids must increase strictly so a reader can index them.
func (w *Writer) Append(s *Sample) error {
	if w.done {
		return errors.New("append: writer already finished")
	}
	if w.failed != nil {
		return fmt.Errorf("append: an earlier write failed: %w", w.failed)
	}
	if s.ID <= w.lastID {
		return fmt.Errorf("append sample %d: ids must increase (last %d)", s.ID, w.lastID)
	}
	if s.Label < 0 {
		return fmt.Errorf("append sample %d: negative label %d", s.ID, s.Label)
	}
	if w.builder == nil {
		w.builder = array.NewRecordBuilder(w.mem, Schema())
	}
	appendSample(w.builder, s)
	w.lastID = s.ID
	for int(s.Label) >= len(w.perLabel) {
		w.perLabel = append(w.perLabel, 0)
	}
	w.perLabel[s.Label]++
	w.batchN++
	w.batchBytes += len(s.Image) + len(s.Source) + len(s.Recipe) + 40
	if w.batchN >= batchRows || w.batchBytes >= batchBytes {
		if err := w.flushBatch(); err != nil {
			w.failed = err
			return err
		}
	}
	return nil
}

func (w *Writer) flushBatch() error {
	if w.batchN == 0 {
		return nil
	}
	rec := w.builder.NewRecordBatch()
	defer rec.Release()
	if w.shard == nil {
		if err := w.openShard(); err != nil {
			return err
		}
	}
	if err := w.shardIPC.Write(rec); err != nil {
		return fmt.Errorf("write shard %s: %w", w.shard.final, err)
	}
	w.shardRows += rec.NumRows()
	w.manifest.Samples += rec.NumRows()
	w.batchN, w.batchBytes = 0, 0
	if w.shard.n >= w.opts.ShardBytes {
		return w.closeShard()
	}
	return nil
}

func (w *Writer) shardName(i int) string {
	return filepath.Join("shards", fmt.Sprintf("part-%05d.arrow", i))
}

func (w *Writer) openShard() error {
	f, err := createTemp(filepath.Join(w.root, w.shardName(w.shardIndex)))
	if err != nil {
		return err
	}
	fw, err := ipc.NewFileWriter(f, ipc.WithSchema(Schema()), ipc.WithAllocator(w.mem))
	if err != nil {
		f.abort()
		return fmt.Errorf("start shard %s: %w", f.final, err)
	}
	w.shard, w.shardIPC, w.shardRows = f, fw, 0
	return nil
}

func (w *Writer) closeShard() error {
	if err := w.shardIPC.Close(); err != nil {
		w.shard.abort()
		return fmt.Errorf("finish shard %s: %w", w.shard.final, err)
	}
	info, err := w.shard.commit()
	if err != nil {
		return err
	}
	info.File, info.Rows = w.shardName(w.shardIndex), w.shardRows
	w.manifest.Shards = append(w.manifest.Shards, info)
	w.shard, w.shardIPC = nil, nil
	w.shardIndex++
	return nil
}

// Finish writes the last shard, classes.arrow and, last of all, dataset.json. classes must list
// labels 0..C-1 in order and cover every label appended; Count is filled from the rows written.
func (w *Writer) Finish(classes []Class) (*Manifest, error) {
	if w.done {
		return nil, errors.New("finish: writer already finished")
	}
	if w.failed != nil {
		w.Abort()
		return nil, fmt.Errorf("finish dataset %s: an earlier write failed: %w", w.dir, w.failed)
	}
	if len(classes) < len(w.perLabel) {
		w.Abort()
		return nil, fmt.Errorf("finish dataset %s: samples use label %d but only %d classes given", w.dir, len(w.perLabel)-1, len(classes))
	}
	for i := range classes {
		if classes[i].Label != int32(i) {
			w.Abort()
			return nil, fmt.Errorf("finish dataset %s: class %d has label %d; labels must be 0..C-1 in order", w.dir, i, classes[i].Label)
		}
		classes[i].Count = 0
		if i < len(w.perLabel) {
			classes[i].Count = w.perLabel[i]
		}
	}
	if err := w.flushBatch(); err != nil {
		w.Abort()
		return nil, err
	}
	if w.shard != nil {
		if err := w.closeShard(); err != nil {
			w.Abort()
			return nil, err
		}
	}
	info, err := writeClasses(filepath.Join(w.root, "classes.arrow"), classes, w.mem)
	if err != nil {
		w.Abort()
		return nil, err
	}
	info.File, info.Rows = "classes.arrow", int64(len(classes))
	w.manifest.Classes = info
	w.manifest.Identities = len(classes)
	w.manifest.Created = time.Now().UTC().Truncate(time.Second)
	data, err := marshalManifest(&w.manifest)
	if err != nil {
		w.Abort()
		return nil, err
	}
	if w.root != w.dir {
		if err := w.swapIn(); err != nil {
			w.Abort()
			return nil, err
		}
	}
	if err := WriteFileAtomic(filepath.Join(w.dir, ManifestName), data); err != nil {
		w.Abort()
		return nil, err
	}
	w.release()
	w.done = true
	return &w.manifest, nil
}

// swapIn replaces the old dataset's files with the complete new ones of the staging folder: the
// old manifest goes first, so no reader ever accepts a mix; the new one is written after.
func (w *Writer) swapIn() error {
	if err := os.Remove(filepath.Join(w.dir, ManifestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace dataset %s: %w", w.dir, err)
	}
	if err := clearDataset(w.dir); err != nil {
		return err
	}
	staged, err := os.ReadDir(w.root)
	if err != nil {
		return fmt.Errorf("replace dataset %s: %w", w.dir, err)
	}
	for _, e := range staged { // the data files, and every extra file written through the writer
		if err := os.RemoveAll(filepath.Join(w.dir, e.Name())); err != nil {
			return fmt.Errorf("replace dataset %s: %w", w.dir, err)
		}
		if err := os.Rename(filepath.Join(w.root, e.Name()), filepath.Join(w.dir, e.Name())); err != nil {
			return fmt.Errorf("replace dataset %s: %w", w.dir, err)
		}
	}
	if err := os.RemoveAll(w.root); err != nil {
		return fmt.Errorf("replace dataset %s: %w", w.dir, err)
	}
	w.root = w.dir
	return nil
}

// clearDataset removes a dataset folder's data files (not its manifest, nor other files).
func clearDataset(dir string) error {
	for _, name := range ClearedNames() {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("clear %s: %w", filepath.Join(dir, name), err)
		}
	}
	return nil
}

// Abort discards an unfinished dataset: without a manifest no reader accepts what was written; a
// replacement's staging folder goes, and the dataset it was to replace stays.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.shard != nil {
		_ = w.shardIPC.Close() // the shard is discarded below
		w.shard.abort()
		w.shard = nil
	}
	w.release()
	discard := filepath.Join(w.root, "shards")
	if w.root != w.dir {
		discard = w.root
	}
	if err := os.RemoveAll(discard); err != nil {
		return fmt.Errorf("abort dataset %s: %w", w.dir, err)
	}
	return nil
}

func (w *Writer) release() {
	if w.builder != nil {
		w.builder.Release()
		w.builder = nil
	}
}

func writeClasses(path string, classes []Class, mem memory.Allocator) (FileInfo, error) {
	b := array.NewRecordBuilder(mem, ClassSchema())
	defer b.Release()
	for _, c := range classes {
		b.Field(0).(*array.Int32Builder).Append(c.Label)
		b.Field(1).(*array.StringBuilder).Append(c.Identity)
		b.Field(2).(*array.Int32Builder).Append(c.Count)
		b.Field(3).(*array.Int32Builder).Append(c.RawCount)
		b.Field(4).(*array.Int32Builder).Append(c.CleanCount)
		b.Field(5).(*array.Int32Builder).Append(c.AugCount)
		b.Field(6).(*array.Int32Builder).Append(c.Quota)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := createTemp(path)
	if err != nil {
		return FileInfo{}, err
	}
	fw, err := ipc.NewFileWriter(f, ipc.WithSchema(ClassSchema()), ipc.WithAllocator(mem))
	if err != nil {
		f.abort()
		return FileInfo{}, fmt.Errorf("write %s: %w", path, err)
	}
	if err := fw.Write(rec); err != nil {
		f.abort()
		return FileInfo{}, fmt.Errorf("write %s: %w", path, err)
	}
	if err := fw.Close(); err != nil {
		f.abort()
		return FileInfo{}, fmt.Errorf("write %s: %w", path, err)
	}
	return f.commit()
}
