package model_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
)

// TestExplainZeroAllocs: Contributions on the bundled model allocates
// nothing per call (the workspace is pooled per model).
func TestExplainZeroAllocs(t *testing.T) {
	l := testenv.BundledModel(t)
	rows := l.Meta.GoldenRows
	out := make([]float64, l.Model.NumFeatures()+1)
	i := 0
	allocs := testing.AllocsPerRun(500, func() {
		if err := l.Model.Contributions(rows[i%len(rows)].Features, out); err != nil {
			panic(err)
		}
		i++
	})
	require.Zero(t, allocs, "Contributions allocates")
}

// BenchmarkExplain is one row's exact contributions on the bundled model
// (its golden rows in turn): the cost an explained verdict adds to
// BenchmarkPredict's.
func BenchmarkExplain(b *testing.B) {
	l := testenv.BundledModel(b)
	rows := l.Meta.GoldenRows
	out := make([]float64, l.Model.NumFeatures()+1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := l.Model.Contributions(rows[i%len(rows)].Features, out); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
