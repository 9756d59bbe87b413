package augment

import "math"

// The sample path's exp and log. math.Exp and math.Log are assembly on amd64 (Exp switches to
// FMA on CPUs that have it) and pure Go elsewhere, where the compiler may fuse a*b+c into one
// rounding: their last bit can differ between machines, and with it a rounded crop size or a
// blur weight. These follow fdlibm's algorithms with every product rounded on its own (an
// explicit float64 conversion forbids fusing), so every machine computes the same bits.
// They are within one ulp of math.Exp and math.Log (fixedmath_test.go).

// ln2 in two parts: k*ln2Hi is exact for the exponents that occur.
const (
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
	log2e = 1.44269504088896338700e+00
)

// fixedExp is e**x.
func fixedExp(x float64) float64 {
	const (
		overflow  = 7.09782712893383973096e+02
		underflow = -7.45133219101941108420e+02
		nearZero  = 0x1p-28
		// fdlibm's minimax polynomial for (r*(e^r+1)/(e^r-1) - 2) on [-ln2/2, ln2/2].
		p1 = 1.66666666666666657415e-01
		p2 = -2.77777777770155933842e-03
		p3 = 6.61375632143793436117e-05
		p4 = -1.65339022054652515390e-06
		p5 = 4.13813679705723846039e-08
	)
	switch {
	case math.IsNaN(x) || x > overflow:
		return x * math.Inf(1) // NaN stays NaN
	case x < underflow:
		return 0
	case -nearZero < x && x < nearZero:
		return 1 + x
	}
	// x = k*ln2 + r with |r| <= ln2/2, r carried as hi - lo for precision.
	k := int(math.Floor(float64(log2e*x) + 0.5))
	hi := x - float64(float64(k)*ln2Hi)
	lo := float64(float64(k) * ln2Lo)
	r := hi - lo
	t := float64(r * r)
	c := r - float64(t*(p1+float64(t*(p2+float64(t*(p3+float64(t*(p4+float64(t*p5)))))))))
	y := 1 - ((lo - float64(r*c)/(2-c)) - hi)
	return math.Ldexp(y, k)
}

// fixedLog is the natural logarithm of x.
func fixedLog(x float64) float64 {
	const (
		// fdlibm's minimax polynomial for log((1+s)/(1-s)) in s^2.
		l1 = 6.666666666666735130e-01
		l2 = 3.999999999940941908e-01
		l3 = 2.857142874366239149e-01
		l4 = 2.222219843214978396e-01
		l5 = 1.818357216161805012e-01
		l6 = 1.531383769920937332e-01
		l7 = 1.479819860511658591e-01
	)
	if !(x > 0) || math.IsInf(x, 1) {
		return math.Log(x) // NaN, -Inf, +Inf: exact everywhere
	}
	// x = 2^k * (1+f) with sqrt(2)/2 <= 1+f < sqrt(2): both steps are exact.
	f1, ki := math.Frexp(x)
	if f1 < math.Sqrt2/2 {
		f1 *= 2
		ki--
	}
	f := f1 - 1
	k := float64(ki)
	s := f / (2 + f)
	s2 := float64(s * s)
	s4 := float64(s2 * s2)
	t1 := float64(s2 * (l1 + float64(s4*(l3+float64(s4*(l5+float64(s4*l7)))))))
	t2 := float64(s4 * (l2 + float64(s4*(l4+float64(s4*l6)))))
	hfsq := float64(0.5 * float64(f*f))
	R := t1 + t2
	return float64(k*ln2Hi) - ((hfsq - (float64(s*(hfsq+R)) + float64(k*ln2Lo))) - f)
}
