package main

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/synthetic"
)

// With FRAUDSCORE_VERDICT_FEATURES=true the worker stores verdicts (and
// answers requests) carrying the features the model saw: read back from
// VERDICTS by transaction id, each equals what the bundled model's
// extractor makes of the event as published, in the model's order, a
// missing input as null.
func TestWorkerVerdictsCarryFeatures(t *testing.T) {
	_, _, url := readyWorker(t, "FRAUDSCORE_VERDICT_FEATURES=true")
	js := natstest.JetStream(t, url)
	bundled := testenv.BundledModel(t)

	evs := synthEvents(synthetic.Config{Seed: 13, Now: time.Now, IDPrefix: "features-", FraudRate: 0.3}, 40)
	for i := 0; i < len(evs); i += 4 { // no aggregates upstream: the velocity features are missing
		evs[i].Aggregates = nil
	}
	natstest.PublishEvents(t, js, "payments.transactions.test", evs[:30])

	missing := 0
	check := func(ev *contracts.TransactionEvent, vd *contracts.Verdict) {
		t.Helper()
		row := make([]float64, bundled.Extractor.Len())
		require.NoError(t, bundled.Extractor.Extract(ev, row))
		require.Len(t, vd.Features, len(row), ev.TransactionID)
		for i, f := range vd.Features {
			require.Equal(t, bundled.Meta.Features[i], f.Name, "%s: features[%d]", ev.TransactionID, i)
			if math.IsNaN(row[i]) {
				require.True(t, math.IsNaN(f.Value), "%s: %s = %v, want null", ev.TransactionID, f.Name, f.Value)
				missing++
				continue
			}
			require.Equal(t, row[i], f.Value, "%s: %s", ev.TransactionID, f.Name)
		}
		n, ok := vd.Features.Get("card_txn_count_1h")
		require.True(t, ok)
		if a := ev.Aggregates; a != nil && a.CardTxnCount1h != nil {
			require.Equal(t, float64(*a.CardTxnCount1h), n, ev.TransactionID)
		} else {
			require.True(t, math.IsNaN(n), "%s: card_txn_count_1h = %v, want null", ev.TransactionID, n)
		}
	}

	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	for i := 30; i < len(evs); i++ {
		data, _ := json.Marshal(&evs[i])
		resp, err := nc.Request(contracts.SubjectScore, data, 10*time.Second)
		require.NoError(t, err)
		var vd contracts.Verdict
		require.NoError(t, contracts.DecodeVerdict(resp.Data, &vd), "%s", resp.Data)
		check(&evs[i], &vd)
	}
	stored := readVerdicts(t, js, len(evs)) // request-reply verdicts are audited into VERDICTS too
	for i := range evs {
		vd, ok := stored[evs[i].TransactionID]
		require.True(t, ok, "no stored verdict for %s", evs[i].TransactionID)
		check(&evs[i], &vd)
	}
	require.Positive(t, missing, "some features were missing: null was stored and read back")
}
