package scorer_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/synthetic"
)

// TestImpactMissingAsZero measures why missing inputs must be NaN, never 0
// (docs/adr/0004-feature-set.md): on 20k synthetic events it counts how many
// decisions of the bundled model change when every NaN is replaced by 0.
// Run with -v to see the figures.
func TestImpactMissingAsZero(t *testing.T) {
	l := testenv.BundledModel(t)
	pol, err := scorer.NewPolicy("t", l.Meta.Thresholds.Review, l.Meta.Thresholds.Decline)
	require.NoError(t, err)
	g := synthetic.New(synthetic.Config{Seed: 11})
	const n = 20_000
	vec := make([]float64, l.Extractor.Len())
	withMissing, changed, frauds, fraudsMissed := 0, 0, 0, 0
	var maxShift float64
	for i := 0; i < n; i++ {
		ev, lbl := g.Next()
		require.NoError(t, l.Extractor.Extract(&ev, vec))
		p, err := l.Model.Predict(vec)
		require.NoError(t, err)
		hasNaN := false
		for j, v := range vec {
			if math.IsNaN(v) {
				vec[j], hasNaN = 0, true
			}
		}
		if !hasNaN {
			continue
		}
		withMissing++
		q, err := l.Model.Predict(vec)
		require.NoError(t, err)
		maxShift = math.Max(maxShift, math.Abs(p-q))
		if pol.Decide(p) != pol.Decide(q) {
			changed++
		}
		if lbl.Fraud {
			frauds++
			if pol.Decide(p) != "approve" && pol.Decide(q) == "approve" {
				fraudsMissed++
			}
		}
	}
	t.Logf("%d of %d events have a missing input; encoding missing as 0 changes %d decisions (%.2f%% of those events), "+
		"moves a score by up to %.3f, and lets %d of %d such frauds through", withMissing, n, changed,
		100*float64(changed)/float64(withMissing), maxShift, fraudsMissed, frauds)
	assert.Positive(t, changed, "the model does not distinguish missing from 0: revisit ADR 0004")
}
