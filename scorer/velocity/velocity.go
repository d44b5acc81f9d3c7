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
}

// Velocity computes the velocity aggregates of events over the state in a
// Store, recording each event once per key. It is safe for concurrent use:
// workers on any number of processes may share one Store.
type Velocity struct {
	store   Store
	cfg     Config
	metrics *metrics
	log     *slog.Logger
	work    sync.Pool // *work

	lastWarn   atomic.Int64 // Unix ns of the last degrade warning
	suppressed atomic.Int64 // warnings not logged since
}

// work is one Enrich call's reusable buffers.
type work struct {
	card   CardState
	device DeviceState
	buf    []byte
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
	v := &Velocity{store: store, cfg: cfg, metrics: m, log: log}
	v.work.New = func() any { return new(work) }
	return v, nil
}

// Config returns the settings v was built with.
func (v *Velocity) Config() Config { return v.cfg }

// Enrich computes ev's velocity aggregates as of its event_time, records ev
// in its card's state and, when it has a device_id, its device's state, and
// sets ev.Aggregates: with Prefer upstream a field the event carries is
// kept, with Prefer computed it is replaced.
//
// When a key's state cannot be read or written within the timeout (a store
// error, the timeout, a corrupt value, endless conflicts) the aggregates
// that key gives are left as the event carried them, the event is counted
// in fraudscore_velocity_degraded_total, a warning names its
// transaction_id, and Enrich returns nil. It returns an error only when ctx
// itself is done.
func (v *Velocity) Enrich(ctx context.Context, ev *contracts.TransactionEvent) error {
	start := time.Now()
	defer func() { v.metrics.observe(time.Since(start).Seconds()) }()
	x := TxnOf(ev)
	tctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	w := v.work.Get().(*work)
	defer v.work.Put(w)

	var cr CardResult
	cardErr := v.cas(tctx, CardKey(ev.CardToken), w, func() (Outcome, int) {
		cr = w.card.Apply(x, v.cfg)
		return cr.Outcome, cr.Capped
	}, &w.card, card)
	var dr DeviceResult
	var deviceErr error
	if ev.DeviceID != "" {
		deviceErr = v.cas(tctx, DeviceKey(ev.DeviceID), w, func() (Outcome, int) {
			dr = w.device.Apply(x, v.cfg)
			return dr.Outcome, dr.Capped
		}, &w.device, device)
	}
	if cardErr != nil || deviceErr != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("velocity: %w", context.Cause(ctx))
		}
		v.degraded(ev.TransactionID, tctx.Err() != nil, cardErr, deviceErr)
	}
	v.fill(ev, cardErr == nil, &cr, ev.DeviceID != "" && deviceErr == nil, &dr)
	return nil
}

// state is a key's state as cas reads and writes it.
type state interface {
	UnmarshalBinary([]byte) error
	AppendBinary([]byte) ([]byte, error)
}

// cas runs one key's compare-and-set loop: read the state into st, apply
// (which returns the outcome and the entries capped), write it back if it
// changed, and start over when another writer got there first.
func (v *Velocity) cas(ctx context.Context, key string, w *work, apply func() (Outcome, int), st state, k kind) error {
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		value, rev, err := v.store.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("velocity: read state: %w", err)
		}
		if err := st.UnmarshalBinary(value); err != nil {
			return err
		}
		o, capped := apply()
		if o != Recorded {
			v.metrics.applied(k, o, 0)
			return nil
		}
		w.buf, _ = st.AppendBinary(w.buf[:0])
		ok, err := v.store.Put(ctx, key, w.buf, rev)
		if err != nil {
			return fmt.Errorf("velocity: write state: %w", err)
		}
		if ok {
			v.metrics.applied(k, o, capped)
			return nil
		}
		v.metrics.conflict()
	}
	return errConflicts
}

// reason classifies a key's failure for the degraded metric; timedOut
// reports whether the per-event timeout had passed.
func reason(timedOut bool, err error) string {
	switch {
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
