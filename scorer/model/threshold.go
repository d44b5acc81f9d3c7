package model

import "math"

// xgbThreshold converts an XGBoost split condition t (a float32; XGBoost
// routes a row left when float32(x) < t) into the float64 threshold T for
// LightGBM/leaves routing (left when x <= T) such that, for every non-NaN
// float64 x,
//
//	x <= T  <=>  float32(x) < t
//
// so that inputs need no rounding. ok is false for t = NaN or -Inf, which
// no float64 threshold can express. See docs/adr/0003-model-formats.md.
func xgbThreshold(t float32) (T float64, ok bool) {
	if t != t || math.IsInf(float64(t), -1) {
		return 0, false
	}
	// float32(x) < t  <=>  float32(x) <= p, p the float32 predecessor of t
	// (-0 and +0 compare equal, so both have predecessor -2^-149).
	p := math.Nextafter32(t, float32(math.Inf(-1)))
	lo, hi := float64(p), float64(t)
	if math.IsInf(lo, -1) { // t = -MaxFloat32: values round to -Inf below -(2^128 - 2^103)
		lo = -0x1p128
	}
	if math.IsInf(hi, 1) { // t = +Inf: values round to +Inf from 2^128 - 2^103 on
		hi = 0x1p128
	}
	// Rounding to float32 is monotone, and the reals strictly between lo
	// and hi round to lo below the midpoint m and to hi above it. m needs at
	// most 25 significant bits, so it is exact in float64. At m itself the
	// tie is broken to even: if that gives p, m belongs to the left side.
	m := lo/2 + hi/2
	if float32(m) == p {
		return m, true
	}
	return math.Nextafter(m, math.Inf(-1)), true
}
