package main

import (
	"runtime"
	"strings"
	"testing"

	"github.com/facestream/facestream/internal/cpuset"
)

func TestPlaceServer(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	allowed, err := cpuset.Allowed()
	if err != nil {
		t.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		workers, cpus string
		trainer       int
		want          int
		wantErr       string
	}{
		{workers: "auto", want: procs},
		{workers: "3", want: 3},
		// Pinning to the CPUs it already has leaves the test process as it was.
		{workers: "auto", cpus: allowed.String(), want: len(allowed)},
		{workers: "0", wantErr: "--workers=0"},
		{workers: "many", wantErr: "--workers=many"},
		{workers: "auto", cpus: "0", trainer: 1, wantErr: "give one"},
		{workers: "auto", cpus: "2-1", wantErr: "--cpus"},
		{workers: "auto", trainer: len(allowed), wantErr: "--trainer-cores"},
		// A CPU the process may not use is refused, not silently dropped by the kernel.
		{workers: "auto", cpus: cpuset.Set{allowed[len(allowed)-1] + 1}.String(), wantErr: "not among those this process may use"},
	} {
		n, placement, err := placeServer(tc.workers, tc.cpus, tc.trainer)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("placeServer(%+v) = %d, %v; want an error with %q", tc, n, err, tc.wantErr)
			}
		case err != nil || n != tc.want || placement == "":
			t.Errorf("placeServer(%+v) = %d, %q, %v; want %d workers", tc, n, placement, err, tc.want)
		}
	}
}
