package velocity

import (
	"sync/atomic"
	"time"
)

// BreakerTrip is how many events in a row must fail on the store (its
// error or the timeout) for the breaker to open.
const BreakerTrip = 16

// breaker skips velocity while the store is failing: after BreakerTrip
// events in a row failed on the store (the timeout or a store error; not a
// corrupt value or a hot key's conflicts, which are one key's trouble) it
// opens for Config.BreakerCooldown, during which Enrich degrades at once
// (reason "breaker") without touching the store; then one event probes
// the store: it closes the breaker if it succeeds and opens it again if
// not. A slow bucket would otherwise cost every event the whole timeout,
// holding each scoring goroutine, so that a worker scores about
// CONCURRENCY events per timeout and its buffered messages outlive
// AckWait. A zero cool-down disables it.
type breaker struct {
	cooldown  time.Duration
	failures  atomic.Int32 // events in a row that failed on the store
	openUntil atomic.Int64 // Unix ns; 0 when closed
	probing   atomic.Bool  // an event is probing the store
}

// Breaker states, as allow returns them.
const (
	breakerClosed = iota
	breakerOpen
	breakerProbe
)

// allow reports whether an event at now may use the store: closed, open
// (no), or as the one probe after the cool-down.
func (b *breaker) allow(now time.Time) int {
	until := b.openUntil.Load()
	switch {
	case until == 0:
		return breakerClosed
	case now.UnixNano() < until || !b.probing.CompareAndSwap(false, true):
		return breakerOpen
	}
	return breakerProbe
}

// abandon gives up a probe that ended without an answer from the store
// (the caller's context ended): another event probes instead.
func (b *breaker) abandon(state int) {
	if state == breakerProbe {
		b.probing.Store(false)
	}
}

// result records an event's outcome at now (failed: on the store) and
// returns whether that opened the breaker (from closed, or a failed probe)
// or closed it (a probe that succeeded).
func (b *breaker) result(now time.Time, state int, failed bool) (opened, closed bool) {
	if b.cooldown <= 0 {
		return false, false
	}
	if !failed {
		b.failures.Store(0)
		if state == breakerProbe {
			b.openUntil.Store(0)
			b.probing.Store(false)
			return false, true
		}
		return false, false
	}
	n := b.failures.Add(1)
	switch {
	case state == breakerProbe:
		b.openUntil.Store(now.Add(b.cooldown).UnixNano())
		b.probing.Store(false)
		return true, false
	case state == breakerClosed && n >= BreakerTrip && b.openUntil.CompareAndSwap(0, now.Add(b.cooldown).UnixNano()):
		return true, false
	}
	return false, false
}
