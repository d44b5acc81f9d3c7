package rules

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/cel-go/common/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
)

// prefilterRules are expressions of every shape the prefilter reads or must
// leave alone, with whether it should find one and on which variable.
var prefilterRules = []struct {
	expr string
	on   string // the variable prefiltered, "" for none
}{
	{`event.channel == "atm" && score > 0.5`, "event.channel"},
	{`"atm" == event.channel && score > 0.5`, "event.channel"},
	{`score > 0.2 && event.card_country in ["NG", "GH"] && event.mcc == "7995"`, "event.mcc"},
	{`event.card_country in ["NG", "GH", "CI"] && event.ip_country != event.card_country`, "event.card_country"},
	{`event.channel == "atm" && (event.mcc == "6011" || event.mcc == "6051")`, "event.channel"},
	{`decision == "review" && event.merchant_country in ["RU", "BY"]`, "decision"},
	{`(event.channel == "atm" && score > 0.5) || event.card_country == "NG"`, ""},
	{`!(event.channel == "atm")`, ""},
	{`event.channel != "atm"`, ""},
	{`event.mcc.startsWith("60") && event.amount_minor > 1000`, ""},
	{`event.amount_minor == 1000 && score > 0.1`, ""},
	{`challenger.decision.orValue("") == "decline" && event.currency == "EUR"`, "event.currency"},
	{`event.ip_country == "" && event.channel in ["ecommerce", "moto"]`, "event.ip_country"},
}

// TestPrefilterAgreesWithCEL: with its prefilter, a rule matches exactly
// the events it matches without one, over random events.
func TestPrefilterAgreesWithCEL(t *testing.T) {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i, r := range prefilterRules {
		b.WriteString("  - name: r" + string(rune('a'+i)) + "\n    expression: '" + r.expr + "'\n    action: review\n    examples: []\n")
	}
	s, err := parseUnchecked(b.String())
	require.NoError(t, err)
	for i, r := range prefilterRules {
		pre := s.rules[i].pre
		if r.on == "" {
			assert.Nil(t, pre, r.expr)
			continue
		}
		if assert.NotNil(t, pre, r.expr) {
			assert.Equal(t, r.on, declared().vars[pre.id].Name, r.expr)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	prefiltered := 0
	for range 3000 {
		ev := ExampleEvent()
		ev.Channel = contracts.Channel(pick("atm", "ecommerce", "moto", "card_present"))
		ev.CardCountry, ev.MerchantCountry = pick("NG", "GH", "FR", "RU"), pick("RU", "BY", "FR")
		ev.IPCountry = pick("", "NG", "FR")
		ev.MCC, ev.Currency = pick("7995", "6011", "6051", "5411", "6000"), pick("EUR", "USD")
		ev.AmountMinor = int64(pick("1000", "5")[0]-'0') * 1000
		in := &Input{Event: &ev, Score: rng.Float64(), Decision: contracts.Decisions[rng.IntN(3)]}
		if rng.IntN(2) == 0 {
			in.Challenger = &contracts.ShadowResult{Decision: contracts.Decisions[rng.IntN(3)]}
		}
		for i := range s.rules {
			got, _ := s.Matches(i, in)
			a := &activation{}
			a.reset(in)
			v, _, err := s.rules[i].prg.Eval(a)
			want := err == nil && v == types.True
			require.Equal(t, want, got, "%s on %+v", prefilterRules[i].expr, ev)
			if s.rules[i].pre != nil && !s.rules[i].pre.pass(in) {
				prefiltered++
			}
		}
	}
	assert.Positive(t, prefiltered, "the prefilters skipped CEL")
}
