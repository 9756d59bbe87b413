package procs

import (
	"runtime"
	"testing"
)

func TestLeaveIdle(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cases := []struct {
		name           string
		env            string
		procs, workers int
		want           int
	}{
		{"a worker on every P: one more P", "", 2, 2, 3},
		{"more workers than Ps: one P more, not one each", "", 2, 5, 3},
		{"a P idle already", "", 4, 2, 4},
		{"one P over the workers", "", 3, 2, 3},
		{"the user's GOMAXPROCS", "2", 2, 2, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", c.env)
			runtime.GOMAXPROCS(c.procs)
			if got := LeaveIdle(c.workers); got != c.want {
				t.Errorf("LeaveIdle(%d) with GOMAXPROCS %d = %d, want %d", c.workers, c.procs, got, c.want)
			}
			if got := runtime.GOMAXPROCS(0); got != c.want {
				t.Errorf("GOMAXPROCS is %d after LeaveIdle, want %d", got, c.want)
			}
		})
	}
}
