package velocity

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Key kinds, the key label of the metrics.
const (
	keyCard   = "card"
	keyDevice = "device"
)

// Degrade reasons, the reason label of fraudscore_velocity_degraded_total.
const (
	// ReasonTimeout: FRAUDSCORE_VELOCITY_TIMEOUT passed.
	ReasonTimeout = "timeout"
	// ReasonStore: the Store returned an error.
	ReasonStore = "store"
	// ReasonCorrupt: a stored value did not decode (ErrCorrupt).
	ReasonCorrupt = "corrupt"
	// ReasonConflicts: compare-and-set lost maxAttempts times in a row.
	ReasonConflicts = "conflicts"
	// ReasonBreaker: the breaker was open (the store failed BreakerTrip
	// events in a row); the store was not asked.
	ReasonBreaker = "breaker"
)

// Reasons lists every degrade reason.
var Reasons = [...]string{ReasonTimeout, ReasonStore, ReasonCorrupt, ReasonConflicts, ReasonBreaker}

// latencyBuckets suit a KV round trip or two: from well under a
// millisecond to the default per-event timeout and beyond.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// metrics are velocity's Prometheus metrics; a nil *metrics counts nothing.
type metrics struct {
	updates    [2]prometheus.Counter       // fraudscore_velocity_updates_total{key}
	duplicates [2]prometheus.Counter       // fraudscore_velocity_duplicates_total{key}
	late       [2]prometheus.Counter       // fraudscore_velocity_late_total{key}
	capped     prometheus.Counter          // fraudscore_velocity_capped_total
	conflicts  prometheus.Counter          // fraudscore_velocity_conflicts_total
	guesses    [2][2][2]prometheus.Counter // fraudscore_velocity_guesses_total{key,source,result}: [kind][guessSource][right]
	degraded   map[string]prometheus.Counter
	seconds    prometheus.Histogram // fraudscore_velocity_seconds
	breaker    prometheus.Gauge     // fraudscore_velocity_breaker_open
}

// kind indexes the per-key counters.
type kind int

const (
	card kind = iota
	device
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	updates := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fraudscore_velocity_updates_total", Help: "Velocity states written (a transaction recorded), by key kind (card, device).",
	}, []string{"key"})
	duplicates := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fraudscore_velocity_duplicates_total", Help: "Transactions a velocity state already held (redeliveries, duplicates): scored with their first features, nothing written; by key kind.",
	}, []string{"key"})
	late := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fraudscore_velocity_late_total", Help: "Transactions older than their key's newest event time minus FRAUDSCORE_VELOCITY_LATENESS: scored with what the state holds, not recorded; by key kind.",
	}, []string{"key"})
	degraded := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fraudscore_velocity_degraded_total", Help: "Transactions scored without some velocity aggregates (left as upstream sent them), by the first reason: timeout, store, corrupt, conflicts.",
	}, []string{"reason"})
	guesses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fraudscore_velocity_guesses_total", Help: "Velocity states written without reading them first, from this worker's cache (source cached) or assuming a new key (source absent), by key kind and result: right (one round trip saved) or wrong (the write found another revision and the key was read and written again). Guessing is used only while right at least half the time.",
	}, []string{"key", "source", "result"})
	m := &metrics{
		capped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudscore_velocity_capped_total", Help: "Velocity entries dropped because a key held more than FRAUDSCORE_VELOCITY_MAX_ENTRIES.",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudscore_velocity_conflicts_total", Help: "Velocity compare-and-set writes lost to another writer, each followed by a retry.",
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fraudscore_velocity_seconds", Help: "Time to compute one transaction's velocity aggregates, store round trips included.", Buckets: latencyBuckets,
		}),
		breaker: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fraudscore_velocity_breaker_open", Help: fmt.Sprintf("1 while velocity is skipped because the bucket failed %d events in a row (FRAUDSCORE_VELOCITY_BREAKER_COOLDOWN), else 0.", BreakerTrip),
		}),
		degraded: map[string]prometheus.Counter{},
	}
	for k, name := range [2]string{keyCard, keyDevice} {
		m.updates[k] = updates.WithLabelValues(name)
		m.duplicates[k] = duplicates.WithLabelValues(name)
		m.late[k] = late.WithLabelValues(name)
		for src, srcName := range guessSources {
			m.guesses[k][src][0] = guesses.WithLabelValues(name, srcName, "wrong")
			m.guesses[k][src][1] = guesses.WithLabelValues(name, srcName, "right")
		}
	}
	for _, r := range Reasons {
		m.degraded[r] = degraded.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{updates, duplicates, late, degraded, guesses, m.capped, m.conflicts, m.seconds, m.breaker} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// applied counts what one key's Apply did once its state is settled.
func (m *metrics) applied(k kind, o Outcome, capped int) {
	if m == nil {
		return
	}
	switch o {
	case Recorded:
		m.updates[k].Inc()
	case Duplicate:
		m.duplicates[k].Inc()
	case Late:
		m.late[k].Inc()
	}
	if capped > 0 {
		m.capped.Add(float64(capped))
	}
}

func (m *metrics) conflict() {
	if m != nil {
		m.conflicts.Inc()
	}
}

// guessed counts a write from a guess: right when it was stored.
func (m *metrics) guessed(k kind, src guessSource, right bool) {
	if m == nil {
		return
	}
	i := 0
	if right {
		i = 1
	}
	m.guesses[k][src][i].Inc()
}

func (m *metrics) degrade(reason string) {
	if m != nil {
		m.degraded[reason].Inc()
	}
}

func (m *metrics) breakerOpen(open bool) {
	if m == nil {
		return
	}
	v := 0.0
	if open {
		v = 1
	}
	m.breaker.Set(v)
}

func (m *metrics) observe(seconds float64) {
	if m != nil {
		m.seconds.Observe(seconds)
	}
}
