package loader

import (
	"strings"
	"testing"
)

// TestPoolTakesStreamsInTurn: workers take one image from each stream with work in turn, so a
// stream with big batches does not hold up one with small batches.
func TestPoolTakesStreamsInTurn(t *testing.T) {
	p := newPool(0, testSize, testSize, 0) // no workers: the test claims by hand
	defer p.close()
	big, small, late := &stream{}, &stream{}, &stream{}
	p.submit(big, newSlot(6, 3))
	p.submit(big, newSlot(6, 3))
	p.submit(small, newSlot(2, 3))
	var order strings.Builder
	name := map[*stream]string{big: "B", small: "s", late: "L"}
	for i := range 10 {
		if i == 4 {
			p.submit(late, newSlot(2, 3))
		}
		task, ok := p.claim()
		if !ok {
			t.Fatal("pool closed")
		}
		order.WriteString(name[task.s])
		task.s.inflight.Done()
	}
	// B and s alternate until s runs out; L joins the turn after its submission.
	if got, want := order.String(), "BsBsLBLBBB"; got != want {
		t.Fatalf("claims went %s, want %s", got, want)
	}
}

// TestPoolCancelWithdrawsWork: a cancelled stream's queued images are never handed out.
func TestPoolCancelWithdrawsWork(t *testing.T) {
	p := newPool(0, testSize, testSize, 0)
	defer p.close()
	gone, stays := &stream{}, &stream{}
	p.submit(gone, newSlot(4, 3))
	p.submit(stays, newSlot(4, 3))
	first, _ := p.claim()
	first.s.inflight.Done()
	p.cancel(gone)
	for range 4 {
		task, _ := p.claim()
		if task.s != stays {
			t.Fatal("an image of a cancelled stream was handed out")
		}
		task.s.inflight.Done()
	}
	if len(p.ready) != 0 {
		t.Fatalf("%d streams still listed", len(p.ready))
	}
}
