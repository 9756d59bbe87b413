package main

import (
	"reflect"
	"testing"
)

func TestParseArgsInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantPos  []string
		wantMode string
		wantN    int
	}{
		{[]string{"DS", "--mode", "pk", "-n", "3"}, []string{"DS"}, "pk", 3},
		{[]string{"--mode", "pk", "DS", "EXTRA", "-n=4"}, []string{"DS", "EXTRA"}, "pk", 4},
		{[]string{"-n", "2", "--", "-DS"}, []string{"-DS"}, "uniform", 2},
	} {
		fs := newFlags("test", "DS")
		mode := fs.String("mode", "uniform", "")
		n := fs.Int("n", 0, "")
		pos, err := parseArgs(fs, tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(pos, tc.wantPos) || *mode != tc.wantMode || *n != tc.wantN {
			t.Fatalf("%v: got %v %s %d", tc.args, pos, *mode, *n)
		}
	}
	fs := newFlags("test", "DS")
	if _, err := parseExact(fs, []string{"a", "b"}, "DS"); err == nil {
		t.Fatal("parseExact accepted two arguments for one")
	}
}
