package drift_test

import (
	"math"
	"testing"

	"github.com/fraudscore/fraudscore/scorer/drift"
)

func TestBin(t *testing.T) {
	edges := []float64{0, 1, 2.5, 10}
	for _, tc := range []struct {
		v    float64
		want int
	}{
		{-5, 0}, {0, 0}, {0.5, 1}, {1, 1}, {2, 2}, {2.5, 2}, {3, 3}, {10, 3},
		{11, 3}, {math.Inf(1), 3}, {math.Inf(-1), 0}, {math.NaN(), 4},
	} {
		if got := drift.Bin(edges, tc.v); got != tc.want {
			t.Errorf("Bin(%v, %v) = %d, want %d", edges, tc.v, got, tc.want)
		}
	}
	if got := drift.Bin([]float64{7}, 100); got != 0 {
		t.Errorf("one edge: Bin = %d, want 0", got)
	}
	if got := drift.Bin(nil, 1); got != 0 {
		t.Errorf("no edges: Bin = %d, want 0 (the missing bin)", got)
	}
}
