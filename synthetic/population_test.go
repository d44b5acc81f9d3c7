package synthetic_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/synthetic"
)

func popConfig(seed uint64, cards, devices int) synthetic.Config {
	return synthetic.Config{Seed: seed, Population: &synthetic.Population{Cards: cards, Devices: devices}}
}

func TestPopulationDeterministicBySeed(t *testing.T) {
	a := synthetic.New(popConfig(7, 500, 400))
	b := synthetic.New(popConfig(7, 500, 400))
	c := synthetic.New(popConfig(8, 500, 400))
	differ := 0
	for i := range 20_000 {
		ea, la := a.Next()
		eb, lb := b.Next()
		ec, _ := c.Next()
		require.True(t, reflect.DeepEqual(ea, eb), "event %d differs for the same seed", i)
		require.Equal(t, la, lb, "label %d differs for the same seed", i)
		if !ea.EventTime.Equal(ec.EventTime) || ea.AmountMinor != ec.AmountMinor {
			differ++
		}
	}
	assert.Greater(t, differ, 19_000, "different seeds should give different sequences")
}

// TestPopulationStream checks the raw stream of a population: valid events
// without aggregates, in event-time order, cards and devices from the
// population only, each scenario present, the fraud rate as configured.
func TestPopulationStream(t *testing.T) {
	const cards, devices, n = 2000, 1500, 100_000
	cfg := popConfig(42, cards, devices)
	g := synthetic.New(cfg)
	v := contracts.NewValidator()
	v.Now = func() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }
	prefix := synthetic.DefaultIDPrefix(42)
	cardSeen, devSeen := map[string]bool{}, map[string]bool{}
	cardsOfDevice := map[string]map[string]bool{}
	scenarios := map[synthetic.Scenario]int{}
	frauds, withDevice := 0, 0
	var last time.Time
	ids := map[string]bool{}
	for i := range n {
		ev, l := g.Next()
		require.NoError(t, v.ValidateEvent(&ev), "event %d", i)
		require.Nil(t, ev.Aggregates, "event %d: population mode is raw", i)
		require.False(t, ev.EventTime.Before(last), "event %d at %s before the previous one at %s", i, ev.EventTime, last)
		last = ev.EventTime
		require.False(t, ids[ev.TransactionID], "duplicate id %s", ev.TransactionID)
		ids[ev.TransactionID] = true
		for _, s := range []string{ev.TransactionID, ev.CardToken, ev.MerchantID, ev.DeviceID} {
			require.False(t, contracts.LooksLikePAN(s), "%q looks like a PAN", s)
		}
		require.True(t, strings.HasPrefix(ev.CardToken, prefix+"card-"), ev.CardToken)
		cardSeen[ev.CardToken] = true
		if ev.DeviceID != "" {
			withDevice++
			require.True(t, strings.HasPrefix(ev.DeviceID, prefix+"dev-"), ev.DeviceID)
			devSeen[ev.DeviceID] = true
			if cardsOfDevice[ev.DeviceID] == nil {
				cardsOfDevice[ev.DeviceID] = map[string]bool{}
			}
			cardsOfDevice[ev.DeviceID][ev.CardToken] = true
		}
		scenarios[l.Scenario]++
		if l.Fraud {
			frauds++
			assert.NotEqual(t, synthetic.Legit, l.Scenario)
		}
	}
	assert.LessOrEqual(t, len(cardSeen), cards)
	assert.Greater(t, len(cardSeen), cards*9/10, "most cards pay in %d events", n)
	assert.LessOrEqual(t, len(devSeen), devices)
	assert.Greater(t, len(devSeen), devices/2)
	assert.InDelta(t, 0.012, float64(frauds)/n, 0.004, "fraud rate")
	assert.InDelta(t, 0.8, float64(withDevice)/n, 0.1, "share of events with a device")
	for _, s := range synthetic.FraudScenarios {
		assert.Positive(t, scenarios[s], "scenario %s never drawn", s)
	}
	// Devices are shared by a few cards; fraud farms by many.
	shared, farms := 0, 0
	for _, cs := range cardsOfDevice {
		switch {
		case len(cs) >= 20:
			farms++
		case len(cs) >= 2:
			shared++
		}
	}
	assert.Positive(t, shared, "households share devices")
	assert.Positive(t, farms, "fraud farms use many cards")
	assert.LessOrEqual(t, farms, max(1, devices/2000), "only farm devices see that many cards")
	// 2000 cards paying about 3.4 times a day: about 15 days.
	days := last.Sub(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)).Hours() / 24
	assert.InDelta(t, 15, days, 2)
	t.Logf("%d events until %s, %d cards, %d devices (%d shared, %d farms), fraud %.4f, scenarios %v",
		n, last, len(cardSeen), len(devSeen), shared, farms, float64(frauds)/n, scenarios)
}

// TestPopulationCardTestingBursts checks that card testing is behaviour in
// the stream: its cards pay many times within an hour, legitimate cards
// rarely do.
func TestPopulationCardTestingBursts(t *testing.T) {
	g := synthetic.New(popConfig(3, 3000, 3000))
	type txn struct {
		t    time.Time
		lbl  synthetic.Label
		card string
	}
	byCard := map[string][]txn{}
	for range 150_000 {
		ev, l := g.Next()
		byCard[ev.CardToken] = append(byCard[ev.CardToken], txn{ev.EventTime, l, ev.CardToken})
	}
	// For each transaction: how many of its card's transactions fall in the
	// hour before it (a brute-force card_txn_count_1h).
	maxHour := map[synthetic.Scenario]int{}
	var legitHigh, legit, testing5, testing int
	for _, txns := range byCard {
		for i, x := range txns {
			count := 0
			for j := i - 1; j >= 0 && txns[j].t.After(x.t.Add(-time.Hour)); j-- {
				count++
			}
			maxHour[x.lbl.Scenario] = max(maxHour[x.lbl.Scenario], count)
			switch x.lbl.Scenario {
			case synthetic.Legit:
				legit++
				if count >= 5 {
					legitHigh++
				}
			case synthetic.CardTesting:
				testing++
				if count >= 5 {
					testing5++
				}
			}
		}
	}
	require.Positive(t, testing)
	assert.GreaterOrEqual(t, maxHour[synthetic.CardTesting], 10, "a card-testing burst has many payments within an hour")
	assert.Greater(t, float64(testing5)/float64(testing), 0.3, "card-testing payments mostly follow others on the same card within the hour")
	assert.Less(t, float64(legitHigh)/float64(legit), 0.01, "legitimate cards rarely pay 5 times within an hour")
	t.Logf("max card payments in the previous hour by scenario %v; card testing with >=5: %d/%d; legit: %d/%d", maxHour, testing5, testing, legitHigh, legit)
}

// TestPopulationAccountTakeoverNewDevice checks that account takeover uses
// a device the victim card never used before, on an established account.
func TestPopulationAccountTakeoverNewDevice(t *testing.T) {
	g := synthetic.New(popConfig(5, 1000, 1000))
	seen := map[string]map[string]bool{} // card -> devices used before
	ato, newDev := 0, 0
	for range 100_000 {
		ev, l := g.Next()
		if l.Scenario == synthetic.AccountTakeover {
			ato++
			assert.GreaterOrEqual(t, ev.AccountAgeDays, int32(200), "established account")
			if ev.DeviceID != "" && !seen[ev.CardToken][ev.DeviceID] {
				newDev++
			}
		}
		if ev.DeviceID != "" {
			if seen[ev.CardToken] == nil {
				seen[ev.CardToken] = map[string]bool{}
			}
			seen[ev.CardToken][ev.DeviceID] = true
		}
	}
	require.Positive(t, ato)
	// An episode's later payments reuse the episode's device.
	assert.Greater(t, float64(newDev)/float64(ato), 0.4, "%d of %d account-takeover payments from a new device", newDev, ato)
}

func TestPopulationDefaults(t *testing.T) {
	cfg := synthetic.Config{Seed: 1, Population: &synthetic.Population{}}
	g := synthetic.New(cfg)
	assert.Equal(t, 0, cfg.Population.Cards, "the caller's Population is not modified")
	cards := map[string]bool{}
	for range 50_000 {
		ev, _ := g.Next()
		cards[ev.CardToken] = true
	}
	assert.LessOrEqual(t, len(cards), synthetic.DefaultPopulationCards)
	assert.Greater(t, len(cards), synthetic.DefaultPopulationCards/2)
	// A population of one card and one device still works.
	g = synthetic.New(popConfig(2, 1, 1))
	for range 1000 {
		ev, _ := g.Next()
		require.Equal(t, "syn-2_card-0", ev.CardToken)
		require.Contains(t, []string{"", "syn-2_dev-0"}, ev.DeviceID)
	}
}
