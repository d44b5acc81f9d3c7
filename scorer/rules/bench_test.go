package rules_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

// typicalSet loads testenv.TypicalRules(n, numeric): comparisons, set
// membership, string prefixes, none matching benchEvent.
func typicalSet(tb testing.TB, n int, numeric bool) *rules.Set {
	tb.Helper()
	s, err := rules.Parse("typical.yaml", []byte(testenv.TypicalRules(n, numeric)), "typical")
	require.NoError(tb, err)
	require.Equal(tb, n, s.Len())
	return s
}

func benchEvent() *rules.Input {
	ev := rules.ExampleEvent()
	ev.AmountMinor = 4200
	ev.IPCountry = "FR"
	return &rules.Input{Event: &ev, Score: 0.12, Decision: contracts.DecisionApprove, ModelVersion: "v1"}
}

// BenchmarkEvaluate50: a set of 50 typical rules, none matching, so every
// rule is evaluated. ns/op divided by 50 is the cost per rule.
func BenchmarkEvaluate50(b *testing.B) {
	for _, numeric := range []bool{false, true} {
		name := "strings"
		if numeric {
			name = "with_numbers"
		}
		b.Run(name, func(b *testing.B) {
			s := typicalSet(b, 50, numeric)
			in := benchEvent()
			b.ReportAllocs()
			for b.Loop() {
				if out := s.Evaluate(in, nil); out.Rule != -1 {
					b.Fatalf("rule %s matched", out.RuleName)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/50, "ns/rule")
		})
	}
}

// TestEvaluateDoesNotAllocate: rules over strings of bounded sets
// (countries, MCC, channel, currency codes made of letters) evaluate with
// no allocation; numbers above 255 and the score box once per event and
// name, shared by every rule that reads them.
func TestEvaluateDoesNotAllocate(t *testing.T) {
	if testenv.RaceAllocs > 0 {
		// sync.Pool drops a quarter of its Puts under -race, and CEL takes
		// an execution frame from a pool for each of the 50 rules.
		t.Skip("allocation counts do not hold under the race detector")
	}
	s := typicalSet(t, 50, false)
	in := benchEvent()
	s.Evaluate(in, nil)
	if n := testing.AllocsPerRun(200, func() { s.Evaluate(in, nil) }); n != 0 {
		t.Fatalf("%v allocations per evaluation, want 0", n)
	}
	s = typicalSet(t, 50, true)
	s.Evaluate(in, nil)
	if n := testing.AllocsPerRun(200, func() { s.Evaluate(in, nil) }); n > 4 {
		t.Fatalf("%v allocations per evaluation, want at most 4 (amount, score, merchant id, account age once each)", n)
	}
}
