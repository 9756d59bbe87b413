package loader

import (
	"errors"
	"sync"
	"time"

	"github.com/facestream/facestream/sampler"
)

// planKey names one epoch plan; a plan does not depend on rank, world or batch.
type planKey struct {
	mode     sampler.Mode
	seed     uint64
	epoch    int
	epochLen int
	p, k     int
}

// planEntry is a plan being built or built; ready closes when epoch or err is set.
type planEntry struct {
	key   planKey
	ready chan struct{}
	epoch *sampler.Epoch
	err   error
}

// planCache keeps the few most recent epoch plans: all ranks of a job share them, and an epoch of
// tens of millions of draws costs a hundred MB or more, so only a few are kept. Streams hold
// the plans they use, so an evicted plan lives on as long as a stream reads it.
type planCache struct {
	pop      *sampler.Population
	capacity int
	observe  func(time.Duration) // build time, for the metrics
	builds   chan struct{}       // one build at a time: each holds up to a dataset-sized plan in memory

	mu      sync.Mutex
	entries []*planEntry // least recently used first
	closed  bool         // no more prefetches (the server is shutting down)
	pending sync.WaitGroup
}

func newPlanCache(pop *sampler.Population, capacity int, observe func(time.Duration)) *planCache {
	return &planCache{pop: pop, capacity: capacity, observe: observe, builds: make(chan struct{}, 1)}
}

// get returns the epoch plan of key, building it once however many streams ask at the same time.
func (c *planCache) get(key planKey) (*sampler.Epoch, error) {
	e, owner := c.entry(key)
	if owner {
		c.build(e, false)
	}
	<-e.ready
	return e.epoch, e.err
}

// prefetch starts building the plan of key in the background unless the cache has it, so that
// the streams reading the epoch before it need not wait at its end (a dataset-sized plan takes a
// second or two to build). A failed build is reported to the stream that later asks for it.
func (c *planCache) prefetch(key planKey) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.pending.Add(1)
	c.mu.Unlock()
	e, owner := c.entry(key)
	if !owner {
		c.pending.Done()
		return
	}
	go func() {
		defer c.pending.Done()
		c.build(e, true)
	}()
}

// close stops prefetching and waits for the prefetches under way.
func (c *planCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.pending.Wait()
}

// entry returns the cache's entry for key, marked most recently used; owner is true when it is
// new, and the caller must build it.
func (c *planCache) entry(key planKey) (e *planEntry, owner bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.key == key {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			return e, false
		}
	}
	e = &planEntry{key: key, ready: make(chan struct{})}
	c.entries = append(c.entries, e)
	if len(c.entries) > c.capacity {
		c.entries = append(c.entries[:0], c.entries[1:]...)
	}
	return e, true
}

// build builds e's plan, one build at a time, and marks it ready. A prefetch that gets its turn
// after close gives up: shutdown waits for prefetches, and each build takes a second or two.
func (c *planCache) build(e *planEntry, prefetch bool) {
	c.builds <- struct{}{}
	c.mu.Lock()
	skip := prefetch && c.closed
	c.mu.Unlock()
	if skip {
		e.err = errors.New("plan not built: the server is shutting down")
	} else {
		start := time.Now()
		e.epoch, e.err = sampler.Build(c.pop, e.key.spec())
		c.observe(time.Since(start))
	}
	<-c.builds
	close(e.ready)
}

// spec is what sampler.Build takes for the plan key names.
func (k planKey) spec() sampler.Spec {
	return sampler.Spec{Mode: k.mode, Seed: k.seed, Epoch: k.epoch, EpochLen: k.epochLen, P: k.p, K: k.k}
}

// shape is the length and batch rule of pq's epoch, computed without building the plan.
func (c *planCache) shape(pq planQuery) (sampler.Shape, error) {
	return sampler.ShapeOf(c.pop, keyOf(pq, pq.epoch).spec())
}

// keyOf names the plan of pq's epoch. Only the fields a mode reads name its plan: stray values
// must not build duplicate plans.
func keyOf(pq planQuery, epoch int) planKey {
	key := planKey{mode: pq.mode, seed: pq.seed, epoch: epoch}
	switch pq.mode {
	case sampler.Weighted:
		key.epochLen = pq.epochLen
	case sampler.PK:
		key.p, key.k = pq.p, pq.k
	}
	return key
}

// rank returns the plan of one rank for the epoch pq names, with epoch overriding pq.epoch.
func (c *planCache) rank(pq planQuery, epoch int) (*sampler.RankPlan, error) {
	ep, err := c.get(keyOf(pq, epoch))
	if err != nil {
		return nil, err
	}
	return ep.Rank(pq.world, pq.rank, pq.batch, pq.pad)
}
