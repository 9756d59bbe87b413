// Package procs sizes GOMAXPROCS for worker goroutines that spend most of their time in C calls
// (TurboJPEG's decode).
package procs

import (
	"os"
	"runtime"
)

// LeaveIdle raises GOMAXPROCS by one when workers would occupy every P, so that one P stays idle
// while every worker is inside a C call, and returns the GOMAXPROCS in effect. It leaves a
// GOMAXPROCS above the workers, and one the user set with $GOMAXPROCS, as they are; workers that
// outnumber the Ps get one P more, not one each (that would only have the kernel time-slice them).
//
// Why: a goroutine keeps its P during a C call. When no P is idle, the runtime's monitor takes
// the P of any call it sees twice (after 20 us; a 250x250 photo decodes in 150 us), hands it to
// a new thread, and the worker, back from C, waits for a P on yet another thread. With workers
// on every P, that is a few thread switches an image: on the 2-core VM, `augment bench
// --workers 2` made 30 % more images a second with one idle P than without. The spare P also
// runs the server's other goroutines (HTTP, batching) without taking a worker's.
func LeaveIdle(workers int) int {
	n := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" || n > workers {
		return n
	}
	runtime.GOMAXPROCS(n + 1)
	return n + 1
}
