package loader

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/facestream/facestream/internal/npy"
)

// ErrTruncated is returned when a stream ends without its end marker: the connection was cut or
// the server stopped. Resume with Start set to the position after the last batch received.
var ErrTruncated = errors.New("stream ended before its end marker")

// HTTPError is a request the server refused (bad parameter, auth, limit), with its JSON message.
type HTTPError struct {
	Code    int
	Message string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("server said %d: %s", e.Code, e.Message) }

// Client talks to a facestream server. It uses net/http: a response body is a plain io.Reader with
// chunked decoding and context cancellation built in, which is all a streaming reader needs, and
// it keeps the server's fasthttp out of the client's dependencies' hot path.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client of the server at baseURL (http://host:port); token may be empty.
func NewClient(baseURL, token string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: &http.Client{}}
}

func (c *Client) get(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		body.Error = resp.Status
	}
	return nil, fmt.Errorf("GET %s: %w", path, &HTTPError{Code: resp.StatusCode, Message: body.Error})
}

// Info returns the dataset summary and, when batch > 0, the plan of world ranks of batch images.
func (c *Client) Info(ctx context.Context, world, batch int, mode string) (*Info, error) {
	q := url.Values{}
	if batch > 0 {
		q.Set("world", strconv.Itoa(max(world, 1)))
		q.Set("batch", strconv.Itoa(batch))
	}
	if mode != "" {
		q.Set("mode", mode)
	}
	resp, err := c.get(ctx, "/v1/info", q)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var info Info
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, fmt.Errorf("read /v1/info: %w", err)
	}
	return &info, nil
}

// StreamParams select a stream (PROTOCOL.md). Zero Mode, Profile and Format take the server's defaults.
type StreamParams struct {
	Rank, World int // World 0 means 1
	Batch       int
	Epoch       int
	Start       int // position in the first epoch to resume from, a multiple of Batch
	Seed        uint64
	Mode        string
	Profile     string
	Format      string // "arrow" (default) or "npy"
	Epochs      int    // epochs to stream: 0 means 1, negative means endless
	Pad         bool
	P, K        int // pk mode
	EpochLen    int // weighted mode
}

func (p StreamParams) query() url.Values {
	q := url.Values{}
	q.Set("rank", strconv.Itoa(p.Rank))
	q.Set("world", strconv.Itoa(max(p.World, 1)))
	q.Set("batch", strconv.Itoa(p.Batch))
	q.Set("epoch", strconv.Itoa(p.Epoch))
	q.Set("start", strconv.Itoa(p.Start))
	q.Set("seed", strconv.FormatUint(p.Seed, 10))
	switch {
	case p.Epochs < 0:
		q.Set("epochs", "0")
	case p.Epochs > 0:
		q.Set("epochs", strconv.Itoa(p.Epochs))
	}
	for name, v := range map[string]string{"mode": p.Mode, "profile": p.Profile, "format": p.Format} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if p.Pad {
		q.Set("pad", "1")
	}
	for name, v := range map[string]int{"p": p.P, "k": p.K, "epoch_len": p.EpochLen} {
		if v > 0 {
			q.Set(name, strconv.Itoa(v))
		}
	}
	return q
}

// Batch is one training batch. Its slices stay valid until the next call to Next or Close.
type Batch struct {
	Images                  []byte // len(Labels)*Height*Width*Channels, NHWC uint8
	Height, Width, Channels int
	Labels                  []int32
	IDs                     []int64
	Pos                     []int64 // the rank's position of each image in its epoch
	Epoch                   int
}

// StreamReader reads the batches of one stream in order.
type StreamReader struct {
	body            io.ReadCloser
	tail            *tailReader
	batchesPerEpoch int
	batch           Batch
	next            func() error // reads the next batch into batch, io.EOF after the end marker
	release         func()       // frees the decoder's buffers, if it has any to free
}

// Stream opens a stream; the server's parameter errors come back as *HTTPError.
func (c *Client) Stream(ctx context.Context, p StreamParams) (*StreamReader, error) {
	resp, err := c.get(ctx, "/v1/stream", p.query())
	if err != nil {
		return nil, err
	}
	r := &StreamReader{body: resp.Body, tail: &tailReader{r: resp.Body}}
	ints := map[string]*int{
		"X-Facestream-Batches-Per-Epoch": &r.batchesPerEpoch, "X-Facestream-Height": &r.batch.Height,
		"X-Facestream-Width": &r.batch.Width, "X-Facestream-Channels": &r.batch.Channels,
	}
	for name, dst := range ints {
		if *dst, err = strconv.Atoi(resp.Header.Get(name)); err != nil || *dst <= 0 {
			resp.Body.Close()
			return nil, fmt.Errorf("stream: header %s=%q is not a positive integer", name, resp.Header.Get(name))
		}
	}
	switch ct := resp.Header.Get("Content-Type"); ct {
	case "application/octet-stream":
		r.next = newNPYDecoder(r, p).next
	case "application/vnd.apache.arrow.stream":
		if err := registerTensorType(); err != nil {
			resp.Body.Close()
			return nil, err
		}
		d := newArrowDecoder(r, memory.DefaultAllocator)
		r.next, r.release = d.next, d.release
	default:
		resp.Body.Close()
		return nil, fmt.Errorf("stream: unknown Content-Type %q", ct)
	}
	return r, nil
}

// BatchesPerEpoch is this rank's number of batches in every epoch.
func (r *StreamReader) BatchesPerEpoch() int { return r.batchesPerEpoch }

// Next returns the next batch; io.EOF after the stream's end marker, ErrTruncated (wrapped) when
// the stream was cut before it.
func (r *StreamReader) Next() (*Batch, error) {
	if err := r.next(); err != nil {
		return nil, err
	}
	return &r.batch, nil
}

// Close ends the stream; the server notices and frees it.
func (r *StreamReader) Close() error {
	if r.release != nil {
		r.release()
	}
	return r.body.Close()
}

// truncated classifies a read error: a cut connection is ErrTruncated, the rest stays itself.
func (r *StreamReader) truncated(err error) error {
	if r.tail.err != nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	return err
}

// tailReader remembers the last bytes read and the first transport error.
type tailReader struct {
	r    io.Reader
	last [8]byte
	err  error // first error other than io.EOF
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n >= len(t.last) {
		copy(t.last[:], p[n-len(t.last):n])
	} else if n > 0 {
		copy(t.last[:], t.last[n:])
		copy(t.last[len(t.last)-n:], p[:n])
	}
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// arrowEOS is the IPC end-of-stream marker: continuation token, zero length.
const arrowEOS = "\xff\xff\xff\xff\x00\x00\x00\x00"

type arrowDecoder struct {
	r    *StreamReader
	rdr  *ipc.Reader
	bufs *recycler // the IPC reader's allocator: record batch bodies reused from batch to batch
}

// newArrowDecoder reads batches with memory from mem (tests pass a checked allocator).
func newArrowDecoder(r *StreamReader, mem memory.Allocator) *arrowDecoder {
	return &arrowDecoder{r: r, bufs: newRecycler(mem)}
}

func (d *arrowDecoder) release() {
	if d.rdr != nil {
		d.rdr.Release()
		d.rdr = nil
	}
	d.bufs.drain()
}

func (d *arrowDecoder) next() error {
	if d.rdr == nil {
		rdr, err := ipc.NewReader(d.r.tail, ipc.WithAllocator(d.bufs))
		if err != nil {
			return d.r.truncated(fmt.Errorf("read arrow schema: %w", err))
		}
		if err := checkStreamSchema(rdr.Schema()); err != nil {
			rdr.Release()
			return err
		}
		d.rdr = rdr
	}
	if !d.rdr.Next() {
		err := d.rdr.Err()
		if err == nil && string(d.r.tail.last[:]) == arrowEOS {
			return io.EOF
		}
		if err == nil {
			err = errors.New("no end-of-stream marker")
		}
		return d.r.truncated(fmt.Errorf("read arrow record batch: %w", err))
	}
	rec := d.rdr.RecordBatch()
	b := &d.r.batch
	b.Images = rec.Column(0).(*TensorArray).Bytes()
	b.Labels = rec.Column(1).(*array.Int32).Int32Values()
	b.IDs = rec.Column(2).(*array.Int64).Int64Values()
	b.Pos = rec.Column(3).(*array.Int64).Int64Values()
	if epochs := rec.Column(4).(*array.Int32); epochs.Len() > 0 {
		b.Epoch = int(epochs.Value(0))
	}
	if want := len(b.Labels) * b.Height * b.Width * b.Channels; len(b.Images) != want {
		return fmt.Errorf("arrow batch of %d images has %d pixel bytes, want %d", len(b.Labels), len(b.Images), want)
	}
	return nil
}

// checkStreamSchema checks the columns this reader indexes by position.
func checkStreamSchema(s *arrow.Schema) error {
	want := []struct {
		name string
		id   arrow.Type
	}{{"image", arrow.EXTENSION}, {"label", arrow.INT32}, {"id", arrow.INT64}, {"pos", arrow.INT64}, {"epoch", arrow.INT32}}
	if s.NumFields() != len(want) {
		return fmt.Errorf("stream schema has %d fields, want %d: %s", s.NumFields(), len(want), s)
	}
	for i, w := range want {
		f := s.Field(i)
		if f.Name != w.name || f.Type.ID() != w.id {
			return fmt.Errorf("stream schema field %d is %s %s, want %s %s", i, f.Name, f.Type, w.name, w.id)
		}
	}
	if _, ok := s.Field(0).Type.(*TensorType); !ok {
		return fmt.Errorf("stream image column is %s, want %s", s.Field(0).Type, tensorExtensionName)
	}
	return nil
}

// npyDecoder reads NPY batches into buffers it reuses; positions follow from start and the plan.
type npyDecoder struct {
	r      *StreamReader
	in     *bufio.Reader
	header npy.Header
	dict   []byte
	images []byte
	labels []byte
	ids    []byte
	pos    []int64
	epoch  int
	at     int // position of the next image in its epoch
}

func newNPYDecoder(r *StreamReader, p StreamParams) *npyDecoder {
	return &npyDecoder{r: r, in: bufio.NewReaderSize(r.tail, chunkSize), epoch: p.Epoch, at: p.Start}
}

// readHeader reads the next array header into d.header.
func (d *npyDecoder) readHeader() error {
	var prelude [npy.Prelude]byte
	if _, err := io.ReadFull(d.in, prelude[:]); err != nil {
		return d.r.truncated(fmt.Errorf("read npy header: %w", err))
	}
	n, err := npy.HeaderLen(prelude[:])
	if err != nil {
		return err
	}
	d.dict = append(d.dict[:0], make([]byte, n)...)
	if _, err := io.ReadFull(d.in, d.dict); err != nil {
		return d.r.truncated(fmt.Errorf("read npy header: %w", err))
	}
	return npy.ParseDict(d.dict, &d.header)
}

// readArray reads a 1-D array of rows elements of descr into buf.
func (d *npyDecoder) readArray(buf []byte, descr string, rows, size int) ([]byte, error) {
	if err := d.readHeader(); err != nil {
		return nil, err
	}
	if d.header.Descr != descr || len(d.header.Shape) != 1 || d.header.Shape[0] != rows {
		return nil, fmt.Errorf("npy array %s %v, want %s (%d,)", d.header.Descr, d.header.Shape, descr, rows)
	}
	buf = append(buf[:0], make([]byte, rows*size)...)
	if _, err := io.ReadFull(d.in, buf); err != nil {
		return nil, d.r.truncated(fmt.Errorf("read npy %s array: %w", descr, err))
	}
	return buf, nil
}

func (d *npyDecoder) next() error {
	if err := d.readHeader(); err != nil {
		return err
	}
	h, b := &d.header, &d.r.batch
	if len(h.Shape) == 1 && h.Descr == npy.DescrInt64 && h.Shape[0] == 2 {
		var end [16]byte
		if _, err := io.ReadFull(d.in, end[:]); err != nil {
			return d.r.truncated(fmt.Errorf("read npy end marker: %w", err))
		}
		return io.EOF
	}
	if h.Descr != npy.DescrUint8 || len(h.Shape) != 4 || h.Shape[1] != b.Height || h.Shape[2] != b.Width || h.Shape[3] != b.Channels {
		return fmt.Errorf("npy images %s %v, want %s (B, %d, %d, %d)", h.Descr, h.Shape, npy.DescrUint8, b.Height, b.Width, b.Channels)
	}
	const maxImagesBytes = 1 << 34
	size, err := h.Elements(maxImagesBytes)
	if err != nil {
		return err
	}
	rows := h.Shape[0]
	d.images = append(d.images[:0], make([]byte, size)...)
	if _, err := io.ReadFull(d.in, d.images); err != nil {
		return d.r.truncated(fmt.Errorf("read npy images: %w", err))
	}
	if d.labels, err = d.readArray(d.labels, npy.DescrInt32, rows, 4); err != nil {
		return err
	}
	if d.ids, err = d.readArray(d.ids, npy.DescrInt64, rows, 8); err != nil {
		return err
	}
	perEpoch := d.r.batchesPerEpoch * rows
	if d.at >= perEpoch {
		d.epoch, d.at = d.epoch+1, 0
	}
	d.pos = d.pos[:0]
	for i := range rows {
		d.pos = append(d.pos, int64(d.at+i))
	}
	b.Epoch = d.epoch
	d.at += rows
	b.Images = d.images
	b.Labels = arrow.Int32Traits.CastFromBytes(d.labels)
	b.IDs = arrow.Int64Traits.CastFromBytes(d.ids)
	b.Pos = d.pos
	return nil
}
