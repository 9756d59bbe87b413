// Package cpuset reads CPU lists ("0-3,8,10-11", as taskset and /sys/devices/system/cpu write
// them) and pins the process to one, so that a server and a trainer on the same host each keep
// their own cores instead of fighting for all of them.
package cpuset

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxCPU bounds the CPU numbers a list may name: what the kernel's affinity mask can hold here.
const maxCPU = 1024

// Set is a sorted list of distinct CPU numbers.
type Set []int

// Parse reads a CPU list: comma-separated CPU numbers and inclusive ranges ("0-3,8").
func Parse(list string) (Set, error) {
	var s Set
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		lo, hi, isRange := strings.Cut(item, "-")
		first, err := cpuNumber(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", list, err)
		}
		last := first
		if isRange {
			if last, err = cpuNumber(hi); err != nil {
				return nil, fmt.Errorf("CPU list %q: %w", list, err)
			}
			if last < first {
				return nil, fmt.Errorf("CPU list %q: range %s runs backwards", list, item)
			}
		}
		for cpu := first; cpu <= last; cpu++ {
			s = append(s, cpu)
		}
	}
	slices.Sort(s)
	return slices.Compact(s), nil
}

func cpuNumber(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n >= maxCPU {
		return 0, fmt.Errorf("%q is not a CPU number (0 to %d)", s, maxCPU-1)
	}
	return n, nil
}

// String writes s as a CPU list, ranges folded ("0-3,8").
func (s Set) String() string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(s[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(s[j]))
		}
		i = j + 1
	}
	return b.String()
}

// Outside returns the CPUs of s that are not in allowed.
func (s Set) Outside(allowed Set) Set {
	var out Set
	for _, c := range s {
		if _, found := slices.BinarySearch(allowed, c); !found {
			out = append(out, c)
		}
	}
	return out
}

// Leave splits allowed into the first n CPUs, left to another process (a trainer), and the rest,
// for this one; it fails unless at least one CPU remains on each side.
func Leave(allowed Set, n int) (left, rest Set, err error) {
	if len(allowed) < 2 {
		return nil, nil, fmt.Errorf("leave %d of the CPUs %s: there is only one, nothing to leave", n, allowed)
	}
	if n < 1 || n >= len(allowed) {
		return nil, nil, fmt.Errorf("leave %d of the %d CPUs %s: want 1 to %d", n, len(allowed), allowed, len(allowed)-1)
	}
	return allowed[:n:n], allowed[n:], nil
}
