package velocity_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/scorer/velocity"
)

// clock is a settable clock for the breaker.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock                   { c := &clock{}; c.ns.Store(t0.UnixNano()); return c }

// breakerOpen is the fraudscore_velocity_breaker_open gauge.
func (h *harness) breakerOpen(t *testing.T) float64 {
	t.Helper()
	return h.metric(t, "fraudscore_velocity_breaker_open")
}

// newBreakerHarness is a harness over store with the breaker's clock c.
func newBreakerHarness(t *testing.T, store velocity.Store, c *clock, edit func(*velocity.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, store, cfg(edit), velocity.Options{Now: c.now})
}

// A bucket that times out: after BreakerTrip events in a row the breaker
// opens and events degrade at once without asking the store; after the
// cool-down one event probes, a failed probe opens it again, and a probe
// that succeeds closes it and velocity is computed again.
func TestBreaker(t *testing.T) {
	store := &faultStore{block: true}
	c := newClock()
	h := newBreakerHarness(t, store, c, func(c *velocity.Config) {
		c.Timeout = time.Millisecond
		c.CacheBytes = 0 // the store blocks reads
	})
	i := 0
	next := func() string {
		i++
		return aggs(h.enrich(t, event(fmt.Sprint("t", i), fmt.Sprint("tok_", i), "", time.Duration(i)*time.Second, 10, "EUR")).Aggregates)
	}
	for range velocity.BreakerTrip {
		next()
	}
	if d := h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonTimeout); d != velocity.BreakerTrip {
		t.Fatalf("degraded{timeout} %v, want %d", d, velocity.BreakerTrip)
	}
	if h.breakerOpen(t) != 1 || !strings.Contains(h.log.String(), "velocity breaker open") {
		t.Fatalf("breaker not open after %d timeouts in a row: gauge %v, log %s", velocity.BreakerTrip, h.breakerOpen(t), h.log.String())
	}
	gets := store.gets.Load()
	for range 100 {
		if a := next(); a != "none" {
			t.Fatalf("aggregates while open: %s", a)
		}
	}
	if store.gets.Load() != gets {
		t.Fatalf("the store was asked %d times while the breaker was open", store.gets.Load()-gets)
	}
	if d := h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonBreaker); d != 100 {
		t.Fatalf("degraded{breaker} %v, want 100", d)
	}

	// After the cool-down: one probe, which fails; open again.
	c.advance(velocity.DefaultConfig().BreakerCooldown)
	next()
	if store.gets.Load() != gets+1 || h.breakerOpen(t) != 1 {
		t.Fatalf("probe: %d store reads, gauge %v; want 1 read and the breaker open again", store.gets.Load()-gets, h.breakerOpen(t))
	}
	next()
	if store.gets.Load() != gets+1 {
		t.Fatal("the store was asked right after a failed probe")
	}

	// The store recovers; after the cool-down the probe succeeds and closes it.
	store.block = false
	c.advance(velocity.DefaultConfig().BreakerCooldown)
	if a := next(); a != "count1h=0 amount24h=0 devcards24h=nil new=nil" {
		t.Fatalf("probe after recovery: %s", a)
	}
	if h.breakerOpen(t) != 0 || !strings.Contains(h.log.String(), "velocity breaker closed") {
		t.Fatalf("breaker not closed by a successful probe: gauge %v", h.breakerOpen(t))
	}
	if a := next(); a != "count1h=0 amount24h=0 devcards24h=nil new=nil" {
		t.Fatalf("after closing: %s", a)
	}
}

// Failures that are one key's trouble (a corrupt value, a hot key's
// conflicts) do not open the breaker, and a cool-down of 0 turns it off.
func TestBreakerIgnoresKeyTroubleAndCanBeOff(t *testing.T) {
	lose := &faultStore{lose: true}
	h := newBreakerHarness(t, lose, newClock(), func(c *velocity.Config) { c.CacheBytes = 0 })
	for i := range velocity.BreakerTrip + 4 {
		h.enrich(t, event(fmt.Sprint("t", i), "tok_A", "", 0, 10, "EUR"))
	}
	if h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonConflicts) != velocity.BreakerTrip+4 || h.breakerOpen(t) != 0 {
		t.Fatalf("conflicts opened the breaker: gauge %v", h.breakerOpen(t))
	}

	down := &faultStore{block: true}
	h = newBreakerHarness(t, down, newClock(), func(c *velocity.Config) {
		c.Timeout = time.Millisecond
		c.BreakerCooldown = 0
		c.CacheBytes = 0 // the store blocks reads
	})
	for i := range 2 * velocity.BreakerTrip {
		h.enrich(t, event(fmt.Sprint("t", i), fmt.Sprint("tok_", i), "", 0, 10, "EUR"))
	}
	if d := h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonTimeout); d != 2*velocity.BreakerTrip || h.breakerOpen(t) != 0 {
		t.Fatalf("breaker off: degraded{timeout} %v gauge %v, want every event to ask the store", d, h.breakerOpen(t))
	}
}
