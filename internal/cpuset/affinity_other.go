//go:build !linux

package cpuset

import (
	"errors"
	"runtime"
)

// errNoAffinity: CPU affinity is set through Linux's sched_setaffinity.
var errNoAffinity = errors.New("CPU placement needs Linux (sched_setaffinity)")

// Allowed is every CPU, numbered from 0: other systems do not say which ones this process may use.
func Allowed() (Set, error) {
	s := make(Set, runtime.NumCPU())
	for i := range s {
		s[i] = i
	}
	return s, nil
}

// Pin is not available here.
func Pin(Set) error { return errNoAffinity }
