package velocity_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/scorer/velocity"
)

// guesses returns the harness's fraudscore_velocity_guesses_total for one
// key kind, source and result.
func (h *harness) guesses(t *testing.T, key, source, result string) float64 {
	t.Helper()
	return h.metric(t, "fraudscore_velocity_guesses_total", key, result, source)
}

// One worker owns its keys: after the first event a key's state comes from
// the cache and a new key is guessed absent, so no event reads the store,
// every write is one round trip, and the features are those of reading
// first.
func TestGuessesSaveReads(t *testing.T) {
	store := &faultStore{}
	h := newHarness(t, store, cfg(nil))
	ref := newHarness(t, &velocity.MemStore{}, cfg(func(c *velocity.Config) { c.CacheBytes = 0 }))
	const n = 200
	for i := range n {
		ev := event(fmt.Sprint("t", i), fmt.Sprint("tok_", i%7), fmt.Sprint("dev", i%3), time.Duration(i)*time.Minute, 100, "EUR")
		got, want := aggs(h.enrich(t, ev).Aggregates), aggs(ref.enrich(t, ev).Aggregates)
		if got != want {
			t.Fatalf("%s: %s from guesses, %s reading first", ev.TransactionID, got, want)
		}
	}
	if g := store.gets.Load(); g != 0 {
		t.Fatalf("%d reads, want none", g)
	}
	if p := store.puts.Load(); p != 2*n {
		t.Fatalf("%d writes, want %d", p, 2*n)
	}
	right := h.guesses(t, "card", "cached", "right") + h.guesses(t, "card", "absent", "right") +
		h.guesses(t, "device", "cached", "right") + h.guesses(t, "device", "absent", "right")
	if right != 2*n || h.guesses(t, "card", "absent", "right") != 7 || h.guesses(t, "device", "absent", "right") != 3 {
		t.Fatalf("right guesses %v (card absent %v, device absent %v), want %d (7, 3)", right,
			h.guesses(t, "card", "absent", "right"), h.guesses(t, "device", "absent", "right"), 2*n)
	}
}

// A redelivery found in a cached state is settled on a read: a guess never
// decides an event that writes nothing.
func TestGuessDuplicateSettledOnRead(t *testing.T) {
	store := &faultStore{}
	h := newHarness(t, store, cfg(nil))
	ev := event("t1", "tok_A", "", 0, 100, "EUR")
	first := aggs(h.enrich(t, ev).Aggregates)
	h.enrich(t, event("t2", "tok_A", "", time.Minute, 100, "EUR"))
	if store.gets.Load() != 0 {
		t.Fatalf("%d reads before the redelivery", store.gets.Load())
	}
	if again := aggs(h.enrich(t, ev).Aggregates); again != first {
		t.Fatalf("redelivery %s, first %s", again, first)
	}
	if g, p := store.gets.Load(), store.puts.Load(); g != 1 || p != 2 {
		t.Fatalf("redelivery: %d reads and %d writes in all, want 1 read and the 2 first writes", g, p)
	}
	if d := h.metric(t, "fraudscore_velocity_duplicates_total", "card"); d != 1 {
		t.Fatalf("duplicates %v", d)
	}
}

// Two workers alternating on one card: each one's cached state is always
// stale. Every wrong guess costs a read and a second write, and the
// features stay exact; guessing stops paying, so after the warm-up a
// worker guesses on about one event in 16 and reads first otherwise.
func TestGuessesTurnOffWhenWrong(t *testing.T) {
	store := &faultStore{}
	a, b := newHarness(t, store, cfg(nil)), newHarness(t, store, cfg(nil))
	ref := newHarness(t, &velocity.MemStore{}, cfg(func(c *velocity.Config) { c.CacheBytes = 0 }))
	const n = 800 // an event every 10 minutes: at most 145 entries in the state
	for i := range n {
		h := a
		if i%2 == 1 {
			h = b
		}
		ev := event(fmt.Sprint("t", i), "tok_A", "", time.Duration(i)*10*time.Minute, 100, "EUR")
		if got, want := aggs(h.enrich(t, ev).Aggregates), aggs(ref.enrich(t, ev).Aggregates); got != want {
			t.Fatalf("%s: %s, want %s", ev.TransactionID, got, want)
		}
	}
	for name, h := range map[string]*harness{"a": a, "b": b} {
		wrong := h.guesses(t, "card", "cached", "wrong")
		right := h.guesses(t, "card", "cached", "right")
		// Warm-up (32) plus one probe in 16 of the rest, and a margin for
		// the first event (absent, not cached).
		if limit := float64(32 + n/2/16 + 2); wrong == 0 || wrong > limit || right != 0 {
			t.Fatalf("worker %s: %v wrong and %v right cached guesses, want 1..%v wrong and none right", name, wrong, right, limit)
		}
	}
	// Every write is either right first time from a read or a wrong guess
	// followed by a read and a write: reads = events - 1 (the very first
	// event of all creates the key from the absent guess).
	if g := store.gets.Load(); g != n-1 {
		t.Fatalf("%d reads, want %d", g, n-1)
	}
	if c := a.metric(t, "fraudscore_velocity_conflicts_total") + b.metric(t, "fraudscore_velocity_conflicts_total"); c != 0 {
		t.Fatalf("%v conflicts after a read with no concurrent writer", c)
	}
}

// Events of one hot card and device on many goroutines of one process take
// turns: no compare-and-set is lost, every write is a right guess (no read
// at all), and every transaction is recorded once.
func TestHotKeyTakesTurns(t *testing.T) {
	store := &faultStore{}
	h := newHarness(t, store, cfg(nil))
	const goroutines, each = 8, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				h.enrich(t, event(fmt.Sprint("t", g, "-", i), "tok_hot", "dev_hot", time.Duration(i)*time.Second, 100, "EUR"))
			}
		})
	}
	wg.Wait()
	if c := h.metric(t, "fraudscore_velocity_conflicts_total"); c != 0 {
		t.Fatalf("%v conflicts within one process", c)
	}
	if g := store.gets.Load(); g != 0 {
		t.Fatalf("%d reads, want none", g)
	}
	if w := h.guesses(t, "card", "cached", "wrong") + h.guesses(t, "device", "cached", "wrong"); w != 0 {
		t.Fatalf("%v wrong guesses within one process", w)
	}
	b, _, _ := store.inner.Get(context.Background(), velocity.CardKey("tok_hot"))
	s, err := velocity.DecodeCard(b)
	if err != nil || len(s.Entries) != goroutines*each || s.LastOrd != goroutines*each {
		t.Fatalf("card state: %d entries, last ordinal %d, %v; want %d", len(s.Entries), s.LastOrd, err, goroutines*each)
	}
}
