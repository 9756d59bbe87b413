package cpuset

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Allowed is the set of CPUs this process may run on (its affinity mask).
func Allowed() (Set, error) {
	var mask unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mask); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var s Set
	for cpu := range maxCPU {
		if mask.IsSet(cpu) {
			s = append(s, cpu)
		}
	}
	return s, nil
}

// Pin confines every thread of the process to s. The mask is per thread and a new thread inherits
// its creator's, so each pass pins the threads listed in /proc/self/task, until a pass finds none
// it had not pinned (a thread started during a pass by one not yet pinned).
func Pin(s Set) error {
	if len(s) == 0 {
		return fmt.Errorf("pin to no CPU")
	}
	var mask unix.CPUSet
	for _, cpu := range s {
		mask.Set(cpu)
	}
	pinned := map[int]bool{}
	for {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("pin to CPUs %s: %w", s, err)
		}
		fresh := 0
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || pinned[tid] {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &mask); err != nil && err != unix.ESRCH { // ESRCH: it ended
				return fmt.Errorf("pin thread %d to CPUs %s: %w", tid, s, err)
			}
			pinned[tid] = true
			fresh++
		}
		if fresh == 0 {
			return nil
		}
	}
}
