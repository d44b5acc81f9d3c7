package training

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/features"
	"github.com/fraudscore/fraudscore/scorer/velocity"
	"github.com/fraudscore/fraudscore/synthetic"
)

// Example is one transaction of the training data: the event as the model
// saw it, its label and its features.
type Example struct {
	// Event is the event with the aggregates its features were computed
	// from: computed by scorer/velocity in population mode (none when
	// Masked), sent "upstream" by the generator in upstream mode.
	Event contracts.TransactionEvent
	// Label is the generator's ground truth.
	Label synthetic.Label
	// Features are the event's features in canonical order
	// (features.ExtractAll), the training row.
	Features [features.Count]float64
	// Masked reports a population-mode row trained without its velocity
	// aggregates, as fraudscore serves an event when velocity is off or
	// degraded (Config.MissingAggregates); its transaction was still
	// recorded in the velocity state.
	Masked bool
}

// Examples yields the cfg.Rows examples Train trains on (after the
// defaults), in stream order, then stops; an error ends it.
//
// In population mode (the default) the generator's raw stream goes through
// velocity.Velocity.Enrich over a velocity.MemStore, one event after the
// other in event-time order, with computed aggregates preferred: the code
// and the semantics the worker runs with FRAUDSCORE_VELOCITY=kv. The store
// forgets a key's state when it has not been written for
// velocity.Config.Retention of event time, as the KV bucket's max age does
// in wall-clock time, so new_device forgets a card's devices after a day
// idle in training as in serving. The first cfg.WarmUp of event time fills
// the state without giving rows. In upstream mode the generator's own
// aggregates are used as they come.
func Examples(ctx context.Context, cfg Config) iter.Seq2[Example, error] {
	cfg.defaults()
	if cfg.Upstream {
		return upstreamExamples(ctx, cfg)
	}
	return populationExamples(ctx, cfg)
}

func upstreamExamples(ctx context.Context, cfg Config) iter.Seq2[Example, error] {
	return func(yield func(Example, error) bool) {
		gen := synthetic.New(synthetic.Config{Seed: cfg.Seed, FraudRate: cfg.FraudRate})
		for i := 0; i < cfg.Rows; i++ {
			if i%4096 == 0 && ctx.Err() != nil {
				yield(Example{}, fmt.Errorf("training: %w", ctx.Err()))
				return
			}
			var ex Example
			ex.Event, ex.Label = gen.Next()
			features.ExtractAll(&ex.Event, &ex.Features)
			if !yield(ex, nil) {
				return
			}
		}
	}
}

// velocityConfig is the velocity settings training computes with: the
// serving defaults, computed values preferred (the raw stream carries none
// anyway) and no timeout that a busy machine could reach.
func velocityConfig() velocity.Config {
	vc := velocity.DefaultConfig()
	vc.Prefer = velocity.PreferComputed
	vc.Timeout = time.Hour
	return vc
}

func populationExamples(ctx context.Context, cfg Config) iter.Seq2[Example, error] {
	return func(yield func(Example, error) bool) {
		gen := synthetic.New(cfg.populationConfig())
		vc := velocityConfig()
		store := newExpiringStore(&velocity.MemStore{}, vc.Retention())
		vel, err := velocity.New(store, vc, velocity.Options{})
		if err != nil {
			yield(Example{}, fmt.Errorf("training: %w", err))
			return
		}
		mask := rand.New(rand.NewPCG(cfg.Seed, 0x6d61736b6564)) // "masked"
		var from time.Time
		for n := 0; n < cfg.Rows; {
			var ex Example
			ex.Event, ex.Label = gen.Next()
			if from.IsZero() {
				from = ex.Event.EventTime.Add(cfg.WarmUp)
			}
			store.now = ex.Event.EventTime
			if err := vel.Enrich(ctx, &ex.Event); err != nil {
				yield(Example{}, fmt.Errorf("training: %w", err))
				return
			}
			if a := ex.Event.Aggregates; a == nil || a.CardTxnCount1h == nil || (ex.Event.DeviceID != "" && a.DeviceCardCount24h == nil) {
				// Only a store error or the timeout degrades: neither can
				// happen in memory, so say so rather than train on it.
				yield(Example{}, fmt.Errorf("training: velocity degraded on %s: aggregates %+v", ex.Event.TransactionID, a))
				return
			}
			if ex.Event.EventTime.Before(from) {
				continue
			}
			if mask.Float64() < cfg.MissingAggregates {
				ex.Masked = true
				ex.Event.Aggregates = nil
			}
			features.ExtractAll(&ex.Event, &ex.Features)
			n++
			if !yield(ex, nil) {
				return
			}
		}
	}
}

// expiringStore is a velocity.Store over another whose values expire like
// a JetStream KV bucket's (max age since the last write), with the event
// time being processed (now) as the clock: a value last written more than
// maxAge before now is absent, and a create replaces it.
type expiringStore struct {
	inner  velocity.Store
	maxAge time.Duration
	now    time.Time // set between Enrich calls, read during them

	mu      sync.Mutex           // Enrich updates a card and a device key at once
	written map[string]time.Time // each key's last write, in event time
}

func newExpiringStore(inner velocity.Store, maxAge time.Duration) *expiringStore {
	return &expiringStore{inner: inner, maxAge: maxAge, written: map[string]time.Time{}}
}

func (s *expiringStore) expired(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.written[key]
	return ok && s.now.Sub(w) > s.maxAge
}

// Get returns the key's value and revision, or nil and 0 when it expired.
func (s *expiringStore) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	v, rev, err := s.inner.Get(ctx, key)
	if err != nil || rev == 0 || !s.expired(key) {
		return v, rev, err
	}
	return nil, 0, nil
}

// Put writes value at revision; revision 0 creates the key or replaces an
// expired value, and any other revision of an expired value is refused as
// a KV bucket refuses it (the value is gone).
func (s *expiringStore) Put(ctx context.Context, key string, value []byte, revision uint64) (uint64, bool, error) {
	if s.expired(key) {
		if revision != 0 {
			return 0, false, nil
		}
		_, rev, err := s.inner.Get(ctx, key)
		if err != nil {
			return 0, false, err
		}
		revision = rev
	}
	newRev, ok, err := s.inner.Put(ctx, key, value, revision)
	if ok {
		s.mu.Lock()
		s.written[key] = s.now
		s.mu.Unlock()
	}
	return newRev, ok, err
}
