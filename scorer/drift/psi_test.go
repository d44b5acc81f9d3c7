package drift_test

import (
	"math"
	"testing"

	"github.com/fraudscore/fraudscore/scorer/drift"
)

func TestPSI(t *testing.T) {
	for _, tc := range []struct {
		name             string
		expected, actual []float64
		want             float64
	}{
		{"same", []float64{1, 2, 3}, []float64{1, 2, 3}, 0},
		{"same shares, other totals", []float64{10, 20, 30}, []float64{0.1, 0.2, 0.3}, 0},
		// (0.5-0.25)·ln(2) + (0.5-0.75)·ln(2/3)
		{"two bins", []float64{1, 3}, []float64{1, 1}, 0.25*math.Ln2 - 0.25*math.Log(2.0/3)},
		// textbook example: 10 deciles, one moved
		{"deciles", []float64{10, 10, 10, 10, 10, 10, 10, 10, 10, 10}, []float64{5, 10, 10, 10, 10, 10, 10, 10, 10, 15},
			(0.05-0.1)*math.Log(0.05/0.1) + (0.15-0.1)*math.Log(0.15/0.1)},
		// an empty bin counts as Epsilon
		{"empty actual bin", []float64{1, 1}, []float64{0, 2}, (drift.Epsilon-0.5)*math.Log(drift.Epsilon/0.5) + 0.5*math.Log(1/0.5)},
		{"empty in both", []float64{0, 1}, []float64{0, 1}, 0},
		{"lengths differ", []float64{1}, []float64{1, 1}, math.NaN()},
		{"empty", nil, nil, math.NaN()},
		{"zero total", []float64{0, 0}, []float64{1, 1}, math.NaN()},
		{"negative", []float64{-1, 2}, []float64{1, 1}, math.NaN()},
		{"NaN", []float64{math.NaN(), 2}, []float64{1, 1}, math.NaN()},
		{"Inf", []float64{math.Inf(1), 2}, []float64{1, 1}, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := drift.PSI(tc.expected, tc.actual)
			if math.IsNaN(tc.want) {
				if !math.IsNaN(got) {
					t.Fatalf("PSI = %v, want NaN", got)
				}
				return
			}
			if math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("PSI = %.15g, want %.15g", got, tc.want)
			}
			if back := drift.PSI(tc.actual, tc.expected); math.Abs(back-got) > 1e-12 {
				t.Fatalf("PSI is symmetric: %v one way, %v the other", got, back)
			}
		})
	}
}
