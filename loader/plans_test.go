package loader

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/facestream/facestream/sampler"
)

// TestPlanCacheIgnoresFieldsTheModeDoesNotRead: a uniform stream that also sends p, k or epoch_len
// shares the plan of one that does not, instead of building (and holding) a duplicate.
func TestPlanCacheIgnoresFieldsTheModeDoesNotRead(t *testing.T) {
	labels := make([]int32, 64)
	for i := range labels {
		labels[i] = int32(i % 4)
	}
	builds := 0
	c := newPlanCache(&sampler.Population{Labels: labels, NumClasses: 4}, 2, func(time.Duration) { builds++ })
	for _, q := range []planQuery{
		{world: 1, batch: 8, mode: sampler.Uniform},
		{world: 1, batch: 8, mode: sampler.Uniform, p: 2, k: 4, epochLen: 99},
		{world: 2, rank: 1, batch: 4, mode: sampler.Uniform, epochLen: 7},
	} {
		if _, err := c.rank(q, 0); err != nil {
			t.Fatal(err)
		}
	}
	if builds != 1 {
		t.Fatalf("%d plans built for one uniform epoch, want 1", builds)
	}
	if _, err := c.rank(planQuery{world: 1, batch: 8, mode: sampler.Weighted, epochLen: 32}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.rank(planQuery{world: 1, batch: 8, mode: sampler.Weighted, epochLen: 48}, 0); err != nil {
		t.Fatal(err)
	}
	if builds != 3 {
		t.Fatalf("%d plans built, want 3: weighted epochs of other lengths are other plans", builds)
	}
}

// TestPlanCachePrefetchEndsWithClose: close waits for a prefetch queued behind another build,
// and a prefetch after close starts nothing.
func TestPlanCachePrefetchEndsWithClose(t *testing.T) {
	others := goleak.IgnoreCurrent() // goroutines of other tests' servers
	labels := make([]int32, 64)
	built := 0
	c := newPlanCache(&sampler.Population{Labels: labels, NumClasses: 1}, 3, func(time.Duration) { built++ })
	c.builds <- struct{}{} // another build holds the slot
	c.prefetch(planKey{mode: sampler.Uniform, epoch: 1})
	queued := c.entries[0]
	closed := make(chan struct{})
	go func() {
		c.close()
		close(closed)
	}()
	// Once close has begun, it can only wait: the prefetch cannot build before the slot is free.
	for deadline := time.Now().Add(30 * time.Second); !c.isClosed(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("close never began")
		}
	}
	select {
	case <-closed:
		t.Fatal("close returned with a prefetch still waiting for the build slot")
	default:
	}
	<-c.builds
	<-closed
	select {
	case <-queued.ready:
	default:
		t.Fatal("close returned with a prefetch still waiting to build")
	}
	if built != 0 || queued.err == nil {
		t.Errorf("a prefetch queued before close built its plan after it (%d builds, err %v)", built, queued.err)
	}
	c.prefetch(planKey{mode: sampler.Uniform, epoch: 2})
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n != 1 {
		t.Errorf("%d plans after a prefetch following close, want the 1 from before", n)
	}
	goleak.VerifyNone(t, others)
}

func (c *planCache) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
