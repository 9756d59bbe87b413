package loader

import (
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
// tens of millions of draws costs a hundred MB or more, so only a couple are kept. Streams hold
// the plans they use, so an evicted plan lives on as long as a stream reads it.
type planCache struct {
	pop      *sampler.Population
	capacity int
	observe  func(time.Duration) // build time, for the metrics
	builds   chan struct{}       // one build at a time: each holds up to a dataset-sized plan in memory

	mu      sync.Mutex
	entries []*planEntry // least recently used first
}

func newPlanCache(pop *sampler.Population, capacity int, observe func(time.Duration)) *planCache {
	return &planCache{pop: pop, capacity: capacity, observe: observe, builds: make(chan struct{}, 1)}
}

// get returns the epoch plan of key, building it once however many streams ask at the same time.
func (c *planCache) get(key planKey) (*sampler.Epoch, error) {
	c.mu.Lock()
	for i, e := range c.entries {
		if e.key == key {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			c.mu.Unlock()
			<-e.ready
			return e.epoch, e.err
		}
	}
	e := &planEntry{key: key, ready: make(chan struct{})}
	c.entries = append(c.entries, e)
	if len(c.entries) > c.capacity {
		c.entries = append(c.entries[:0], c.entries[1:]...)
	}
	c.mu.Unlock()

	c.builds <- struct{}{}
	start := time.Now()
	e.epoch, e.err = sampler.Build(c.pop, sampler.Spec{
		Mode: key.mode, Seed: key.seed, Epoch: key.epoch, EpochLen: key.epochLen, P: key.p, K: key.k,
	})
	c.observe(time.Since(start))
	<-c.builds
	close(e.ready)
	return e.epoch, e.err
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
