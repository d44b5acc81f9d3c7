package training_test

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/velocity"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/training"
)

// streamConfig is a small, dense population: 300 cards, 200 devices, so
// windows hold several transactions and cards go idle for more than a day.
func streamConfig(rows int) training.Config {
	return training.Config{Seed: 11, Rows: rows, Cards: 300, Devices: 200}
}

// rawStream is the generator's stream that training reads for cfg.
func rawStream(cfg training.Config) *synthetic.Generator {
	return synthetic.New(synthetic.Config{Seed: cfg.Seed, Population: &synthetic.Population{Cards: cfg.Cards, Devices: cfg.Devices}})
}

func examples(t *testing.T, cfg training.Config) []training.Example {
	t.Helper()
	var out []training.Example
	for ex, err := range training.Examples(context.Background(), cfg) {
		require.NoError(t, err)
		out = append(out, ex)
	}
	require.Len(t, out, cfg.Rows)
	return out
}

func sameFeatures(a, b [features.Count]float64) bool {
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// TestTrainingMatchesServing feeds the raw stream that training reads to a
// fresh Velocity over a MemStore, as a worker with FRAUDSCORE_VELOCITY=kv
// and FRAUDSCORE_VELOCITY_PREFER=computed would, and checks that every
// training row equals the features serving computes (the masked rows: the
// features served without velocity). It covers the first day, before any
// state expires (the KV bucket's max age, which training replays in event
// time and a MemStore does not have).
func TestTrainingMatchesServing(t *testing.T) {
	cfg := streamConfig(600)
	cfg.WarmUp = -1
	got := examples(t, cfg)
	require.Less(t, got[len(got)-1].Event.EventTime.Sub(got[0].Event.EventTime), 24*time.Hour, "the slice stays within a day")

	vc := velocity.DefaultConfig()
	vc.Prefer = velocity.PreferComputed
	serving, err := velocity.New(&velocity.MemStore{}, vc, velocity.Options{})
	require.NoError(t, err)
	gen := rawStream(cfg)
	masked, withVelocity := 0, 0
	for i, ex := range got {
		ev, lbl := gen.Next()
		require.Nil(t, ev.Aggregates, "raw stream")
		require.Equal(t, lbl, ex.Label, "row %d", i)
		require.Equal(t, ev.TransactionID, ex.Event.TransactionID, "row %d", i)
		require.NoError(t, serving.Enrich(context.Background(), &ev))
		if ex.Masked {
			masked++
			assert.Nil(t, ex.Event.Aggregates, "row %d: masked rows carry no aggregates", i)
			ev.Aggregates = nil // served with velocity off or degraded
		} else {
			require.True(t, reflect.DeepEqual(ev.Aggregates, ex.Event.Aggregates), "row %d: aggregates %+v, serving computes %+v", i, ex.Event.Aggregates, ev.Aggregates)
			if *ev.Aggregates.CardTxnCount1h > 0 {
				withVelocity++
			}
		}
		var want [features.Count]float64
		features.ExtractAll(&ev, &want)
		require.True(t, sameFeatures(want, ex.Features), "row %d: training row %v, serving %v", i, ex.Features, want)
	}
	assert.InDelta(t, 0.1, float64(masked)/float64(len(got)), 0.04, "MissingAggregates default")
	assert.Positive(t, withVelocity, "some rows have a card transaction in the hour before")
	t.Logf("%d rows equal serving's features, %d masked, %d with card_txn_count_1h > 0", len(got), masked, withVelocity)
}

// naiveAggregates recomputes the four aggregates of events[i] by brute
// force from the events before it in the stream (the semantics of
// docs: windows (t-W, t], no own transaction, amounts in X's currency only,
// distinct cards per device, new_device within the card state's life: it
// expires after retention without a write).
func naiveAggregates(events []contracts.TransactionEvent, i int, retention time.Duration) contracts.Aggregates {
	x := events[i]
	t := x.EventTime
	var txn1h, devCards int32
	var amount int64
	cards := map[string]bool{}
	for j := i - 1; j >= 0; j-- {
		e := events[j]
		if !e.EventTime.After(t.Add(-24 * time.Hour)) {
			break // ordered stream: nothing earlier is in a window
		}
		if e.CardToken == x.CardToken {
			if e.EventTime.After(t.Add(-time.Hour)) {
				txn1h++
			}
			if e.Currency == x.Currency {
				amount += e.AmountMinor
			}
		}
		if x.DeviceID != "" && e.DeviceID == x.DeviceID && !cards[e.CardToken] {
			cards[e.CardToken] = true
			devCards++
		}
	}
	a := contracts.Aggregates{CardTxnCount1h: &txn1h, CardAmount24hMinor: &amount}
	if x.DeviceID == "" {
		return a
	}
	a.DeviceCardCount24h = &devCards
	newDevice := true
	last := t // the card state's life: back while each write follows the previous within retention
	for j := i - 1; j >= 0; j-- {
		e := events[j]
		if e.CardToken != x.CardToken {
			continue
		}
		if last.Sub(e.EventTime) > retention {
			break
		}
		last = e.EventTime
		if e.DeviceID == x.DeviceID {
			newDevice = false
			break
		}
	}
	a.NewDevice = &newDevice
	return a
}

// TestTrainingAggregatesBruteForce checks every training row's aggregates
// against a brute-force recomputation from the event list, over several
// days, idle cards' state expiring included.
func TestTrainingAggregatesBruteForce(t *testing.T) {
	cfg := streamConfig(5000)
	cfg.WarmUp, cfg.MissingAggregates = -1, -1
	got := examples(t, cfg)
	events := make([]contracts.TransactionEvent, len(got))
	for i := range got {
		events[i] = got[i].Event
	}
	vc := velocity.DefaultConfig()
	retention := vc.Retention()
	var busy, shared, seen, expired int
	for i, ex := range got {
		require.False(t, ex.Masked)
		want := naiveAggregates(events, i, retention)
		a := ex.Event.Aggregates
		require.NotNil(t, a, "row %d", i)
		require.Equal(t, *want.CardTxnCount1h, *a.CardTxnCount1h, "row %d card_txn_count_1h", i)
		require.Equal(t, *want.CardAmount24hMinor, *a.CardAmount24hMinor, "row %d card_amount_24h_minor", i)
		if want.DeviceCardCount24h == nil {
			require.Nil(t, a.DeviceCardCount24h, "row %d: no device", i)
			require.Nil(t, a.NewDevice, "row %d: no device", i)
			continue
		}
		require.NotNil(t, a.DeviceCardCount24h, "row %d", i)
		require.Equal(t, *want.DeviceCardCount24h, *a.DeviceCardCount24h, "row %d device_card_count_24h", i)
		require.Equal(t, *want.NewDevice, *a.NewDevice, "row %d new_device", i)
		if *a.CardTxnCount1h >= 2 {
			busy++
		}
		if *a.DeviceCardCount24h >= 2 {
			shared++
		}
		if !*a.NewDevice {
			seen++
		} else if forever := naiveAggregates(events, i, 1000*time.Hour); !*forever.NewDevice {
			expired++ // new only because the card's state expired
		}
	}
	// The check covers what it claims to.
	assert.Positive(t, busy, "rows with 2+ card transactions in the hour")
	assert.Positive(t, shared, "rows on a device used by 2+ cards")
	assert.Positive(t, seen, "rows on a device the card used before")
	assert.Positive(t, expired, "rows whose card forgot its devices after a day idle")
	t.Logf("%d rows over %s: %d busy, %d on shared devices, %d known devices, %d new after expiry",
		len(got), events[len(events)-1].EventTime.Sub(events[0].EventTime), busy, shared, seen, expired)
}

// TestExamplesWarmUp: rows start after the warm-up, and the warm-up's
// transactions are in the state (the first rows already see velocity).
func TestExamplesWarmUp(t *testing.T) {
	cfg := streamConfig(200)
	got := examples(t, cfg)
	gen := rawStream(cfg)
	first, _ := gen.Next()
	skipped := 1
	for {
		ev, _ := gen.Next()
		if ev.TransactionID == got[0].Event.TransactionID {
			break
		}
		skipped++
	}
	assert.False(t, got[0].Event.EventTime.Before(first.EventTime.Add(24*time.Hour)))
	assert.Greater(t, skipped, 500, "a day of 300 cards")
	known := 0
	for _, ex := range got {
		if a := ex.Event.Aggregates; a != nil && a.NewDevice != nil && !*a.NewDevice {
			known++
		}
	}
	assert.Positive(t, known, "after the warm-up, cards pay from devices the state knows")
}

// TestExamplesUpstream: -upstream trains on the default generator as
// before: its events, with their own aggregates, in its order.
func TestExamplesUpstream(t *testing.T) {
	cfg := training.Config{Seed: 5, Rows: 300, Upstream: true}
	gen := synthetic.New(synthetic.Config{Seed: 5})
	for ex, err := range training.Examples(context.Background(), cfg) {
		require.NoError(t, err)
		ev, lbl := gen.Next()
		require.True(t, reflect.DeepEqual(ev, ex.Event))
		require.Equal(t, lbl, ex.Label)
		var want [features.Count]float64
		features.ExtractAll(&ev, &want)
		require.True(t, sameFeatures(want, ex.Features))
		require.False(t, ex.Masked)
	}
}
