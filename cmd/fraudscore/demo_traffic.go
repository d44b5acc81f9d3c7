package main

import (
	"strconv"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/synthetic"
)

// demoCards is the size of the demo's population: small enough that a
// simulated day (about 6 750 payments) passes in about 34 seconds at 200
// per second, so the velocity state reaches the steady state the model was
// trained on (a day of history) soon after start, and a drift window of
// 10 000 transactions spans more than a whole day (the daily rhythm moves
// the score distribution of a night-only window). Per card and per device
// the traffic is the same as the 20 000 cards of training.
const demoCards = 2000

// demoHistory is how far before the demo's start the simulated clock of
// its population starts.
const demoHistory = 10 * 365 * 24 * time.Hour

// demoTraffic is the demo's transactions: the raw per-card streams of a
// synthetic population (synthetic.Population, demoCards cards and as many
// devices), as the bundled model was trained on, with no upstream
// aggregates, so the worker computes velocity itself
// (FRAUDSCORE_VELOCITY=kv in `make run`) and cards come back.
//
// Event times are the population's simulated clock, not the wall clock: at
// 200 transactions per second it runs about 2 500 times faster, so velocity
// (card_txn_count_1h, the 24 h windows) and the time-of-day features see
// the rhythm the model was trained on; stamping events with the wall clock
// would pile a day of a card's payments into a few seconds. The simulated
// clock starts demoHistory before the demo, so event times lie in the past
// (years ago) and keep their order; when the clock catches up with the wall
// clock (after about 34 hours at 200 per second), a new population starts,
// demoHistory back again, with new card tokens and device ids, so that no
// event is ever in the future and no velocity state is shared with the
// previous population. Nothing in the worker's metrics or dashboards reads
// event times; verdicts are stamped with the wall clock (scored_at).
type demoTraffic struct {
	seed uint64
	gen  *synthetic.Generator
	// generations counts the populations started, for their id prefixes.
	generations int
}

// newDemoTraffic returns the demo's traffic, seeded with seed.
func newDemoTraffic(seed uint64) *demoTraffic { return &demoTraffic{seed: seed} }

// next returns the next transaction and its ground truth, its event time
// at or before now.
func (d *demoTraffic) next(now time.Time) (contracts.TransactionEvent, synthetic.Label) {
	if d.gen != nil {
		ev, lbl := d.gen.Next()
		if !ev.EventTime.After(now) {
			return ev, lbl
		}
	}
	d.generations++
	d.gen = synthetic.New(synthetic.Config{
		Seed:       d.seed + uint64(d.generations),
		Start:      now.Add(-demoHistory).UTC().Truncate(time.Second),
		IDPrefix:   demoIDPrefix(now, d.generations),
		Population: &synthetic.Population{Cards: demoCards},
	})
	return d.gen.Next()
}

// demoIDPrefix returns the id prefix of the demo population started at now,
// the generation-th of the process: "demo-<unix seconds in base 36>g<generation>_".
// Base 36 and the underscore keep every id clear of a run of digits that
// could pass for a card number (see synthetic.DefaultIDPrefix).
func demoIDPrefix(now time.Time, generation int) string {
	return "demo-" + strconv.FormatInt(now.Unix(), 36) + "g" + strconv.Itoa(generation) + "_"
}
