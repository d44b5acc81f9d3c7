package contracts_test

import (
	"fmt"
	"math"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
)

// A verdict that carries the feature values the deciding model saw
// (FRAUDSCORE_VERDICT_FEATURES=true), in the model's feature order; a
// missing input is NaN in Go and null in JSON. An analyst reads the
// velocity behind a decline from it.
func ExampleVerdict_features() {
	vd := contracts.Verdict{
		SchemaVersion: contracts.VerdictSchemaV1,
		TransactionID: "txn_4",
		Decision:      contracts.DecisionDecline,
		Score:         0.9375,
		ModelVersion:  "v20250601_120000",
		PolicyVersion: "v20250601_120000/model",
		Features: contracts.FeatureValues{
			{Name: "log_amount", Value: 6.2166061010848646},
			{Name: "card_txn_count_1h", Value: 7},
			{Name: "card_amount_24h_minor", Value: 184250},
			{Name: "device_card_count_24h", Value: math.NaN()},
		},
		ScoredAt:      time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		ScoringMicros: 40,
	}
	buf := vd.AppendJSON(make([]byte, 0, 1024))
	fmt.Println(string(buf))

	var got contracts.Verdict
	if err := contracts.DecodeVerdict(buf, &got); err != nil {
		fmt.Println("invalid:", err)
		return
	}
	for _, f := range got.Features {
		fmt.Printf("%s = %g\n", f.Name, f.Value)
	}
	if n, ok := got.Features.Get("card_txn_count_1h"); ok {
		fmt.Printf("the card's transactions in the hour before: %g\n", n)
	}
	// Output:
	// {"schema_version":"verdict.v1","transaction_id":"txn_4","decision":"decline","score":0.9375,"model_version":"v20250601_120000","policy_version":"v20250601_120000/model","reasons":[],"features":{"log_amount":6.2166061010848646,"card_txn_count_1h":7,"card_amount_24h_minor":184250,"device_card_count_24h":null},"scored_at":"2025-06-01T12:00:00Z","scoring_us":40}
	// log_amount = 6.2166061010848646
	// card_txn_count_1h = 7
	// card_amount_24h_minor = 184250
	// device_card_count_24h = NaN
	// the card's transactions in the hour before: 7
}
