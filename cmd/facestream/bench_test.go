package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchRefusesBadArguments(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "dataset folder or a server URL"},
		{[]string{missing, "--url", "http://127.0.0.1:1"}, "not both"},
		{[]string{"a", "b"}, "at most one dataset"},
		{[]string{missing, "--format", "csv"}, "format"},
		{[]string{missing, "--streams", "0"}, "streams"},
		{[]string{missing, "--duration", "1s", "--json"}, "open dataset"}, // the dataset before flags is accepted
		{[]string{"--url", "http://127.0.0.1:1", "--duration", "1s"}, "image shape"},
	} {
		var out bytes.Buffer
		err := writeBench(&out, c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench %q: error %v, want one mentioning %q", c.args, err, c.want)
		}
		if out.Len() > 0 {
			t.Errorf("bench %q wrote %q on failure", c.args, out.String())
		}
	}
}
