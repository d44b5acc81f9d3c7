package main

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/scorer/velocity"
	"github.com/fraudscore/fraudscore/synthetic"
)

// velocityEvents are n raw events (no aggregates) of one card at event
// times 10 minutes apart, ending an hour ago, on two devices in turn, in
// EUR but for the fifth (USD).
func velocityEvents(n int) []contracts.TransactionEvent {
	evs := synthEvents(synthetic.Config{Seed: 13, Now: time.Now, IDPrefix: "vel-"}, n)
	base := time.Now().Add(-time.Hour - time.Duration(n)*10*time.Minute).UTC().Truncate(time.Second)
	for i := range evs {
		evs[i].CardToken = "tok_velocity_e2e"
		evs[i].DeviceID = []string{"dev-velocity-a", "dev-velocity-b"}[i%2]
		evs[i].EventTime = base.Add(time.Duration(i) * 10 * time.Minute)
		evs[i].Currency = "EUR"
		evs[i].Aggregates = nil
	}
	evs[4].Currency = "USD"
	return evs
}

// publishWithID publishes ev with msgID as its Nats-Msg-Id and waits for
// its PubAck.
func publishWithID(t *testing.T, js jetstream.JetStream, ev *contracts.TransactionEvent, msgID string) {
	t.Helper()
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	m := &nats.Msg{Subject: "payments.transactions.test", Data: data, Header: nats.Header{contracts.HeaderMsgID: {msgID}}}
	ack, err := js.PublishMsg(context.Background(), m)
	require.NoError(t, err)
	require.False(t, ack.Duplicate, "the input stream took %s as a duplicate", msgID)
}

// bruteAggregates computes the velocity aggregates of the last of evs from
// the ones before it, by the definitions of docs/velocity.md (every event
// here is within the lateness bound and recorded in order; no device memory
// is full).
func bruteAggregates(evs []contracts.TransactionEvent) *contracts.Aggregates {
	x := evs[len(evs)-1]
	var (
		count1h, deviceCards int32
		amount24h            int64
		newDevice            = true
		cards                = map[string]bool{}
	)
	for _, e := range evs[:len(evs)-1] {
		age := x.EventTime.Sub(e.EventTime)
		if e.CardToken == x.CardToken {
			if age < time.Hour {
				count1h++
			}
			if age < 24*time.Hour && e.Currency == x.Currency {
				amount24h += e.AmountMinor
			}
			if e.DeviceID == x.DeviceID {
				newDevice = false
			}
		}
		if e.DeviceID == x.DeviceID && age < 24*time.Hour && !cards[e.CardToken] {
			cards[e.CardToken] = true
			deviceCards++
		}
	}
	return &contracts.Aggregates{CardTxnCount1h: &count1h, CardAmount24hMinor: &amount24h,
		DeviceCardCount24h: &deviceCards, NewDevice: &newDevice}
}

// TestWorkerVelocityKV: a worker with FRAUDSCORE_VELOCITY=kv, given raw
// events of one card, stores verdicts whose velocity features (read back
// from VERDICTS by transaction id) are those of a brute-force
// recomputation, the amount in the other currency left out; it records each
// transaction once in the card's and its device's state in the KV bucket,
// also the one published twice under two Msg-Ids (the input stream cannot
// tell them apart, velocity can), and stores one verdict per transaction.
func TestWorkerVelocityKV(t *testing.T) {
	_, httpAddr, url := readyWorker(t, "FRAUDSCORE_VELOCITY=kv", "FRAUDSCORE_CONCURRENCY=1", "FRAUDSCORE_VERDICT_FEATURES=true")
	js := natstest.JetStream(t, url)
	evs := velocityEvents(10)
	for i := range evs {
		publishWithID(t, js, &evs[i], evs[i].TransactionID)
		if i == 6 {
			// A producer's retry with a new Msg-Id, right behind the original.
			publishWithID(t, js, &evs[3], "retry-"+evs[3].TransactionID)
		}
	}
	got := readVerdicts(t, js, len(evs))
	require.Len(t, got, len(evs))

	// Each verdict carries what the model's extractor makes of the event
	// with the brute-force aggregates: the pipeline computed exactly those.
	bundled := testenv.BundledModel(t)
	for i := range evs {
		want := evs[i]
		want.Aggregates = bruteAggregates(evs[:i+1])
		row := make([]float64, bundled.Extractor.Len())
		require.NoError(t, bundled.Extractor.Extract(&want, row))
		vd := got[evs[i].TransactionID]
		require.Len(t, vd.Features, len(row), evs[i].TransactionID)
		for k, f := range vd.Features {
			require.Equal(t, bundled.Meta.Features[k], f.Name)
			if math.IsNaN(row[k]) {
				assert.True(t, math.IsNaN(f.Value), "event %d: %s = %v, want null", i, f.Name, f.Value)
				continue
			}
			assert.Equal(t, row[k], f.Value, "event %d: %s", i, f.Name)
		}
		n, _ := vd.Features.Get("card_txn_count_1h")
		assert.Equal(t, float64(min(i, 5)), n, "event %d: five others in its hour at most (10 minutes apart)", i)
	}
	// The USD transaction's 24 h amount is 0: the EUR ones before it are
	// not summed into it, nor is it into theirs.
	require.Zero(t, *bruteAggregates(evs[:5]).CardAmount24hMinor)
	require.NotZero(t, *bruteAggregates(evs[:6]).CardAmount24hMinor)

	// The duplicate was delivered, seen by velocity as one (card and
	// device), and acked without a second verdict.
	metrics := "http://" + httpAddr + "/metrics"
	require.Eventually(t, func() bool {
		return strings.Contains(testenv.HTTPBody(t, metrics), "fraudscore_messages_acked_total 11\n")
	}, 30*time.Second, 50*time.Millisecond, "11 deliveries acked")
	body := testenv.HTTPBody(t, metrics)
	for _, series := range []string{
		`fraudscore_velocity_duplicates_total{key="card"} 1`, `fraudscore_velocity_duplicates_total{key="device"} 1`,
		`fraudscore_velocity_updates_total{key="card"} 10`, `fraudscore_velocity_updates_total{key="device"} 10`,
		`fraudscore_velocity_degraded_total{reason="store"} 0`, `fraudscore_velocity_degraded_total{reason="timeout"} 0`,
	} {
		assert.True(t, strings.Contains(body, series+"\n"), "/metrics has no %s", series)
	}
	require.Len(t, readVerdicts(t, js, len(evs)), len(evs), "no second verdict")

	// The state: each transaction recorded once, in publish order, with the
	// card's devices remembered.
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, "VELOCITY")
	require.NoError(t, err)
	entry, err := kv.Get(ctx, velocity.CardKey(evs[0].CardToken))
	require.NoError(t, err)
	card, err := velocity.DecodeCard(entry.Value())
	require.NoError(t, err)
	require.Len(t, card.Entries, len(evs))
	assert.EqualValues(t, len(evs), card.LastOrd)
	assert.Len(t, card.Devices, 2)
	for i, e := range card.Entries {
		assert.Equal(t, velocity.TxnHash(evs[i].TransactionID), e.Txn, "card entry %d", i)
		assert.EqualValues(t, i+1, e.Ord)
		assert.Equal(t, evs[i].EventTime.UnixNano(), e.Time)
		assert.Equal(t, evs[i].AmountMinor, e.Amount)
		assert.Equal(t, evs[i].Currency, e.Currency.String())
	}
	for d, dev := range []string{"dev-velocity-a", "dev-velocity-b"} {
		entry, err := kv.Get(ctx, velocity.DeviceKey(dev))
		require.NoError(t, err)
		ds, err := velocity.DecodeDevice(entry.Value())
		require.NoError(t, err)
		require.Len(t, ds.Entries, len(evs)/2, dev)
		for j, e := range ds.Entries {
			assert.Equal(t, velocity.TxnHash(evs[2*j+d].TransactionID), e.Txn, "%s entry %d", dev, j)
			assert.Equal(t, velocity.CardHash(evs[0].CardToken), e.Card)
		}
	}
	// Nothing else is stored: no key names a card token or a device id.
	keys, err := kv.Keys(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{velocity.CardKey(evs[0].CardToken), velocity.DeviceKey("dev-velocity-a"),
		velocity.DeviceKey("dev-velocity-b")}, keys)
}

// With FRAUDSCORE_VELOCITY=kv and the topology managed elsewhere, a missing
// velocity bucket stops the worker at start: exit status 1, one line naming
// the bucket.
func TestWorkerVelocityBucketMissing(t *testing.T) {
	p, _ := startWorker(t, "FRAUDSCORE_VELOCITY=kv", "FRAUDSCORE_ENSURE_TOPOLOGY=false")
	require.Equal(t, 1, p.WaitExit(t, 60*time.Second), p.Output())
	var last string
	for _, line := range strings.Split(strings.TrimSpace(p.Output()), "\n") {
		last = line
	}
	assert.True(t, strings.HasPrefix(last, "fraudscore: worker: bucket VELOCITY (topology is managed elsewhere): "), last)
	assert.Contains(t, last, "bucket not found")
}
