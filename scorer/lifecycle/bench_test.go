package lifecycle_test

import (
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer"
	"github.com/fraudscore/fraudscore/scorer/lifecycle"
	"github.com/fraudscore/fraudscore/synthetic"
)

// BenchmarkScoreLoadMix is Lifecycle.Score, what the worker calls per
// message, on the load tester's traffic mix (the synthetic generator's
// default fraud rate, seed 1, as `make bench` sends it): with no challenger
// and reason codes off, then on flagged verdicts (the default), then with a
// challenger in shadow as well, then with the verdict carrying the
// features the model saw (FRAUDSCORE_VERDICT_FEATURES=true). The
// differences are what reason codes, a shadow challenger and the audit
// features cost the worker per verdict at that mix, beside the end-to-end
// ratios of `make bench-lifecycle`.
func BenchmarkScoreLoadMix(b *testing.B) {
	g := synthetic.New(synthetic.Config{Seed: 1})
	evs := make([]contracts.TransactionEvent, 4096)
	for i := range evs {
		evs[i], _ = g.Next()
	}
	for _, bc := range []struct {
		name       string
		challenger bool
		reasons    string
		features   bool
	}{
		{"challenger=none/reasons=off", false, scorer.ReasonsOff, false},
		{"challenger=none/reasons=flagged", false, scorer.ReasonsFlagged, false},
		{"challenger=shadow/reasons=flagged", true, scorer.ReasonsFlagged, false},
		{"challenger=none/reasons=off/features=on", false, scorer.ReasonsOff, true},
		{"challenger=shadow/reasons=flagged/features=on", true, scorer.ReasonsFlagged, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := lifecycle.DefaultConfig()
			cfg.ModelDir = testenv.ChampionChallengerStore(b, bc.challenger)
			cfg.Reasons = bc.reasons
			cfg.VerdictFeatures = bc.features
			lc, err := lifecycle.New(cfg, lifecycle.Options{Registerer: prometheus.NewRegistry(),
				Logger: slog.New(slog.DiscardHandler)})
			require.NoError(b, err)
			require.NoError(b, lc.Ready())
			if _, ch := lc.Versions(); (ch != "") != bc.challenger {
				b.Fatalf("challenger %q served, want one: %v", ch, bc.challenger)
			}
			var vd contracts.Verdict
			flagged := 0
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := lc.Score(&evs[i%len(evs)], &vd); err != nil {
					b.Fatal(err)
				}
				if vd.Decision != contracts.DecisionApprove {
					flagged++
				}
				i++
			}
			b.ReportMetric(float64(flagged)/float64(i), "flagged/op")
		})
	}
}
