package loader

import (
	"sync"
	"sync/atomic"

	"github.com/facestream/facestream/augment"
)

// slot is one reusable batch buffer of a stream: the wire columns, the rows to decode into it,
// and the count of images still being made.
type slot struct {
	batchData
	rows    []int32
	epoch   int
	claimed int // images handed to workers; guarded by pool.mu

	remaining atomic.Int32
	err       atomic.Pointer[error] // first image that could not be made
	done      chan struct{}         // receives once when the last image is made
}

func newSlot(batch, imageBytes int) *slot {
	return &slot{
		batchData: batchData{
			images: make([]byte, batch*imageBytes),
			labels: make([]int32, batch),
			ids:    make([]int64, batch),
			pos:    make([]int64, batch),
			epochs: make([]int32, batch),
		},
		rows: make([]int32, batch),
		done: make(chan struct{}, 1),
	}
}

func (b *slot) fail(err error) { b.err.CompareAndSwap(nil, &err) }

// task is one image of one slot of one stream.
type task struct {
	s *stream
	b *slot
	i int
}

// pool is the server's workers. Streams queue slots; workers take one image at a time from the
// streams in turn, so a stream with a large batch cannot starve the others.
type pool struct {
	mu     sync.Mutex
	wake   *sync.Cond
	ready  []*workQueue // queues with unclaimed images, in turn
	next   int          // the queue whose turn it is
	closed bool
	wg     sync.WaitGroup
}

// workQueue is one stream's slots waiting for the workers. It is the pool's state, which a stream
// only holds: the pool reads and writes it under pool.mu, nothing else touches it.
type workQueue struct {
	s      *stream
	slots  []*slot
	listed bool // in pool.ready
}

// newPool starts n workers; each makes images with its own augment.Worker per profile.
func newPool(n, height, width int, maxPixels int64) *pool {
	p := &pool{}
	p.wake = sync.NewCond(&p.mu)
	p.wg.Add(n)
	for range n {
		go p.work(height, width, maxPixels)
	}
	return p
}

func (p *pool) work(height, width int, maxPixels int64) {
	defer p.wg.Done()
	ws := &workerSet{height: height, width: width, maxPixels: maxPixels, byProfile: make(map[*augment.Profile]*augment.Worker)}
	for {
		t, ok := p.claim()
		if !ok {
			return
		}
		t.s.produce(ws, t.b, t.i)
		if t.b.remaining.Add(-1) == 0 {
			t.b.done <- struct{}{}
		}
		t.s.inflight.Done()
	}
}

// workerSet is one pool goroutine's augment workers, one per profile in use.
type workerSet struct {
	height, width int
	maxPixels     int64
	byProfile     map[*augment.Profile]*augment.Worker
}

func (ws *workerSet) get(p *augment.Profile) *augment.Worker {
	w := ws.byProfile[p]
	if w == nil {
		w = augment.NewWorker(p, ws.height, ws.width)
		w.SetMaxPixels(ws.maxPixels)
		ws.byProfile[p] = w
	}
	return w
}

// discard drops p's worker after a failed image: a decoder that failed may keep state (a
// TurboJPEG handle does), and the next image must depend on (photo, seed, epoch, pos) only.
func (ws *workerSet) discard(p *augment.Profile) { delete(ws.byProfile, p) }

// imageJob is one image a worker makes: the worker set and profile that make it, what its
// augmentation depends on (seed, epoch, pos), and where it goes.
type imageJob struct {
	ws      *workerSet
	profile *augment.Profile
	seed    uint64
	epoch   int
	pos     int64
	dst     []byte
}

// make decodes and augments photo into the job's destination.
func (j *imageJob) make(photo []byte) error {
	return j.ws.get(j.profile).Process(photo, j.seed, j.epoch, j.pos, j.dst)
}

// discardWorker drops the job's worker after a failure (see workerSet.discard).
func (j *imageJob) discardWorker() { j.ws.discard(j.profile) }

// claim waits for an image to make and takes it from the stream whose turn it is.
func (p *pool) claim() (task, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.ready) == 0 && !p.closed {
		p.wake.Wait()
	}
	if p.closed {
		return task{}, false
	}
	if p.next >= len(p.ready) {
		p.next = 0
	}
	q := p.ready[p.next]
	b := q.slots[0]
	t := task{s: q.s, b: b, i: b.claimed}
	b.claimed++
	q.s.inflight.Add(1)
	if b.claimed < len(b.labels) {
		p.next++
		return t, true
	}
	q.slots = append(q.slots[:0], q.slots[1:]...)
	if len(q.slots) > 0 {
		p.next++
		return t, true
	}
	p.unlist(p.next)
	return t, true
}

// unlist removes ready[i]; the stream after it takes its turn next.
func (p *pool) unlist(i int) {
	p.ready[i].listed = false
	p.ready = append(p.ready[:i], p.ready[i+1:]...)
}

// submit queues a filled-in slot of s for the workers.
func (p *pool) submit(s *stream, b *slot) {
	b.claimed = 0
	b.remaining.Store(int32(len(b.labels)))
	b.err.Store(nil)
	p.mu.Lock()
	defer p.mu.Unlock()
	q := &s.work
	q.s = s
	q.slots = append(q.slots, b)
	if !q.listed {
		q.listed = true
		p.ready = append(p.ready, q)
	}
	p.wake.Broadcast()
}

// cancel withdraws every queued image of s and waits for the images being made to finish, after
// which no worker touches the stream's slots.
func (p *pool) cancel(s *stream) {
	p.mu.Lock()
	q := &s.work
	q.slots = q.slots[:0]
	if q.listed {
		for i, r := range p.ready {
			if r == q {
				p.unlist(i)
				if p.next > i {
					p.next--
				}
				break
			}
		}
	}
	p.mu.Unlock()
	s.inflight.Wait()
}

// close stops the workers once they finish their current image.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.wake.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

// slotPool recycles batch buffers across streams of the same batch size; sync.Pool lets the
// garbage collector take them back when streams of that size stop.
type slotPool struct {
	imageBytes int
	mu         sync.Mutex
	bySize     map[int]*sync.Pool
}

func (sp *slotPool) pool(batch int) *sync.Pool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	p := sp.bySize[batch]
	if p == nil {
		p = &sync.Pool{New: func() any { return newSlot(batch, sp.imageBytes) }}
		sp.bySize[batch] = p
	}
	return p
}

func (sp *slotPool) get(batch int) *slot { return sp.pool(batch).Get().(*slot) }

func (sp *slotPool) put(b *slot) {
	select {
	case <-b.done: // a batch finished but never sent
	default:
	}
	sp.pool(len(b.labels)).Put(b)
}
