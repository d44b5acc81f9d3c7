package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkThreshold verifies x <= T <=> float32(x) < t on float64 values around
// every boundary that matters: t, its float32 neighbours, the midpoints and
// T itself, walking a few float64 ulps either way.
func checkThreshold(t *testing.T, th float32) {
	T, ok := xgbThreshold(th)
	require.True(t, ok, "threshold %v", th)
	p := math.Nextafter32(th, float32(math.Inf(-1)))
	s := math.Nextafter32(th, float32(math.Inf(1)))
	centers := []float64{T, float64(th), float64(p), float64(p)/2 + float64(th)/2}
	if !math.IsInf(float64(s), 0) && !math.IsInf(float64(th), 0) {
		centers = append(centers, float64(s), float64(th)/2+float64(s)/2)
	}
	for _, c := range centers {
		if math.IsInf(c, 0) {
			continue
		}
		for _, dir := range []float64{math.Inf(-1), math.Inf(1)} {
			x := c
			for k := 0; k < 4; k++ {
				require.Equal(t, float32(x) < th, x <= T,
					"t=%v (%#x) T=%v x=%v: float32(x)=%v", th, math.Float32bits(th), T, x, float32(x))
				x = math.Nextafter(x, dir)
			}
		}
	}
	require.False(t, math.Inf(1) <= T && !(float32(math.Inf(1)) < th))
	require.Equal(t, float32(math.Inf(-1)) < th, math.Inf(-1) <= T)
}

func TestXGBThresholdEdgeCases(t *testing.T) {
	edge := []float32{
		0, float32(math.Copysign(0, -1)), 1, -1, 0.5, 1.5, 2.5, 0.1, -0.1, 1e-38, -1e-38,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 2 * math.SmallestNonzeroFloat32,
		math.Float32frombits(0x00800000), math.Float32frombits(0x007fffff), // smallest normal, largest subnormal
		math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), 16777216, 16777217, 8388608.5, 3, 1 << 30,
	}
	for _, th := range edge {
		checkThreshold(t, th)
	}
	// -0 and +0 are the same split.
	a, _ := xgbThreshold(0)
	b, _ := xgbThreshold(float32(math.Copysign(0, -1)))
	require.Equal(t, a, b)
	require.Less(t, a, 0.0)
	// t=1: predecessor 1-2^-24 has an odd mantissa, so the midpoint 1-2^-25
	// rounds (half to even) up to 1 and T is the float64 just below it.
	T, _ := xgbThreshold(1)
	require.Equal(t, math.Nextafter(1-0x1p-25, 0), T)
	// t=1+2^-23: predecessor 1 has an even mantissa, so the midpoint
	// 1+2^-24 rounds down to it and T is the midpoint itself.
	T, _ = xgbThreshold(1 + 0x1p-23)
	require.Equal(t, 1+0x1p-24, T)
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		_, ok := xgbThreshold(bad)
		require.False(t, ok)
	}
}

func TestXGBThresholdRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 50000; i++ {
		th := math.Float32frombits(r.Uint32())
		if th != th || math.IsInf(float64(th), -1) {
			continue
		}
		checkThreshold(t, th)
	}
}
