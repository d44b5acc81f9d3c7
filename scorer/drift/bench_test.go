package drift_test

import (
	"testing"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/drift"
)

// BenchmarkObserve is the drift accounting of one scored event of the
// bundled model (every feature and the score), the golden rows in turn.
func BenchmarkObserve(b *testing.B) {
	loaded := testenv.BundledModel(b)
	m, err := drift.NewMonitor(loaded.Version, loaded.Meta.Features, drift.BaselineFrom(loaded.Meta), drift.DefaultWindow)
	if err != nil {
		b.Skipf("bundled model: %v", err)
	}
	rows := loaded.Meta.GoldenRows
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &rows[i%len(rows)]
		m.Observe(r.Features, r.Probability)
		i++
	}
}
