package velocity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
)

// ErrSettings is returned (wrapped) by New for invalid settings.
var ErrSettings = errors.New("velocity: invalid settings")

// errConflicts: compare-and-set lost maxAttempts times in a row.
var errConflicts = errors.New("velocity: too many write conflicts")

// errBreaker: the breaker is open; the store was not asked.
var errBreaker = errors.New("velocity: breaker open after the store failed repeatedly")

// maxAttempts bounds the compare-and-set loop of one key for one event.
const maxAttempts = 32

// warnInterval is the least time between two degrade warnings; the ones in
// between are counted and reported with the next.
const warnInterval = time.Second

// Options are New's optional dependencies.
type Options struct {
	// Registerer receives the velocity metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives the degrade warnings; nil discards them.
	Logger *slog.Logger
	// Now is the breaker's clock; nil is time.Now.
	Now func() time.Time
}

// Velocity computes the velocity aggregates of events over the state in a
// Store, recording each event once per key. It is safe for concurrent use:
// workers on any number of processes may share one Store.
type Velocity struct {
	store   Store
	cfg     Config
	metrics *metrics
	log     *slog.Logger
	work    sync.Pool       // *work
	cache   *cache          // nil: no cache, no guesses
	guesses [2][2]guessRate // [kind][guessSource]
	turns   keyTurns        // one update of a key at a time in this process
	breaker breaker
	now     func() time.Time

	lastWarn   atomic.Int64 // Unix ns of the last degrade warning
	suppressed atomic.Int64 // warnings not logged since
}

// work is one Enrich call's state and reusable buffers: the card update
// runs on the caller's goroutine, the device update beside it on another.
type work struct {
	x      Txn
	card   CardState
	device DeviceState
	cr     CardResult
	dr     DeviceResult
	cardB  keyBuffers
	devB   keyBuffers
	devErr error
	wg     sync.WaitGroup
}

// keyBuffers are one key's buffers: in holds a cached state copied out of
// the cache, out the state encoded for writing.
type keyBuffers struct {
	in, out []byte
}

// New returns a Velocity over store with the settings cfg (cfg.Mode is not
// looked at: a caller with a store wants velocity).
func New(store Store, cfg Config, opts Options) (*Velocity, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: no store", ErrSettings)
	}
	if p := cfg.Problems(); len(p) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrSettings, p)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("velocity: metrics: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	v := &Velocity{store: store, cfg: cfg, metrics: m, log: log, cache: newCache(cfg.CacheBytes), turns: newKeyTurns(),
		breaker: breaker{cooldown: cfg.BreakerCooldown}, now: now}
	v.work.New = func() any { return new(work) }
	return v, nil
}

// Config returns the settings v was built with.
func (v *Velocity) Config() Config { return v.cfg }

// Enrich computes ev's velocity aggregates as of its event_time, records ev
// in its card's state and, when it has a device_id, its device's state (the
// two keys are updated at the same time), and sets ev.Aggregates: with
// Prefer upstream a field the event carries is kept, with Prefer computed
// it is replaced.
//
// When a key's state cannot be read or written within the timeout (a store
// error, the timeout, a corrupt value, endless conflicts), or the breaker
// is open (see BreakerTrip), the aggregates that key gives are left as the
// event carried them, the event is counted in
// fraudscore_velocity_degraded_total, a warning names its transaction_id,
// and Enrich returns nil. It returns an error only when ctx itself is done.
func (v *Velocity) Enrich(ctx context.Context, ev *contracts.TransactionEvent) error {
	start := time.Now()
	defer func() { v.metrics.observe(time.Since(start).Seconds()) }()
	state := v.breaker.allow(v.now())
	if state == breakerOpen {
		v.degraded(ev.TransactionID, false, errBreaker, nil)
		return nil
	}
	tctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	w := v.work.Get().(*work)
	defer v.work.Put(w)
	w.x = TxnOf(ev)
	w.cr, w.dr, w.devErr = CardResult{}, DeviceResult{}, nil

	hasDevice := ev.DeviceID != ""
	if hasDevice {
		w.wg.Add(1)
		go v.updateDevice(tctx, DeviceKey(ev.DeviceID), w)
	}
	cardErr := v.cas(tctx, CardKey(ev.CardToken), card, &w.cardB, &w.card, func() (Outcome, int) {
		w.cr = w.card.Apply(w.x, v.cfg)
		return w.cr.Outcome, w.cr.Capped
	})
	w.wg.Wait()
	deviceErr := w.devErr
	timedOut := tctx.Err() != nil
	if cardErr != nil || deviceErr != nil {
		if err := ctx.Err(); err != nil {
			v.breaker.abandon(state)
			return fmt.Errorf("velocity: %w", context.Cause(ctx))
		}
		v.degraded(ev.TransactionID, timedOut, cardErr, deviceErr)
	}
	v.settle(state, storeFailed(timedOut, cardErr) || storeFailed(timedOut, deviceErr))
	v.fill(ev, cardErr == nil, &w.cr, hasDevice && deviceErr == nil, &w.dr)
	return nil
}

// updateDevice runs the device key's update on its own goroutine, leaving
// its result in w.dr and w.devErr.
func (v *Velocity) updateDevice(ctx context.Context, key string, w *work) {
	defer w.wg.Done()
	w.devErr = v.cas(ctx, key, device, &w.devB, &w.device, func() (Outcome, int) {
		w.dr = w.device.Apply(w.x, v.cfg)
		return w.dr.Outcome, w.dr.Capped
	})
}

// state is a key's state as cas reads and writes it.
type state interface {
	UnmarshalBinary([]byte) error
	AppendBinary([]byte) ([]byte, error)
}

// cas runs one key's compare-and-set loop: start from a guess of the state
// when guessing pays (see guessRate), otherwise read it into st; apply
// (which returns the outcome and the entries capped); write the state back
// at the revision it came from if it changed; and start over from a read
// when the write finds another revision. An outcome that writes nothing
// (duplicate, late) is only accepted from a read, never from a guess.
func (v *Velocity) cas(ctx context.Context, key string, k kind, b *keyBuffers, st state, apply func() (Outcome, int)) error {
	turn, err := v.turns.take(ctx, key)
	if err != nil {
		return err
	}
	defer func() { <-turn }()
	value, rev, src, guessed := v.guess(key, k, b)
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !guessed {
			var err error
			if value, rev, err = v.store.Get(ctx, key); err != nil {
				return fmt.Errorf("velocity: read state: %w", err)
			}
		}
		if err := st.UnmarshalBinary(value); err != nil {
			if guessed {
				v.cache.forget(key)
				guessed = false
				continue
			}
			return err
		}
		o, capped := apply()
		if o != Recorded {
			if guessed {
				guessed = false
				continue
			}
			v.remember(key, value, rev)
			v.metrics.applied(k, o, 0)
			return nil
		}
		b.out, _ = st.AppendBinary(b.out[:0])
		newRev, ok, err := v.store.Put(ctx, key, b.out, rev)
		if err != nil {
			if v.cache != nil {
				v.cache.forget(key) // the write may or may not have been stored
			}
			return fmt.Errorf("velocity: write state: %w", err)
		}
		if guessed {
			v.guesses[k][src].record(ok)
			v.metrics.guessed(k, src, ok)
		} else if !ok {
			v.metrics.conflict()
		}
		if ok {
			v.remember(key, b.out, newRev)
			v.metrics.applied(k, o, capped)
			return nil
		}
		guessed = false
	}
	return errConflicts
}

// guess returns the state cas may start from without a read: the cached
// state, or none (absent) for a key not cached, when that kind of guess
// has been paying; ok is false when cas must read first.
func (v *Velocity) guess(key string, k kind, b *keyBuffers) (value []byte, rev uint64, src guessSource, ok bool) {
	if v.cache == nil {
		return nil, 0, 0, false
	}
	var cached bool
	b.in, rev, cached = v.cache.load(key, b.in[:0])
	src = guessAbsent
	if cached {
		src, value = guessCached, b.in
	}
	if !v.guesses[k][src].worth() {
		return nil, 0, src, false
	}
	return value, rev, src, true
}

// remember keeps key's state at rev in the cache, if there is one; an
// absent key (rev 0) needs no entry.
func (v *Velocity) remember(key string, value []byte, rev uint64) {
	switch {
	case v.cache == nil:
	case rev == 0:
		v.cache.forget(key)
	default:
		v.cache.store(key, value, rev)
	}
}

// storeFailed reports whether a key's error says the store itself is
// failing (its error or the timeout), which is what the breaker counts.
func storeFailed(timedOut bool, err error) bool {
	if err == nil {
		return false
	}
	r := reason(timedOut, err)
	return r == ReasonTimeout || r == ReasonStore
}

// settle gives the breaker an event's outcome, and logs and shows its
// opening and closing.
func (v *Velocity) settle(state int, failed bool) {
	opened, closed := v.breaker.result(v.now(), state, failed)
	switch {
	case opened:
		v.metrics.breakerOpen(true)
		v.log.Warn("velocity breaker open: the bucket failed repeatedly; scoring without velocity until a probe succeeds",
			"failures_in_a_row", v.breaker.failures.Load(), "cooldown", v.cfg.BreakerCooldown.String())
	case closed:
		v.metrics.breakerOpen(false)
		v.log.Info("velocity breaker closed: the bucket answered a probe")
	}
}

// reason classifies a key's failure for the degraded metric; timedOut
// reports whether the per-event timeout had passed.
func reason(timedOut bool, err error) string {
	switch {
	case errors.Is(err, errBreaker):
		return ReasonBreaker
	case errors.Is(err, ErrCorrupt):
		return ReasonCorrupt
	case errors.Is(err, errConflicts):
		return ReasonConflicts
	case timedOut || errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	}
	return ReasonStore
}

// degraded counts and (rate-limited) logs an event scored without some of
// its velocity aggregates. Errors name keys by hash, never by card token
// or device id.
func (v *Velocity) degraded(txnID string, timedOut bool, cardErr, deviceErr error) {
	first := cardErr
	if first == nil {
		first = deviceErr
	}
	why := reason(timedOut, first)
	v.metrics.degrade(why)
	now := time.Now().UnixNano()
	last := v.lastWarn.Load()
	if now-last < int64(warnInterval) || !v.lastWarn.CompareAndSwap(last, now) {
		v.suppressed.Add(1)
		return
	}
	attrs := []any{"transaction_id", txnID, "reason", why, "suppressed", v.suppressed.Swap(0)}
	if cardErr != nil {
		attrs = append(attrs, "card_error", cardErr.Error())
	}
	if deviceErr != nil {
		attrs = append(attrs, "device_error", deviceErr.Error())
	}
	v.log.Warn("velocity unavailable: scored without its aggregates", attrs...)
}

// computed holds the aggregates Enrich sets, so that one allocation backs
// every pointer.
type computed struct {
	txnCount1h   int32
	cardCount24h int32
	amount24h    int64
	newDevice    bool
}

// fill sets ev's aggregates from the keys that gave them, by the Prefer
// rule.
func (v *Velocity) fill(ev *contracts.TransactionEvent, cardOK bool, cr *CardResult, deviceOK bool, dr *DeviceResult) {
	if !cardOK && !deviceOK {
		return
	}
	a := ev.Aggregates
	if a == nil {
		a = &contracts.Aggregates{}
	}
	replace := v.cfg.Prefer == PreferComputed
	c := &computed{txnCount1h: cr.TxnCount1h, amount24h: cr.Amount24h, newDevice: cr.NewDevice, cardCount24h: dr.CardCount24h}
	if cardOK {
		if replace || a.CardTxnCount1h == nil {
			a.CardTxnCount1h = &c.txnCount1h
		}
		if replace || a.CardAmount24hMinor == nil {
			a.CardAmount24hMinor = &c.amount24h
		}
		if ev.DeviceID != "" && (replace || a.NewDevice == nil) {
			a.NewDevice = &c.newDevice
		}
	}
	if deviceOK && (replace || a.DeviceCardCount24h == nil) {
		a.DeviceCardCount24h = &c.cardCount24h
	}
	ev.Aggregates = a
}
