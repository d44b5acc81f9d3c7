package drift

import "math"

// Epsilon is the proportion an empty bin is given before the logarithm in
// PSI: ln(0) is undefined, and a floor of 1e-4 (one in ten thousand, the
// resolution of the default window) keeps one empty bin from making the
// index infinite while still weighing a bin that empties or fills heavily.
const Epsilon = 1e-4

// PSI is the population stability index of actual against expected:
//
//	PSI = Σ (a_i − e_i) · ln(a_i / e_i)
//
// where e_i and a_i are the shares of bin i in each distribution. expected
// and actual are counts or proportions per bin (each is normalised by its
// own sum, so they may mix); a share below Epsilon is raised to Epsilon.
// 0 means the same distribution; by the usual reading, below 0.1 is stable,
// 0.1 to 0.25 a moderate shift and above 0.25 a major one.
//
// PSI is NaN when the two have different lengths, are empty, either sums to
// 0, or hold a negative, NaN or infinite value: there is no distribution to
// compare, and NaN is what Prometheus shows for "no answer".
func PSI(expected, actual []float64) float64 {
	if len(expected) != len(actual) || len(expected) == 0 {
		return math.NaN()
	}
	se, sa := total(expected), total(actual)
	if !(se > 0) || !(sa > 0) || math.IsInf(se, 0) || math.IsInf(sa, 0) {
		return math.NaN()
	}
	var psi float64
	for i := range expected {
		e := max(expected[i]/se, Epsilon)
		a := max(actual[i]/sa, Epsilon)
		psi += (a - e) * math.Log(a/e)
	}
	return psi
}

// total sums xs, or returns NaN if any is negative or NaN.
func total(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		if !(x >= 0) {
			return math.NaN()
		}
		s += x
	}
	return s
}
