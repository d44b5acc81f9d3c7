package labels

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
)

// Delayed holds synthetic labels until they are due: a share of the
// transactions it is told about get a label with their ground truth, a
// delay after they were published, the way chargebacks and reviews arrive
// after the decision. The demo of `make run` feeds it (docs/labels.md). Safe
// for concurrent use.
type Delayed struct {
	share float64
	delay time.Duration
	max   int

	mu      sync.Mutex
	rng     *rand.Rand
	pending []delayedLabel // in due order: every label waits the same delay
	dropped int64
}

type delayedLabel struct {
	due   time.Time
	id    string
	fraud bool
}

// NewDelayed returns a Delayed that labels share (0..1) of the transactions
// after delay, holding at most max labels (beyond, new ones are dropped and
// counted); seed makes the choice of transactions reproducible.
func NewDelayed(share float64, delay time.Duration, max int, seed uint64) *Delayed {
	return &Delayed{share: share, delay: delay, max: max, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Add tells d about a transaction published at now with its ground truth;
// it is labelled with probability share. It reports whether a label was
// scheduled.
func (d *Delayed) Add(now time.Time, txID string, fraud bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rng.Float64() >= d.share {
		return false
	}
	if len(d.pending) >= d.max {
		d.dropped++
		return false
	}
	d.pending = append(d.pending, delayedLabel{due: now.Add(d.delay), id: txID, fraud: fraud})
	return true
}

// Due appends to out the labels due at now (source synthetic, reported at
// now) and forgets them.
func (d *Delayed) Due(now time.Time, out []contracts.Label) []contracts.Label {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for n < len(d.pending) && !d.pending[n].due.After(now) {
		p := d.pending[n]
		o := contracts.OutcomeLegit
		if p.fraud {
			o = contracts.OutcomeFraud
		}
		out = append(out, contracts.Label{SchemaVersion: contracts.LabelSchemaV1, TransactionID: p.id, Label: o,
			Source: contracts.SourceSynthetic, ReportedAt: now.UTC()})
		n++
	}
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return out
}

// Dropped is how many labels were not scheduled because max were pending.
func (d *Delayed) Dropped() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}
