package bench

import (
	"fmt"
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) used so far by the processes of the served path.
type cpuTime struct {
	own    time.Duration // this process: the clients, and the server too when it runs in-process
	server time.Duration // a server in another process, from its /metrics; 0 when in-process
	split  bool          // server is known apart from own
}

// since is the CPU time used between the earlier reading old and c.
func (c cpuTime) since(old cpuTime) cpuTime {
	return cpuTime{own: c.own - old.own, server: c.server - old.server, split: c.split && old.split}
}

func (c cpuTime) total() time.Duration { return c.own + c.server }

// microsPerImage is d spread over the images delivered, in µs; 0 when none were.
func microsPerImage(d time.Duration, images int64) float64 {
	if images <= 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / 1e3 / float64(images)
}

// ProcessCPU returns the CPU time (user + system) this process has used so far. With the server
// in-process this counts the server's decoding and augmenting as well as the clients' reading.
func ProcessCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
