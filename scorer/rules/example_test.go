package rules_test

import (
	"fmt"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/rules"
)

// A rule set parsed from YAML (its examples run at load) and applied to a
// transaction the model approved: the review rule raises the decision and
// is named as the one that decided.
func Example() {
	set, err := rules.Parse("rules.yaml", []byte(`rules:
  - name: cross_border
    description: card and IP in different countries with an elevated score
    expression: event.ip_country != "" && event.card_country != event.ip_country && score >= 0.01
    action: review
    examples:
      - {match: true, event: {card_country: FR, ip_country: NG}, score: 0.02}
      - {match: false, event: {card_country: FR, ip_country: FR}, score: 0.02}
`), "v20261202_110000")
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	ev := rules.ExampleEvent()
	ev.IPCountry = "NG"
	out := set.Evaluate(&rules.Input{Event: &ev, Score: 0.015, Decision: contracts.DecisionApprove}, nil)
	fmt.Printf("%s by %s (set %s)\n", out.Decision, out.RuleName, set.Version())

	_, err = rules.Parse("typo.yaml", []byte(`rules:
  - name: typo
    expression: event.ip > 1
    action: review
`), "v2")
	fmt.Println(err)
	// Output:
	// review by cross_border (set v20261202_110000)
	// typo.yaml:3: rule typo: rules: unknown name in expression: "event.ip" is not a declared variable (docs/rules.md lists them) (column 1)
}
