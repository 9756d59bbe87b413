// Package embed computes face embeddings of encoded images with an ONNX model on ONNX Runtime:
// Go workers decode and normalise one batch while ONNX Runtime runs the previous one.
package embed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"
	"golang.org/x/sync/errgroup"

	"github.com/facestream/facestream/arrowio"
	"github.com/facestream/facestream/augment"
)

// Options configure an Embedder; zero values take the defaults.
type Options struct {
	Model   string     // .onnx path
	Library string     // ONNX Runtime shared library ("" → LibraryPath(""))
	Batch   int        // inference batch (default 64; a model with a fixed batch axis uses its own)
	Mean    [3]float32 // per model channel, in the model's channel order: input = (pixel − mean) / std
	Std     [3]float32 // per model channel; Mean and Std both zero (unset) → 127.5 and 127.5
	BGR     bool       // the model expects blue, green, red channel order
	Threads int        // ORT intra-op threads (default: every core; they do not spin, so decode workers interleave)
	Workers int        // Go decode workers (default: 1 on ≤ 2 cores, else cores/4)
}

// DefaultBatch is the inference batch when Options.Batch is zero.
const DefaultBatch = 64

// withDefaults fills zero fields. ONNX Runtime gets every core, not the cores the decode workers
// leave: decoding costs a fraction of inference (0.16 against 0.64 CPU-ms per image with the shipped
// pre-model), its workers fill the gaps of ORT threads that sleep rather than spin, and on 2 cores
// this ran 25–35 % faster than one ORT thread beside one worker (a few % slower when the machine
// was saturated by other work).
func (o Options) withDefaults() Options {
	cores := runtime.GOMAXPROCS(0)
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Mean == [3]float32{} && o.Std == [3]float32{} { // a zero mean alone is real: x/255 models
		o.Mean, o.Std = [3]float32{127.5, 127.5, 127.5}, [3]float32{127.5, 127.5, 127.5}
	}
	if o.Workers <= 0 {
		o.Workers = max(1, cores/4)
	}
	if o.Threads <= 0 {
		o.Threads = cores
	}
	return o
}

// Embedder embeds images with one ONNX Runtime session. Embed calls are serialised.
type Embedder struct {
	opts        Options
	sig         signature
	fingerprint string
	session     *ort.DynamicAdvancedSession
	lut         [3][256]float32 // model channel c: pixel value → network input
	source      [3]int          // model channel c reads RGB channel source[c]

	mu       sync.Mutex // guards slots, decoders and closed across Embed and Close
	slots    [2]*slot   // one filled by the workers while ONNX Runtime runs the other
	decoders []decoder  // one per worker goroutine, kept across calls
	closed   bool
}

// decoder is one worker goroutine's image pipeline and its decoded-pixels buffer.
type decoder struct {
	worker *augment.Worker
	pixels []byte
}

// slot is one batch's input and output memory and the ORT tensors over it.
type slot struct {
	input, output []float32
	in, out       *ort.Tensor[float32] // over the whole of input and output
	values        [2][]ort.Value       // {in}, {out}, made once: Run takes slices
	start, count  int                  // the images the slot holds now
	remaining     atomic.Int32         // images still being decoded into it
}

// Open loads the model and checks that it can embed RGB images.
func Open(opts Options) (*Embedder, error) {
	opts = opts.withDefaults()
	for c := range 3 {
		if !finite(opts.Mean[c]) || !finite(opts.Std[c]) || opts.Std[c] == 0 {
			return nil, fmt.Errorf("embedder: mean %v, std %v: every channel needs a finite mean and a finite non-zero std", opts.Mean, opts.Std)
		}
	}
	model, err := arrowio.HashFile(opts.Model)
	if err != nil {
		return nil, fmt.Errorf("embedder model: %w", err)
	}
	if opts.Library, err = LibraryPath(opts.Library); err != nil {
		return nil, err
	}
	profile, err := augment.BuiltinProfile("none")
	if err != nil {
		return nil, fmt.Errorf("embedder: %w", err)
	}
	if err := acquireEnvironment(opts.Library); err != nil {
		return nil, err
	}
	e := &Embedder{opts: opts, fingerprint: model.SHA256}
	if err := e.load(profile); err != nil {
		return nil, errors.Join(fmt.Errorf("model %s: %w", opts.Model, err), e.release())
	}
	return e, nil
}

// load reads the model's signature, creates the session and the batch memory.
func (e *Embedder) load(profile *augment.Profile) error {
	inputs, outputs, err := ort.GetInputOutputInfo(e.opts.Model)
	if err != nil {
		return fmt.Errorf("read inputs and outputs: %w", err)
	}
	if e.sig, err = readSignature(inputs, outputs); err != nil {
		return err
	}
	if e.sig.batch > 0 {
		e.opts.Batch = e.sig.batch
	}
	for c := range 3 {
		e.source[c] = c
		if e.opts.BGR {
			e.source[c] = 2 - c
		}
		for v := range 256 {
			e.lut[c][v] = (float32(v) - e.opts.Mean[c]) / e.opts.Std[c]
		}
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return fmt.Errorf("session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(e.opts.Threads); err != nil {
		return fmt.Errorf("set %d ORT threads: %w", e.opts.Threads, err)
	}
	// Pool threads that spin-wait between parallel sections take the cores the decode workers
	// need; measured here on 2 shared cores, two spinning threads ran at half the rate of one.
	// (Spinning is ORT's default; BenchmarkORTAlone compares with this session, the same options.)
	if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return fmt.Errorf("turn off ORT thread spinning: %w", err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return fmt.Errorf("set ORT inter-op threads: %w", err)
	}
	e.session, err = ort.NewDynamicAdvancedSession(e.opts.Model, []string{e.sig.input}, []string{e.sig.output}, so)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if e.sig.dim == 0 {
		if e.sig.dim, err = e.probeWidth(); err != nil {
			return err
		}
	}
	for k := range e.slots {
		if e.slots[k], err = e.newSlot(e.opts.Batch); err != nil {
			return err
		}
	}
	e.decoders = make([]decoder, e.opts.Workers)
	for k := range e.decoders {
		e.decoders[k] = decoder{augment.NewWorker(profile, e.sig.height, e.sig.width), make([]byte, e.imageFloats())}
	}
	return nil
}

// probeWidth learns a dynamic embedding width (many exported models declare [-1,-1]) from one run
// on blank images, with an output ONNX Runtime allocates.
func (e *Embedder) probeWidth() (int, error) {
	batch := max(1, e.sig.batch)
	in, err := ort.NewTensor(e.inputShape(batch), make([]float32, batch*e.imageFloats()))
	if err != nil {
		return 0, fmt.Errorf("probe input tensor: %w", err)
	}
	defer in.Destroy()
	outputs := []ort.Value{nil}
	if err := e.session.Run([]ort.Value{in}, outputs); err != nil {
		return 0, fmt.Errorf("probe run to learn the embedding width of output %q: %w", e.sig.output, err)
	}
	defer outputs[0].Destroy()
	shape := outputs[0].GetShape()
	dim, err := embeddingWidth(e.sig.output, shape)
	switch {
	case err != nil:
		return 0, fmt.Errorf("probe run: %w", err)
	case shape[0] != int64(batch) || dim == 0:
		return 0, fmt.Errorf("probe run: output %q has shape %v for a batch of %d, want [%d,D]", e.sig.output, shape, batch, batch)
	}
	return dim, nil
}

func (e *Embedder) newSlot(batch int) (*slot, error) {
	s := &slot{input: make([]float32, batch*e.imageFloats()), output: make([]float32, batch*e.sig.dim)}
	var err error
	if s.in, err = ort.NewTensor(e.inputShape(batch), s.input); err != nil {
		return nil, fmt.Errorf("input tensor: %w", err)
	}
	if s.out, err = ort.NewTensor(ort.NewShape(int64(batch), int64(e.sig.dim)), s.output); err != nil {
		return nil, errors.Join(fmt.Errorf("output tensor: %w", err), s.in.Destroy())
	}
	s.values = [2][]ort.Value{{s.in}, {s.out}}
	return s, nil
}

func (e *Embedder) imageFloats() int { return e.sig.height * e.sig.width * 3 }

func (e *Embedder) inputShape(batch int) ort.Shape {
	h, w := int64(e.sig.height), int64(e.sig.width)
	if e.sig.layout == nhwc {
		return ort.NewShape(int64(batch), h, w, 3)
	}
	return ort.NewShape(int64(batch), 3, h, w)
}

// Dim is the embedding width.
func (e *Embedder) Dim() int { return e.sig.dim }

// InputSize is the image size the model takes.
func (e *Embedder) InputSize() (height, width int) { return e.sig.height, e.sig.width }

// Batch is the inference batch in use.
func (e *Embedder) Batch() int { return e.opts.Batch }

// Fingerprint is the sha256 of the model file, in hex.
func (e *Embedder) Fingerprint() string { return e.fingerprint }

// String describes the model and the set-up, for logs.
func (e *Embedder) String() string {
	return fmt.Sprintf("%s: %s input %q %dx%d, %d-d output %q, batch %d, %d decode workers, %d ORT threads",
		e.opts.Model, e.sig.layout, e.sig.input, e.sig.height, e.sig.width, e.sig.dim, e.sig.output,
		e.opts.Batch, e.opts.Workers, e.opts.Threads)
}

// Embed embeds n encoded images (image(i) returns the encoded bytes of image i; it is called from
// several goroutines) into out (n*Dim float32, L2-normalised rows; a model output of all zeros stays
// zero). Workers decode and normalise batch k+1 while ONNX Runtime runs batch k. progress(done) is
// called from one goroutine as batches complete (may be nil). An image that does not decode stops
// the call with an error naming its index.
func (e *Embedder) Embed(n int, image func(i int) []byte, out []float32, progress func(done int)) error {
	return e.embed(n, decodeWith(image), out, progress, nil)
}

// Skipped is an image EmbedOrSkip could not decode; its output row is zero.
type Skipped struct {
	Index int
	Err   error
}

// EmbedOrSkip is Embed for photos that may not decode (a dataset imported without --verify
// checks headers only): such a photo gets a zero row instead of stopping the call, and is
// listed, in index order.
func (e *Embedder) EmbedOrSkip(n int, image func(i int) []byte, out []float32, progress func(done int)) ([]Skipped, error) {
	var mu sync.Mutex
	var skipped []Skipped
	err := e.embed(n, decodeWith(image), out, progress, func(i int, err error) {
		mu.Lock()
		skipped = append(skipped, Skipped{i, err})
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(skipped, func(a, b Skipped) int { return cmp.Compare(a.Index, b.Index) })
	for _, s := range skipped {
		clear(out[s.Index*e.sig.dim : (s.Index+1)*e.sig.dim])
	}
	return skipped, nil
}

// decodeWith decodes image(i) at the model's input size with a worker's decoder.
func decodeWith(image func(i int) []byte) func(d *decoder, i int) ([]byte, error) {
	return func(d *decoder, i int) ([]byte, error) {
		if err := d.worker.Process(image(i), 0, 0, int64(i), d.pixels); err != nil {
			return nil, err
		}
		return d.pixels, nil
	}
}

// EmbedRGB is Embed for images already decoded at the model's input size: rgb(i) returns
// height*width*3 bytes of RGB in rows (NHWC, as augment.Worker.Process writes them). It skips the
// decode, for images a stage made itself (S3's candidates) before it encodes them.
func (e *Embedder) EmbedRGB(n int, rgb func(i int) []byte, out []float32, progress func(done int)) error {
	return e.embed(n, func(_ *decoder, i int) ([]byte, error) {
		p := rgb(i)
		if len(p) != e.imageFloats() {
			return nil, fmt.Errorf("%d bytes of pixels, want %d (%dx%d RGB)", len(p), e.imageFloats(), e.sig.height, e.sig.width)
		}
		return p, nil
	}, out, progress, nil)
}

// embed runs the pipeline; pixels(d, i) gives image i's RGB pixels, using worker d's decoder and
// buffer if it needs them. An image pixels fails on stops the call, or with skip, is reported to
// skip (from any worker goroutine) and runs as a blank input.
func (e *Embedder) embed(n int, pixels func(d *decoder, i int) ([]byte, error), out []float32, progress func(done int),
	skip func(i int, err error)) error {
	if len(out) < n*e.sig.dim {
		return fmt.Errorf("embed %d images: output has %d floats, want %d (%d per image)", n, len(out), n*e.sig.dim, e.sig.dim)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("embed: embedder is closed")
	}
	if n <= 0 {
		return nil
	}
	g, ctx := errgroup.WithContext(context.Background())
	type job struct {
		slot *slot
		row  int
	}
	jobs := make(chan job, e.opts.Batch)
	free := make(chan *slot, len(e.slots))
	filled := make(chan *slot, len(e.slots))
	for _, s := range e.slots {
		free <- s
	}
	batches := (n + e.opts.Batch - 1) / e.opts.Batch

	// The dispatcher hands out a slot's images once ONNX Runtime has given the slot back.
	g.Go(func() error {
		defer close(jobs)
		for k := range batches {
			var s *slot
			select {
			case s = <-free:
			case <-ctx.Done():
				return nil
			}
			s.start, s.count = k*e.opts.Batch, min(e.opts.Batch, n-k*e.opts.Batch)
			s.remaining.Store(int32(s.count))
			for row := range s.count {
				select {
				case jobs <- job{s, row}:
				case <-ctx.Done():
					return nil
				}
			}
		}
		return nil
	})
	for k := range e.decoders {
		d := &e.decoders[k]
		g.Go(func() error {
			for j := range jobs {
				if ctx.Err() != nil {
					continue // drain: another goroutine failed
				}
				i := j.slot.start + j.row
				input := j.slot.input[j.row*e.imageFloats() : (j.row+1)*e.imageFloats()]
				switch rgb, err := pixels(d, i); {
				case err == nil:
					e.fill(input, rgb)
				case skip != nil:
					skip(i, err)
					clear(input)
				default:
					return fmt.Errorf("embed image %d: %w", i, err)
				}
				if j.slot.remaining.Add(-1) == 0 {
					filled <- j.slot // never blocks: it has room for every slot
				}
			}
			return nil
		})
	}
	// Inference takes batches as they fill; they may complete out of order, each knows its place.
	g.Go(func() error {
		done := 0
		for range batches {
			var s *slot
			select {
			case s = <-filled:
			case <-ctx.Done():
				return nil
			}
			if err := e.run(s); err != nil {
				return fmt.Errorf("embed images %d–%d: %w", s.start, s.start+s.count-1, err)
			}
			for row := range s.count {
				normalize(out[(s.start+row)*e.sig.dim:(s.start+row+1)*e.sig.dim], s.output[row*e.sig.dim:(row+1)*e.sig.dim])
			}
			done += s.count
			if progress != nil {
				progress(done)
			}
			free <- s
		}
		return nil
	})
	return g.Wait()
}

// fill writes one decoded RGB image into its place in the input tensor, normalised and in the
// model's channel order and layout.
func (e *Embedder) fill(dst []float32, pixels []byte) {
	if e.sig.layout == nhwc {
		l0, l1, l2 := &e.lut[0], &e.lut[1], &e.lut[2]
		s0, s1, s2 := e.source[0], e.source[1], e.source[2]
		for i := 0; i+2 < len(pixels); i += 3 {
			dst[i], dst[i+1], dst[i+2] = l0[pixels[i+s0]], l1[pixels[i+s1]], l2[pixels[i+s2]]
		}
		return
	}
	plane := len(pixels) / 3
	for c := range 3 {
		lut, src, out := &e.lut[c], pixels[e.source[c]:], dst[c*plane:(c+1)*plane]
		for i := range out {
			out[i] = lut[src[3*i]]
		}
	}
}

// run runs the model on the slot's images. A dynamic-batch model runs a short last batch as it is;
// a fixed-batch model runs the whole tensor and the rows past count are ignored.
func (e *Embedder) run(s *slot) error {
	if s.count == e.opts.Batch || e.sig.batch > 0 {
		return e.session.Run(s.values[0], s.values[1])
	}
	in, err := ort.NewTensor(e.inputShape(s.count), s.input)
	if err != nil {
		return fmt.Errorf("input tensor: %w", err)
	}
	defer in.Destroy()
	out, err := ort.NewTensor(ort.NewShape(int64(s.count), int64(e.sig.dim)), s.output)
	if err != nil {
		return fmt.Errorf("output tensor: %w", err)
	}
	defer out.Destroy()
	return e.session.Run([]ort.Value{in}, []ort.Value{out})
}

// normalize writes v / ‖v‖ into dst; a zero vector stays zero.
func normalize(dst, v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	scale := float32(0)
	if sum > 0 {
		scale = float32(1 / math.Sqrt(sum))
	}
	for i, x := range v {
		dst[i] = x * scale
	}
}

// Close frees the session and the batch memory; the last embedder to close unloads ONNX Runtime.
func (e *Embedder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	return e.release()
}

// release frees what load made, whatever it got to, and drops the environment reference.
func (e *Embedder) release() error {
	var errs []error
	for _, s := range e.slots {
		if s != nil {
			errs = append(errs, s.in.Destroy(), s.out.Destroy())
		}
	}
	if e.session != nil {
		errs = append(errs, e.session.Destroy())
	}
	errs = append(errs, releaseEnvironment())
	return errors.Join(errs...)
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
