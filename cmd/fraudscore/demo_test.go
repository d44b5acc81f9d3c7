package main

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/worker/archive"
)

// TestDemoTraffic: the demo sends a population's raw streams: valid events
// without aggregates, in event-time order and never in the future, ids
// that cannot pass for a card number, at most demoCards cards that come
// back within the hour, and 10 000 of them (a drift window) span more than
// a simulated day. When the simulated clock would pass the wall clock, a
// new population starts, with new tokens, and its events are in the past.
func TestDemoTraffic(t *testing.T) {
	now := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	v := contracts.NewValidator()
	v.Now = func() time.Time { return now }
	d := newDemoTraffic(7)
	prefix := regexp.MustCompile(`^demo-[0-9a-z]+g1_`)
	lastSeen := map[string]time.Time{}
	var first, last time.Time
	comeBack, fraud := 0, 0
	for i := range 10_000 {
		ev, lbl := d.next(now)
		require.NoError(t, v.ValidateEvent(&ev), "event %d", i)
		require.Nil(t, ev.Aggregates, "event %d: raw, the worker computes velocity", i)
		require.False(t, ev.EventTime.After(now), "event %d in the future", i)
		require.False(t, ev.EventTime.Before(last), "event %d out of order", i)
		if i == 0 {
			first = ev.EventTime
		}
		last = ev.EventTime
		require.Regexp(t, prefix, ev.TransactionID)
		require.Regexp(t, prefix, ev.CardToken)
		for _, s := range []string{ev.TransactionID, ev.CardToken, ev.DeviceID} {
			require.False(t, contracts.LooksLikePAN(s), s)
		}
		if seen, ok := lastSeen[ev.CardToken]; ok && ev.EventTime.Sub(seen) < time.Hour {
			comeBack++
		}
		lastSeen[ev.CardToken] = ev.EventTime
		if lbl.Fraud {
			fraud++
		}
	}
	assert.LessOrEqual(t, len(lastSeen), demoCards)
	assert.Greater(t, comeBack, 500, "cards paying again within the hour")
	assert.Greater(t, fraud, 0)
	assert.Greater(t, last.Sub(first), 24*time.Hour, "a drift window of demo traffic spans a simulated day")
	assert.True(t, now.Sub(first) <= demoHistory, "the simulated clock starts %s before the wall clock", demoHistory)

	// A wall clock behind the simulated one (as after demoHistory of
	// simulated time) starts a new population.
	behind := last.Add(-time.Minute)
	ev, _ := d.next(behind)
	assert.False(t, ev.EventTime.After(behind), "the new population's event is not in the future")
	assert.Regexp(t, `^demo-[0-9a-z]+g2_`, ev.TransactionID)
	assert.NotContains(t, lastSeen, ev.CardToken, "no card shared with the previous population")
}

// TestDemoVelocity: `make run`'s setting (FRAUDSCORE_VELOCITY=kv) with the
// demo on: the demo sends raw events (TestDemoTraffic) whose cards come
// back, the verdicts (FRAUDSCORE_VERDICT_FEATURES=true) carry velocity the
// worker computed (a card's earlier payments within the hour), and the
// archive keeps each event as scored, with that velocity.
func TestDemoVelocity(t *testing.T) {
	_, httpAddr, natsURL := readyWorker(t, "FRAUDSCORE_VELOCITY=kv", "FRAUDSCORE_VERDICT_FEATURES=true",
		"FRAUDSCORE_ARCHIVE=true", "FRAUDSCORE_DEMO_RATE=200")
	js := natstest.JetStream(t, natsURL)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// Poll VERDICTS until a verdict shows a card that paid earlier within
	// the hour (polling, not synchronisation: bounded by ctx).
	repeated, repeatedCount := "", 0.0
	for repeated == "" {
		c, err := js.OrderedConsumer(ctx, "VERDICTS", jetstream.OrderedConsumerConfig{})
		require.NoError(t, err)
		batch, err := c.FetchNoWait(2000)
		require.NoError(t, err)
		for m := range batch.Messages() {
			var vd contracts.Verdict
			require.NoError(t, contracts.DecodeVerdict(m.Data(), &vd))
			require.NotEmpty(t, vd.Features, "%s: the verdict carries its features", vd.TransactionID)
			if n, ok := vd.Features.Get(features.CardTxnCount1h); ok && n >= 1 && repeated == "" {
				repeated, repeatedCount = vd.TransactionID, n
			}
		}
		if repeated == "" {
			select {
			case <-ctx.Done():
				t.Fatal("no demo verdict with card_txn_count_1h >= 1")
			case <-time.After(500 * time.Millisecond):
			}
		}
	}

	// The archive copy follows the verdict's publish: read until it is
	// stored (bounded by ctx).
	var cards map[string]int
	found := false
	for !found {
		cards = map[string]int{}
		_, err := archive.Read(ctx, js, archive.Options{}, func(_ archive.Meta, ev *contracts.TransactionEvent) error {
			if assert.NotNil(t, ev.Aggregates, "%s: archived as scored, with the velocity the worker computed", ev.TransactionID) &&
				ev.TransactionID == repeated {
				found = true
				if assert.NotNil(t, ev.Aggregates.CardTxnCount1h) {
					assert.Equal(t, repeatedCount, float64(*ev.Aggregates.CardTxnCount1h), "%s: archived with its verdict's velocity", repeated)
				}
			}
			cards[ev.CardToken]++
			return nil
		})
		require.NoError(t, err, "%s archived", repeated)
	}
	again := 0
	for _, n := range cards {
		if n > 1 {
			again++
		}
	}
	assert.Positive(t, again, "cards that paid more than once, of %d", len(cards))
	page := testenv.HTTPBody(t, "http://"+httpAddr+"/metrics")
	assert.Positive(t, metricValue(page, `fraudscore_velocity_updates_total{key="card"}`))
}
