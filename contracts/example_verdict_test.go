package contracts_test

import (
	"fmt"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
)

// A verdict decided by the champion while a challenger scored the same
// transaction in shadow: encode it, read it back and validate it, as a
// consumer of the VERDICTS stream does.
func ExampleVerdict_shadow() {
	vd := contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1,
		TransactionID: "txn_1",
		Decision:      contracts.DecisionApprove,
		Score:         0.125,
		ModelVersion:  "v20250601_120000",
		PolicyVersion: "policy-1",
		Shadow: []contracts.ShadowResult{{
			ModelVersion:  "v20250701_120000",
			PolicyVersion: "policy-1",
			Score:         0.625,
			Decision:      contracts.DecisionReview,
		}},
		ScoredAt:      time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		ScoringMicros: 42,
	}
	buf := vd.AppendJSON(make([]byte, 0, 512))
	fmt.Println(string(buf))

	var got contracts.Verdict
	if err := contracts.DecodeVerdict(buf, &got); err != nil {
		fmt.Println("invalid:", err)
		return
	}
	for _, s := range got.Shadow {
		fmt.Printf("%s decided %s; %s would have decided %s (score %.3f)\n",
			got.ModelVersion, got.Decision, s.ModelVersion, s.Decision, s.Score)
	}
	// Output:
	// {"schema_version":"verdict.v1","transaction_id":"txn_1","decision":"approve","score":0.125,"model_version":"v20250601_120000","policy_version":"policy-1","reasons":[],"shadow":[{"model_version":"v20250701_120000","policy_version":"policy-1","score":0.625,"decision":"review"}],"scored_at":"2025-06-01T12:00:00Z","scoring_us":42}
	// v20250601_120000 decided approve; v20250701_120000 would have decided review (score 0.625)
}

// A declined verdict with its reason codes and their detail: a consumer
// reads why, code by code, with the feature value the model saw (NaN when
// the input was missing) and the contribution in log-odds.
func ExampleVerdict_reasons() {
	vd := contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1,
		TransactionID: "txn_2",
		Decision:      contracts.DecisionDecline,
		Score:         0.96875,
		ModelVersion:  "v20250601_120000",
		PolicyVersion: "v20250601_120000/model",
		Reasons:       []string{"IP_CARD_COUNTRY_MISMATCH", "NEW_DEVICE"},
		ReasonDetails: []contracts.ReasonDetail{
			{Code: "IP_CARD_COUNTRY_MISMATCH", Feature: "ip_card_country_mismatch", Value: 1, Contribution: 2.5},
			{Code: "NEW_DEVICE", Feature: "new_device", Value: 1, Contribution: 0.75},
		},
		ScoredAt:      time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		ScoringMicros: 40,
	}
	buf := vd.AppendJSON(make([]byte, 0, 512))
	fmt.Println(string(buf))

	var got contracts.Verdict
	if err := contracts.DecodeVerdict(buf, &got); err != nil {
		fmt.Println("invalid:", err)
		return
	}
	for _, d := range got.ReasonDetails {
		fmt.Printf("%s: %s = %g pushed the log-odds up by %g\n", d.Code, d.Feature, d.Value, d.Contribution)
	}
	// Output:
	// {"schema_version":"verdict.v1","transaction_id":"txn_2","decision":"decline","score":0.96875,"model_version":"v20250601_120000","policy_version":"v20250601_120000/model","reasons":["IP_CARD_COUNTRY_MISMATCH","NEW_DEVICE"],"reason_details":[{"code":"IP_CARD_COUNTRY_MISMATCH","feature":"ip_card_country_mismatch","value":1,"contribution":2.5},{"code":"NEW_DEVICE","feature":"new_device","value":1,"contribution":0.75}],"scored_at":"2025-06-01T12:00:00Z","scoring_us":40}
	// IP_CARD_COUNTRY_MISMATCH: ip_card_country_mismatch = 1 pushed the log-odds up by 2.5
	// NEW_DEVICE: new_device = 1 pushed the log-odds up by 0.75
}

// A verdict an analyst rule decided: the model approved, the rule
// cross_border of rule set v20261202_101500 raised the decision to review.
// A consumer tells rule decisions from model decisions by Rule.
func ExampleVerdict_rule() {
	vd := contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1,
		TransactionID: "txn_3",
		Decision:      contracts.DecisionReview,
		Score:         0.375,
		ModelVersion:  "v20250601_120000",
		PolicyVersion: "policy-1",
		Rule:          "cross_border",
		RulesVersion:  "v20261202_101500",
		ScoredAt:      time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		ScoringMicros: 42,
	}
	buf := vd.AppendJSON(nil)
	fmt.Println(string(buf))

	var got contracts.Verdict
	if err := contracts.DecodeVerdict(buf, &got); err != nil {
		fmt.Println("invalid:", err)
		return
	}
	if got.Rule != "" {
		fmt.Printf("rule %s (set %s) decided %s; the model scored %.3f\n", got.Rule, got.RulesVersion, got.Decision, got.Score)
	}
	// Output:
	// {"schema_version":"verdict.v1","transaction_id":"txn_3","decision":"review","score":0.375,"model_version":"v20250601_120000","policy_version":"policy-1","reasons":[],"rule":"cross_border","rules_version":"v20261202_101500","scored_at":"2025-06-01T12:00:00Z","scoring_us":42}
	// rule cross_border (set v20261202_101500) decided review; the model scored 0.375
}
