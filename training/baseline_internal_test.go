package training

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestQuantileEdges(t *testing.T) {
	vals := make([]float64, 100)
	for i := range vals {
		vals[i] = float64(99 - i)
	}
	assert.Equal(t, []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 99}, quantileEdges(vals, 10))

	binary := make([]float64, 100)
	for i := 90; i < 100; i++ {
		binary[i] = 1
	}
	assert.Equal(t, []float64{0, 1}, quantileEdges(binary, 10), "a discrete feature: one bin per value")
	assert.Equal(t, []float64{0}, quantileEdges(nil, 10), "never present")
	assert.Equal(t, []float64{5}, quantileEdges([]float64{5, 5, 5}, 10), "constant")
}

func TestFeatureBaselines(t *testing.T) {
	// Feature 0 takes 0, 1, 2, 3 in turn in training; feature 1 is never
	// present; feature 2 is present in half the rows.
	train := make([]row, 400)
	for i := range train {
		train[i].f[0] = float64(i % 4)
		train[i].f[1] = math.NaN()
		train[i].f[2] = math.NaN()
		if i%2 == 0 {
			train[i].f[2] = 7
		}
	}
	holdout := make([]row, 10)
	for i, v := range []float64{-1, 0, 0.5, 1, 2, 3, 9, math.NaN(), math.NaN(), 3} {
		holdout[i].f[0] = v
		holdout[i].f[1] = math.NaN()
		holdout[i].f[2] = 7
	}
	got := featureBaselines([]string{"x", "never", "half"}, train, holdout, 10)
	assert.Len(t, got, 3)
	assert.Equal(t, "x", got[0].Feature)
	assert.Equal(t, []float64{0, 1, 2, 3}, got[0].Edges)
	// -1 and 0 in the first bin, 0.5 and 1 in the second, 2, then 3, 9 and 3
	// (above the last edge: the last bin), two missing.
	assert.Equal(t, []int{2, 2, 1, 3}, got[0].Counts)
	assert.Equal(t, 2, got[0].Missing)
	assert.Equal(t, []float64{0}, got[1].Edges)
	assert.Equal(t, []int{0}, got[1].Counts)
	assert.Equal(t, 10, got[1].Missing)
	assert.Equal(t, []float64{7}, got[2].Edges)
	assert.Equal(t, []int{10}, got[2].Counts)
	assert.Equal(t, 0, got[2].Missing)
}

// TestFeatureBaselinesIgnoreMaskedRows: rows trained without their velocity
// aggregates (masked) change neither the edges nor the counts, however far
// their values are from the rest.
func TestFeatureBaselinesIgnoreMaskedRows(t *testing.T) {
	unmasked := func(n int) []row {
		rows := make([]row, n)
		for i := range rows {
			rows[i].f[0] = float64(i % 7)
			rows[i].f[1] = float64(i%3) / 3
			rows[i].f[2] = math.NaN()
			if i%5 == 0 {
				rows[i].f[2] = 1
			}
		}
		return rows
	}
	train, holdout := unmasked(500), unmasked(120)
	names := []string{"always", "velocity", "device"}
	want := featureBaselines(names, train, holdout, 10)

	masked := func(rows []row, every int) []row {
		var out []row
		for i, r := range rows {
			out = append(out, r)
			if i%every == 0 {
				var m row
				m.masked = true
				m.f[0] = 1000 // far outside the unmasked values: it would move an edge
				m.f[1] = math.NaN()
				m.f[2] = math.NaN()
				out = append(out, m)
			}
		}
		return out
	}
	got := featureBaselines(names, masked(train, 3), masked(holdout, 4), 10)
	assert.Equal(t, want, got)
	assert.Zero(t, got[1].Missing, "the masked rows' missing velocity is not counted")

	// The same rows unmasked do count: the test can fail.
	withMasked := masked(holdout, 4)
	for i := range withMasked {
		withMasked[i].masked = false
	}
	assert.NotEqual(t, want, featureBaselines(names, masked(train, 3), withMasked, 10))
}
