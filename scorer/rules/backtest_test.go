package rules_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

func TestBacktest(t *testing.T) {
	baseline, err := rules.Parse("base.yaml", []byte(`rules:
  - name: big_amount
    expression: event.amount_minor > 100000
    action: review
    examples:
      - {match: true, event: {amount_minor: 200000}}
      - {match: false}
`), "v1")
	require.NoError(t, err)
	candidate, err := rules.Parse("cand.yaml", []byte(`rules:
  - name: big_amount
    expression: event.amount_minor > 100000
    action: review
    examples:
      - {match: true, event: {amount_minor: 200000}}
      - {match: false}
  - name: nigeria_ip
    expression: event.ip_country == "NG"
    action: decline
    examples:
      - {match: true, event: {ip_country: NG}}
      - {match: false}
  - name: vip
    expression: event.card_token == "tok_vip"
    action: allow
    examples:
      - {match: true, event: {card_token: tok_vip}}
      - {match: false}
`), "v2")
	require.NoError(t, err)
	b := rules.NewBacktest(candidate, baseline)
	add := func(edit func(ev *contracts.TransactionEvent), d contracts.Decision, l rules.Label) {
		ev := rules.ExampleEvent()
		edit(&ev)
		b.Add(&rules.Input{Event: &ev, Decision: d}, l)
	}
	add(func(ev *contracts.TransactionEvent) { ev.IPCountry = "NG" }, contracts.DecisionApprove, rules.LabelFraud)      // changed: decline
	add(func(ev *contracts.TransactionEvent) { ev.IPCountry = "NG" }, contracts.DecisionApprove, rules.LabelLegit)      // changed: decline, wrongly
	add(func(ev *contracts.TransactionEvent) { ev.AmountMinor = 500000 }, contracts.DecisionApprove, rules.LabelFraud)  // both review
	add(func(ev *contracts.TransactionEvent) { ev.CardToken = "tok_vip" }, contracts.DecisionDecline, rules.LabelLegit) // changed: allow
	add(func(ev *contracts.TransactionEvent) {}, contracts.DecisionApprove, rules.LabelFraud)                           // missed by all
	add(func(ev *contracts.TransactionEvent) {}, contracts.DecisionApprove, rules.LabelUnknown)                         // unlabelled
	r := b.Report()
	assert.Equal(t, 6, r.Transactions)
	assert.Equal(t, 3, r.Fraud)
	assert.Equal(t, 2, r.Legit)
	assert.Equal(t, 3, r.Changed)
	byName := map[string]rules.RuleStats{}
	for _, s := range r.Rules {
		byName[s.Rule.Name] = s
	}
	ng := byName["nigeria_ip"]
	assert.Equal(t, rules.RuleStats{Rule: ng.Rule, Decided: 2, Changed: 2, Fraud: 1, Legit: 1}, ng)
	p, ok := ng.Precision()
	assert.True(t, ok)
	assert.Equal(t, 0.5, p)
	rc, _ := ng.Recall(r.Fraud, r.Legit)
	assert.InDelta(t, 1.0/3, rc, 1e-12)
	big := byName["big_amount"]
	assert.Equal(t, 1, big.Decided)
	assert.Zero(t, big.Changed, "the baseline had the same rule")
	vip := byName["vip"]
	p, _ = vip.Precision()
	assert.Equal(t, 1.0, p, "allow is right on legit")

	// Policies: model alone flags 1 (the vip decline, legit); the baseline
	// adds big_amount; the candidate flags the two NG and big_amount.
	assert.Equal(t, [3]int{5, 0, 1}, r.Policies[0].Decisions)
	assert.Equal(t, [3]int{4, 1, 1}, r.Policies[1].Decisions)
	assert.Equal(t, [3]int{3, 1, 2}, r.Policies[2].Decisions)
	pr, _ := r.Policies[2].Precision()
	assert.InDelta(t, 2.0/3, pr, 1e-12)
	rc, _ = r.Policies[2].Recall(r.Fraud)
	assert.InDelta(t, 2.0/3, rc, 1e-12)

	var out bytes.Buffer
	require.NoError(t, r.WriteText(&out))
	assert.Contains(t, out.String(), "candidate v2 against v1: 6 transactions (3 labelled fraud, 2 legit), 3 decisions would change")
	assert.Regexp(t, `nigeria_ip +decline +2 +2 +1 +1 +0\.500 +0\.333`, out.String())
}
