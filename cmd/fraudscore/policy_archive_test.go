package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/worker/archive"
)

// TestBacktestFromArchive: a worker with FRAUDSCORE_ARCHIVE=true stores one
// archive copy per transaction, however often it is scored; `policy
// backtest -from-stream` over the archive joined with the first label of
// each transaction prints the same report as a backtest over the same
// events and labels from an NDJSON file.
func TestBacktestFromArchive(t *testing.T) {
	const n, again = 300, 40
	_, httpAddr, natsURL := readyWorker(t, "FRAUDSCORE_ARCHIVE=true", "FRAUDSCORE_LABELS=true")
	js := natstest.JetStream(t, natsURL)

	g := synthetic.New(synthetic.Config{Seed: 23, FraudRate: 0.2})
	evs := make([]contracts.TransactionEvent, n)
	fraud := make([]bool, n)
	for i := range evs {
		var l synthetic.Label
		evs[i], l = g.Next()
		fraud[i] = l.Fraud
	}
	// Published without Nats-Msg-Id: the first `again` events are stored
	// twice in TRANSACTIONS and scored twice, as a producer's late retry
	// or a redelivery would have them.
	natstest.PublishEvents(t, js, contracts.SubjectTransactionsPrefix+"card", evs)
	natstest.PublishEvents(t, js, contracts.SubjectTransactionsPrefix+"card", evs[:again])

	// Labels for two transactions in three (the generator's ground truth),
	// then a contradicting second label for the first labelled one: the
	// first label counts.
	outcome := func(fraud bool) contracts.Outcome {
		if fraud {
			return contracts.OutcomeFraud
		}
		return contracts.OutcomeLegit
	}
	label := map[string]contracts.Outcome{}
	publishLabel := func(id string, o contracts.Outcome) {
		t.Helper()
		raw, err := json.Marshal(contracts.Label{SchemaVersion: contracts.LabelSchemaV1, TransactionID: id, Label: o,
			Source: "review", ReportedAt: time.Now().UTC()})
		require.NoError(t, err)
		_, err = js.Publish(context.Background(), contracts.SubjectLabelsPrefix+"review", raw)
		require.NoError(t, err)
	}
	for i := range evs {
		if i%3 == 0 {
			continue
		}
		label[evs[i].TransactionID] = outcome(fraud[i])
		publishLabel(evs[i].TransactionID, outcome(fraud[i]))
	}
	publishLabel(evs[1].TransactionID, outcome(!fraud[1]))

	// Every publish, first and repeated, reaches the archive's PubAck; the
	// repeats are the fault, and they must have happened.
	metric := func(result string) string {
		return fmt.Sprintf("fraudscore_archive_publishes_total{result=%q} ", result)
	}
	require.Eventually(t, func() bool {
		m := testenv.HTTPBody(t, "http://"+httpAddr+"/metrics")
		return strings.Contains(m, metric("stored")+fmt.Sprint(n)+"\n") &&
			strings.Contains(m, metric("duplicate")+fmt.Sprint(again)+"\n")
	}, 60*time.Second, 50*time.Millisecond, "archive publishes: %d stored and %d duplicates", n, again)
	assert.NotContains(t, testenv.HTTPBody(t, "http://"+httpAddr+"/metrics"), metric("failed")+"1")

	// Exactly n archived events, one per transaction id, as published.
	ctx := context.Background()
	info, err := js.Stream(ctx, archive.DefaultStream)
	require.NoError(t, err)
	assert.Equal(t, uint64(n), info.CachedInfo().State.Msgs)
	want := map[string]contracts.TransactionEvent{}
	for _, ev := range evs {
		want[ev.TransactionID] = ev
	}
	got := map[string][]byte{} // ev is reused by Read: keep its encoding
	st, err := archive.Read(ctx, js, archive.Options{}, func(m archive.Meta, ev *contracts.TransactionEvent) error {
		assert.Equal(t, contracts.SubjectArchivePrefix+"card", m.Subject)
		_, dup := got[ev.TransactionID]
		assert.False(t, dup, "transaction %s archived twice", ev.TransactionID)
		raw, err := json.Marshal(ev)
		got[ev.TransactionID] = raw
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, archive.Stats{Events: n}, st)
	require.Len(t, got, n)
	for id, ev := range want {
		wantJSON, _ := json.Marshal(ev)
		assert.JSONEq(t, string(wantJSON), string(got[id]), "transaction %s", id)
	}

	// The same events and first labels as NDJSON.
	var nd strings.Builder
	for _, ev := range evs {
		line := map[string]any{"event": ev}
		if l, ok := label[ev.TransactionID]; ok {
			line["label"] = string(l)
		}
		raw, err := json.Marshal(line)
		require.NoError(t, err)
		nd.Write(raw)
		nd.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "traffic.ndjson")
	require.NoError(t, os.WriteFile(file, []byte(nd.String()), 0o600))

	dir, v := bundledPolicy(t)
	models := "-models=" + testenv.ModelDir(t)
	fromFile := runBin(t, "", nil, "policy", "backtest", "-dir", dir, models, "-baseline", "none", v, file)
	require.Zero(t, fromFile.code, fromFile.stderr)
	fromStream := runBin(t, "", nil, "policy", "backtest", "-dir", dir, models, "-baseline", "none", "-from-stream", "-url", natsURL, v)
	require.Zero(t, fromStream.code, fromStream.stderr)
	assert.Equal(t, fromFile.stdout, fromStream.stdout)
	fr := 0
	for _, l := range label {
		if l == contracts.OutcomeFraud {
			fr++
		}
	}
	assert.Contains(t, fromStream.stdout, fmt.Sprintf(": %d transactions (%d labelled fraud, %d legit)", n, fr, len(label)-fr))
	assert.Contains(t, fromStream.stderr, fmt.Sprintf("%d archived transactions from ARCHIVE (%d labelled, 0 undecodable skipped)", n, len(label)))

	// -last and -since select from the archive.
	last := runBin(t, "", nil, "policy", "backtest", "-dir", dir, models, "-baseline", "none", "-from-stream", "-url", natsURL, "-last", "10", v)
	require.Zero(t, last.code, last.stderr)
	assert.Contains(t, last.stdout, ": 10 transactions (")
	since := runBin(t, "", nil, "policy", "backtest", "-dir", dir, models, "-baseline", "none", "-from-stream", "-url", natsURL, "-since", "1h", v)
	require.Zero(t, since.code, since.stderr)
	assert.Equal(t, fromStream.stdout, since.stdout)

	// Usage mistakes.
	for _, args := range [][]string{
		{"-from-stream", v, file}, {"-from-stream", "-synthetic", "5", v}, {"-last", "5", v}, {"-from-stream", "-last", "5", "-since", "1h", v},
	} {
		r := runBin(t, "", nil, append([]string{"policy", "backtest", "-dir", dir, models}, args...)...)
		assert.Equal(t, 2, r.code, "%v is a usage error: %s", args, r.stderr)
	}
}

// TestArchiveOff: without FRAUDSCORE_ARCHIVE the worker creates no archive
// stream and publishes nothing there, and a backtest from the stream says
// where the archive comes from.
func TestArchiveOff(t *testing.T) {
	_, httpAddr, natsURL := readyWorker(t)
	js := natstest.JetStream(t, natsURL)
	natstest.PublishEvents(t, js, contracts.SubjectTransactionsPrefix+"card", synthEvents(synthetic.Config{Seed: 3}, 20))
	ctx := context.Background()
	require.Eventually(t, func() bool {
		s, err := js.Stream(ctx, "VERDICTS")
		return err == nil && s.CachedInfo().State.Msgs == 20
	}, 30*time.Second, 50*time.Millisecond, "20 verdicts")
	_, err := js.Stream(ctx, archive.DefaultStream)
	assert.True(t, errors.Is(err, jetstream.ErrStreamNotFound), "ARCHIVE exists with the archive off: %v", err)
	assert.NotContains(t, testenv.HTTPBody(t, "http://"+httpAddr+"/metrics"), "fraudscore_archive_publishes_total{")

	dir, v := bundledPolicy(t)
	r := runBin(t, "", nil, "policy", "backtest", "-dir", dir, "-models="+testenv.ModelDir(t), "-from-stream", "-url", natsURL, v)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "stream not found (the workers store it with FRAUDSCORE_ARCHIVE=true)")
}

// TestBacktestFromArchiveWithVelocity: with FRAUDSCORE_VELOCITY=kv the
// worker computes the velocity of raw events, and the archive keeps each
// event as scored, with those aggregates (the ones its verdict's features
// show), so `policy backtest -from-stream` scores what the worker scored:
// its "model alone" row has the decisions the worker (which runs no rule
// set here) stored.
func TestBacktestFromArchiveWithVelocity(t *testing.T) {
	const n = 300
	_, _, natsURL := readyWorker(t, "FRAUDSCORE_ARCHIVE=true", "FRAUDSCORE_VELOCITY=kv", "FRAUDSCORE_VERDICT_FEATURES=true",
		"FRAUDSCORE_CONCURRENCY=1")
	js := natstest.JetStream(t, natsURL)
	// Population traffic: raw events (no aggregates) of 25 cards paying
	// again and again, a simulated month ago.
	evs := synthEvents(synthetic.Config{Seed: 41, Start: time.Now().Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second),
		IDPrefix: "bv-", Population: &synthetic.Population{Cards: 25}}, n)
	for _, ev := range evs {
		require.Nil(t, ev.Aggregates, "population traffic is raw")
	}
	natstest.PublishEvents(t, js, contracts.SubjectTransactionsPrefix+"card", evs)
	vds := readVerdicts(t, js, n)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		s, err := js.Stream(ctx, archive.DefaultStream)
		return err == nil && s.CachedInfo().State.Msgs == n
	}, 30*time.Second, 50*time.Millisecond, "%d archived", n)

	repeats := 0
	st, err := archive.Read(ctx, js, archive.Options{}, func(_ archive.Meta, ev *contracts.TransactionEvent) error {
		vd := vds[ev.TransactionID]
		want, ok := vd.Features.Get("card_txn_count_1h")
		require.True(t, ok && !math.IsNaN(want), "%s: the verdict shows card_txn_count_1h", ev.TransactionID)
		require.NotNil(t, ev.Aggregates, "%s archived without the velocity it was scored with", ev.TransactionID)
		require.NotNil(t, ev.Aggregates.CardTxnCount1h, ev.TransactionID)
		assert.Equal(t, want, float64(*ev.Aggregates.CardTxnCount1h), ev.TransactionID)
		if *ev.Aggregates.CardTxnCount1h > 0 {
			repeats++
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, archive.Stats{Events: n}, st)
	require.Positive(t, repeats, "some cards paid again within the hour (the velocity is not all zero)")

	dir, v := bundledPolicy(t)
	decided := map[contracts.Decision]int{}
	for _, vd := range vds {
		require.Empty(t, vd.RulesVersion, "the worker ran the model alone")
		decided[vd.Decision]++
	}
	r := runBin(t, "", nil, "policy", "backtest", "-dir", dir, "-models="+testenv.ModelDir(t), "-baseline", "none", "-from-stream", "-url", natsURL, v)
	require.Zero(t, r.code, r.stderr)
	row := fmt.Sprintf("model alone  %d  %d  %d  ", decided[contracts.DecisionApprove], decided[contracts.DecisionReview], decided[contracts.DecisionDecline])
	assert.Contains(t, strings.Join(strings.Fields(r.stdout), "  "), strings.Join(strings.Fields(row), "  ")+"  ",
		"the backtest's model alone decides as the worker did (%v):\n%s", decided, r.stdout)

	// The events as published (raw) score otherwise: velocity changed
	// decisions, so the match above is the archive's doing.
	var nd strings.Builder
	for _, ev := range evs {
		raw, err := json.Marshal(map[string]any{"event": ev})
		require.NoError(t, err)
		nd.Write(raw)
		nd.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "raw.ndjson")
	require.NoError(t, os.WriteFile(file, []byte(nd.String()), 0o600))
	raw := runBin(t, "", nil, "policy", "backtest", "-dir", dir, "-models="+testenv.ModelDir(t), "-baseline", "none", v, file)
	require.Zero(t, raw.code, raw.stderr)
	assert.NotContains(t, strings.Join(strings.Fields(raw.stdout), "  "), strings.Join(strings.Fields(row), "  ")+"  ",
		"without velocity the same events decide otherwise:\n%s", raw.stdout)
}
