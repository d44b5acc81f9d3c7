package training

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestChooseThresholds(t *testing.T) {
	// 1000 rows: scores i/1000; the top 20 are 18 fraud and 2 legit (at
	// 0.985 and 0.990), everything else legit.
	n := 1000
	preds := make([]float64, n)
	labels := make([]float64, n)
	for i := range preds {
		preds[i] = float64(i) / float64(n)
		if i >= 980 && i != 985 && i != 990 {
			labels[i] = 1
		}
	}
	th := chooseThresholds(preds, labels)
	// Going down from the top, precision stays >= 0.9 all the way to 0.980
	// (18/20) and drops below at 0.979 (18/21).
	assert.Equal(t, 0.98, th.Decline)
	// Review + decline take the top 2%: the 21st highest score.
	assert.Equal(t, 0.979, th.Review)
	assert.LessOrEqual(t, th.Review, th.Decline)

	// A useless model never reaches 90% precision: decline stays at 0.9 and
	// review at the 2% quantile below it.
	for i := range labels {
		labels[i] = float64(i % 2)
	}
	th = chooseThresholds(preds, labels)
	assert.Equal(t, 0.9, th.Decline)
	assert.Less(t, th.Review, th.Decline)
	assert.Positive(t, th.Review)
}

func TestRound6NeverZero(t *testing.T) {
	assert.Equal(t, 1e-6, round6(1e-9))
	assert.Equal(t, 0.123456, round6(0.1234569), "rounds down")
	assert.False(t, math.IsNaN(round6(0.5)))
}

func TestDistribution(t *testing.T) {
	preds := make([]float64, 1000)
	for i := range preds {
		preds[i] = float64(i) / 1000
	}
	d := distribution(preds)
	assert.Equal(t, 0.5, d.Quantiles["p50"])
	assert.Equal(t, 0.99, d.Quantiles["p99"])
	total := 0
	for _, c := range d.Counts {
		total += c
	}
	assert.Equal(t, len(preds), total)
	assert.Len(t, d.Counts, len(d.Edges))
}

func TestGoldenRowsBothClasses(t *testing.T) {
	rows := make([]row, 100)
	preds := make([]float64, 100)
	for i := range rows {
		rows[i].f[0] = float64(i)
		rows[i].f[1] = math.NaN()
		if i%10 == 0 {
			rows[i].label = 1
		}
		preds[i] = float64(i) / 100
	}
	g := goldenRows(rows, preds, goldenIndex(rows, 16))
	assert.Len(t, g, 16)
	frauds := 0
	for _, r := range g {
		i := int(r.Features[0])
		assert.Equal(t, preds[i], r.Probability)
		assert.True(t, math.IsNaN(r.Features[1]))
		if rows[i].label == 1 {
			frauds++
		}
	}
	assert.Equal(t, 4, frauds, "a quarter of the golden rows are fraud")
}
