package splitmix

import "testing"

// TestReferenceOutputs pins the first outputs of SplitMix64 seeded with 1234567, as printed by
// the reference C implementation (Vigna, splitmix64.c).
func TestReferenceOutputs(t *testing.T) {
	want := []uint64{
		6457827717110365317,
		3203168211198807973,
		9817491932198370423,
		4593380528125082431,
		16408922859458223821,
	}
	s := New(1234567)
	for i, w := range want {
		if got := s.Next(); got != w {
			t.Fatalf("output %d: got %d, want %d", i, got, w)
		}
	}
}

func TestStepIsOneStreamStep(t *testing.T) {
	for _, z := range []uint64{0, 1, Golden, 1 << 63, ^uint64(0)} {
		s := New(z)
		if got, want := Step(z), s.Next(); got != want {
			t.Errorf("Step(%#x) = %#x, stream from %#x gives %#x", z, got, z, want)
		}
	}
}

func TestMixIsABijectionOnSmallInputs(t *testing.T) {
	seen := make(map[uint64]uint64, 1<<16)
	for z := uint64(0); z < 1<<16; z++ {
		m := Mix(z)
		if prev, ok := seen[m]; ok {
			t.Fatalf("Mix(%d) = Mix(%d) = %#x", z, prev, m)
		}
		seen[m] = z
	}
}
