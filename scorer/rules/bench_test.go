package rules_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

// typicalSet writes n typical rules (comparisons, set membership, string
// prefixes over event fields and the score), none of which matches
// benchEvent, so that every rule is evaluated. With numeric false, the
// rules read only strings of bounded sets (countries, MCC, channel).
func typicalSet(tb testing.TB, n int, numeric bool) *rules.Set {
	tb.Helper()
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		var expr string
		switch {
		case i%5 == 0:
			expr = fmt.Sprintf(`event.card_country in ["NG", "GH", "C%c", "KP", "IR"] && event.mcc == "%04d"`, 'A'+i%26, 7000+i)
		case i%5 == 1:
			expr = fmt.Sprintf(`event.merchant_country != event.card_country && event.channel == "atm" && event.ip_country == "Z%c"`, 'A'+i%26)
		case i%5 == 2:
			expr = fmt.Sprintf(`event.mcc.startsWith("6%d") && event.merchant_country in ["RU", "BY", "V%c"]`, i%10, 'A'+i%26)
		case i%5 == 3 && numeric:
			expr = fmt.Sprintf(`event.amount_minor > %d && score >= 0.%02d`, 100000+i*1000, 40+i%50)
		case i%5 == 3:
			expr = fmt.Sprintf(`event.ip_country != "" && event.ip_country != event.card_country && event.mcc == "%04d"`, 5000+i)
		case numeric:
			expr = fmt.Sprintf(`event.merchant_id.startsWith("m_watch_%d") || event.account_age_days < %d && score > 0.%d`, i, i%5, 3+i%6)
		default:
			expr = fmt.Sprintf(`event.channel in ["moto", "atm"] && event.currency == "XA%c"`, 'A'+i%26)
		}
		fmt.Fprintf(&b, "  - name: rule_%02d\n    expression: %q\n    action: %s\n    examples: []\n", i, expr, []string{"review", "decline"}[i%2])
	}
	s, err := rules.ParseUnchecked(b.String())
	require.NoError(tb, err)
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
	if raceEnabled {
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
