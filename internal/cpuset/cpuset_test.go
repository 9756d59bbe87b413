package cpuset

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Set
		list string
	}{
		{"0", Set{0}, "0"},
		{"0-3", Set{0, 1, 2, 3}, "0-3"},
		{"8, 0-2 ,3", Set{0, 1, 2, 3, 8}, "0-3,8"},
		{"5,5,4-5", Set{4, 5}, "4-5"},
		{"1,3,5-6", Set{1, 3, 5, 6}, "1,3,5-6"},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if !slices.Equal(got, tc.want) || got.String() != tc.list {
			t.Errorf("Parse(%q) = %v (%s), want %v (%s)", tc.in, got, got, tc.want, tc.list)
		}
	}
	for _, bad := range []string{"", ",", "a", "-1", "3-1", "0-", "1024", "1,,2", "0-2-3"} {
		if s, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, s)
		}
	}
}

func TestLeave(t *testing.T) {
	all := Set{0, 1, 2, 3, 4, 5}
	left, rest, err := Leave(all, 2)
	if err != nil || !slices.Equal(left, Set{0, 1}) || !slices.Equal(rest, Set{2, 3, 4, 5}) {
		t.Errorf("Leave(%s, 2) = %v, %v, %v", all, left, rest, err)
	}
	_ = append(left, 9) // the halves must not share memory
	if rest[0] != 2 {
		t.Errorf("appending to the part left changed the rest: %v", rest)
	}
	for _, n := range []int{0, 6, 7, -1} {
		if _, _, err := Leave(all, n); err == nil {
			t.Errorf("Leave(%s, %d): want an error", all, n)
		}
	}
	if _, _, err := Leave(Set{3}, 1); err == nil || !strings.Contains(err.Error(), "only one") {
		t.Errorf("Leave of a single CPU: %v, want an error saying there is only one", err)
	}
}

func TestOutside(t *testing.T) {
	allowed := Set{0, 1, 4, 5}
	for _, tc := range []struct{ s, want Set }{
		{Set{0, 5}, nil}, {Set{0, 2, 5, 9}, Set{2, 9}}, {nil, nil}, {Set{6}, Set{6}},
	} {
		if got := tc.s.Outside(allowed); !slices.Equal(got, tc.want) {
			t.Errorf("%s.Outside(%s) = %s, want %s", tc.s, allowed, got, tc.want)
		}
	}
}

// TestPinAllowed pins the test process to the CPUs it already has: a real sched_setaffinity on
// every thread that leaves the mask as it was.
func TestPinAllowed(t *testing.T) {
	allowed, err := Allowed()
	if err != nil {
		t.Fatal(err)
	}
	if len(allowed) == 0 {
		t.Fatal("no CPU allowed")
	}
	if err := Pin(allowed); err != nil {
		t.Skipf("this system cannot pin: %v", err)
	}
	after, err := Allowed()
	if err != nil || !slices.Equal(after, allowed) {
		t.Errorf("after pinning to %s the process has %s (%v)", allowed, after, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0-3,8", "1", " 2 , 4-5", "9-1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			return
		}
		if len(s) == 0 || !slices.IsSorted(s) || len(slices.Compact(slices.Clone(s))) != len(s) {
			t.Fatalf("Parse(%q) = %v: want a non-empty sorted set", in, s)
		}
		again, err := Parse(s.String())
		if err != nil || !slices.Equal(again, s) {
			t.Fatalf("%q -> %v -> %q -> %v, %v", in, s, s.String(), again, err)
		}
	})
}
