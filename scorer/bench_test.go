package scorer_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/drift"
	"github.com/fraudscore/fraudscore/scorer/features"
)

// typicalEvent is a complete e-commerce event: every optional field set.
const typicalEvent = "../contracts/testdata/events/valid/ecommerce_full.json"

// benchRows returns feature rows of synthetic events in the model's order.
func benchRows(b *testing.B, x *features.Extractor, n int) [][]float64 {
	evs := sampleEvents(b, n)
	rows := make([][]float64, len(evs))
	for i := range evs {
		rows[i] = make([]float64, x.Len())
		require.NoError(b, x.Extract(&evs[i], rows[i]))
	}
	return rows
}

// BenchmarkPredict is the bundled model alone on pre-extracted rows.
func BenchmarkPredict(b *testing.B) {
	l := testenv.BundledModel(b)
	rows := benchRows(b, l.Extractor, 256)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.Model.Predict(rows[i&255]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkScore is extract + predict + policy for one decoded event;
// drift=on adds the drift accounting of the worker (the feature row and
// score into the version's drift window), so the difference is drift's
// cost per event.
func BenchmarkScore(b *testing.B) {
	l := testenv.BundledModel(b)
	s, err := scorer.New(l, scorer.Options{})
	require.NoError(b, err)
	evs := sampleEvents(b, 256)
	mon, err := drift.NewMonitor(l.Version, l.Meta.Features, drift.BaselineFrom(l.Meta), drift.DefaultWindow)
	require.NoError(b, err)
	for _, bc := range []struct {
		name string
		obs  scorer.RowObserver
	}{{"drift=off", nil}, {"drift=on", mon}} {
		b.Run(bc.name, func(b *testing.B) {
			var vd contracts.Verdict
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.ScoreObserved(&evs[i&255], &vd, bc.obs); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkDecodeAndScore is the whole in-process work for one message:
// decode and validate the JSON event, then score it.
func BenchmarkDecodeAndScore(b *testing.B) {
	raw, err := os.ReadFile(typicalEvent)
	require.NoError(b, err)
	s, err := scorer.New(testenv.BundledModel(b), scorer.Options{})
	require.NoError(b, err)
	v := contracts.NewValidator()
	v.Now = farFuture
	var ev contracts.TransactionEvent
	var vd contracts.Verdict
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.DecodeEvent(raw, &ev); err != nil {
			b.Fatal(err)
		}
		if err := s.Score(&ev, &vd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScoreParallel is Score from GOMAXPROCS goroutines sharing one
// Scorer, as the worker's consumers do.
func BenchmarkScoreParallel(b *testing.B) {
	s, err := scorer.New(testenv.BundledModel(b), scorer.Options{})
	require.NoError(b, err)
	evs := sampleEvents(b, 256)
	b.ReportAllocs()
	b.ResetTimer() // RunParallel, unlike b.Loop, counts the setup otherwise
	b.RunParallel(func(pb *testing.PB) {
		var vd contracts.Verdict
		i := 0
		for pb.Next() {
			if err := s.Score(&evs[i&255], &vd); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkScoreReasons is Score with each reason mode at the synthetic
// traffic mix of sampleEvents (fraud over-represented): off computes no
// contributions, flagged explains review and decline verdicts, all every
// verdict, so all is the cost of an explained verdict and flagged what the
// worker pays on this mix.
func BenchmarkScoreReasons(b *testing.B) {
	l := testenv.BundledModel(b)
	evs := sampleEvents(b, 256)
	for _, mode := range scorer.ReasonModes {
		s, err := scorer.New(l, scorer.Options{Reasons: mode, ReasonsTop: 3})
		require.NoError(b, err)
		b.Run("reasons="+mode, func(b *testing.B) {
			var vd contracts.Verdict
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Score(&evs[i&255], &vd); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
