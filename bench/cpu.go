package bench

import (
	"fmt"
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) this process has used so far. With the server
// in-process this counts the server's decoding and augmenting as well as the clients' reading.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
