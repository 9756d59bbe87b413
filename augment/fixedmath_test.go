package augment

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// ulps is the distance between a and b in units in the last place (both finite, same sign).
func ulps(a, b float64) uint64 {
	ia, ib := math.Float64bits(a), math.Float64bits(b)
	if ia > ib {
		return ia - ib
	}
	return ib - ia
}

// bigExp is e**x to 300 bits by its Taylor series (|x| <= 10 needs fewer than 150 terms).
func bigExp(x *big.Float) *big.Float {
	sum := new(big.Float).SetPrec(300).SetInt64(1)
	term := new(big.Float).SetPrec(300).SetInt64(1)
	for n := int64(1); n < 150; n++ {
		term.Mul(term, x)
		term.Quo(term, new(big.Float).SetPrec(300).SetInt64(n))
		sum.Add(sum, term)
	}
	return sum
}

// TestFixedExpLogAccurate checks both within one ulp of the exactly rounded result, over the
// ranges the sample path uses (log aspect ratios, blur exponents) and beyond.
func TestFixedExpLogAccurate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		x := (r.Float64()*2 - 1) * []float64{0.1, 1, 10}[i%3]
		bx := new(big.Float).SetPrec(300).SetFloat64(x)
		exact, _ := bigExp(bx).Float64()
		if d := ulps(fixedExp(x), exact); d > 1 {
			t.Fatalf("fixedExp(%v) = %v, exactly rounded %v: %d ulps apart", x, fixedExp(x), exact, d)
		}
		// log y, exactly rounded: one Newton step from x, in 300 bits, where e^x = y exactly.
		y := fixedExp(x)
		by := new(big.Float).SetPrec(300).SetFloat64(y)
		ex := bigExp(bx)
		step := new(big.Float).SetPrec(300).Quo(new(big.Float).SetPrec(300).Sub(by, ex), ex)
		exactLog, _ := new(big.Float).SetPrec(300).Add(bx, step).Float64()
		if d := ulps(fixedLog(y), exactLog); d > 1 && math.Abs(exactLog) > 1e-300 {
			t.Fatalf("fixedLog(%v) = %v, exactly rounded %v: %d ulps apart", y, fixedLog(y), exactLog, d)
		}
	}
	specials := []struct{ got, want float64 }{
		{fixedExp(0), 1}, {fixedExp(-800), 0}, {fixedExp(800), math.Inf(1)}, {fixedLog(1), 0},
		{fixedLog(0), math.Inf(-1)}, {fixedLog(math.Inf(1)), math.Inf(1)},
	}
	for i, s := range specials {
		if s.got != s.want {
			t.Errorf("special %d: got %v, want %v", i, s.got, s.want)
		}
	}
	if !math.IsNaN(fixedExp(math.NaN())) || !math.IsNaN(fixedLog(-1)) {
		t.Error("NaN in or a negative log: want NaN")
	}
}

// TestFixedExpLogKnownBits pins the exact bits, so that a machine computing them differently
// (a fused multiply-add the conversions failed to forbid) fails here.
func TestFixedExpLogKnownBits(t *testing.T) {
	for _, c := range []struct {
		name string
		got  float64
		bits uint64
	}{
		{"exp(-0.5)", fixedExp(-0.5), 0x3fe368b2fc6f960a},
		{"exp(-4.5)", fixedExp(-4.5), 0x3f86c0504695c417},
		{"exp(0.0487901641694320)", fixedExp(0.0487901641694320), 0x3ff0cccccccccccd},
		{"log(0.95)", fixedLog(0.95), 0xbfaa431d5bcc193e},
		{"log(1.05)", fixedLog(1.05), 0x3fa8fb063ef2c7f0},
		{"log(4/3)", fixedLog(4.0 / 3), 0x3fd269621134db92},
	} {
		if got := math.Float64bits(c.got); got != c.bits {
			t.Errorf("%s = %#016x, want %#016x", c.name, got, c.bits)
		}
	}
}
