package velocity_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/velocity"
)

// stream is a generated event log and the order it is delivered in.
type stream struct {
	events     []*contracts.TransactionEvent // each transaction once, by event time
	deliveries []*contracts.TransactionEvent // the same events (and duplicates) in delivery order
}

// genStream returns n events over the given numbers of cards and devices,
// gap apart on average, delivered in an order shuffled within lateness
// (sorted by event time plus a jitter below it, so none is late) with
// about a tenth delivered twice, the copy up to 100 deliveries later.
func genStream(r *rand.Rand, n, cards, devices int, gap, lateness time.Duration) stream {
	var s stream
	at := time.Duration(0)
	currencies := []string{"EUR", "EUR", "EUR", "USD", "GBP"}
	type keyed struct {
		ev  *contracts.TransactionEvent
		key time.Duration
	}
	var order []keyed
	for i := range n {
		at += time.Duration(r.Int64N(int64(2 * gap)))
		dev := ""
		if r.IntN(5) > 0 {
			dev = fmt.Sprint("device-", r.IntN(devices))
		}
		ev := event(fmt.Sprint("txn-", i), fmt.Sprint("tok_", r.IntN(cards)), dev, at, 1+r.Int64N(10_000), currencies[r.IntN(len(currencies))])
		s.events = append(s.events, ev)
		order = append(order, keyed{ev, at + time.Duration(r.Int64N(int64(lateness)))})
	}
	slices.SortStableFunc(order, func(a, b keyed) int { return int(a.key - b.key) })
	for _, o := range order {
		s.deliveries = append(s.deliveries, o.ev)
	}
	for range n / 10 {
		i := r.IntN(len(s.deliveries))
		j := min(i+1+r.IntN(100), len(s.deliveries)) // not a day later: its entry would be pruned

		s.deliveries = slices.Insert(s.deliveries, j, s.deliveries[i])
	}
	return s
}

// observer records, for every transaction, the aggregates of its first
// delivery and its ordinals read back from the state right after it.
type observer struct {
	t     *testing.T
	store *velocity.MemStore
	mu    sync.Mutex
	first map[string]string    // transaction id -> aggregates
	ords  map[string][2]uint64 // transaction id -> card, device ordinal
}

func newObserver(t *testing.T, store *velocity.MemStore) *observer {
	return &observer{t: t, store: store, first: map[string]string{}, ords: map[string][2]uint64{}}
}

// delivered checks a delivery of ev (enriched as got) against the first.
func (o *observer) delivered(ev, got *contracts.TransactionEvent) {
	o.t.Helper()
	a := aggs(got.Aggregates)
	o.mu.Lock()
	defer o.mu.Unlock()
	if first, ok := o.first[ev.TransactionID]; ok {
		if a != first {
			o.t.Errorf("%s: redelivery got %s, first delivery %s", ev.TransactionID, a, first)
		}
		return
	}
	o.first[ev.TransactionID] = a
	var ords [2]uint64
	ords[0] = o.ord(velocity.CardKey(ev.CardToken), ev.TransactionID, false)
	if ev.DeviceID != "" {
		ords[1] = o.ord(velocity.DeviceKey(ev.DeviceID), ev.TransactionID, true)
	}
	o.ords[ev.TransactionID] = ords
}

// ord returns a transaction's ordinal in the state at key.
func (o *observer) ord(key, txnID string, device bool) uint64 {
	o.t.Helper()
	b, _, err := o.store.Get(context.Background(), key)
	if err != nil {
		o.t.Fatal(err)
	}
	h := velocity.TxnHash(txnID)
	if device {
		s, err := velocity.DecodeDevice(b)
		if err != nil {
			o.t.Fatal(err)
		}
		for _, e := range s.Entries {
			if e.Txn == h {
				return e.Ord
			}
		}
	} else {
		s, err := velocity.DecodeCard(b)
		if err != nil {
			o.t.Fatal(err)
		}
		for _, e := range s.Entries {
			if e.Txn == h {
				return e.Ord
			}
		}
	}
	o.t.Fatalf("%s is not in the state at %s right after its delivery", txnID, key)
	return 0
}

// check recomputes every transaction's aggregates naively from the event
// log and the ordinals, and checks the final state: each transaction
// recorded once per key, ordinals 1..n without gaps or repeats, and the
// ordinals in it those read right after each delivery.
func (o *observer) check(events []*contracts.TransactionEvent) {
	t := o.t
	t.Helper()
	in := func(y, x time.Time, w time.Duration) bool { return !y.After(x) && x.Sub(y) < w }
	for _, x := range events {
		ox, ok := o.ords[x.TransactionID]
		if !ok {
			t.Fatalf("%s never delivered", x.TransactionID)
		}
		var count int32
		var amount int64
		cards := map[string]bool{}
		newDevice := true
		for _, y := range events {
			if y == x {
				continue
			}
			oy := o.ords[y.TransactionID]
			if y.CardToken == x.CardToken && oy[0] < ox[0] {
				if in(y.EventTime, x.EventTime, time.Hour) {
					count++
				}
				if y.Currency == x.Currency && in(y.EventTime, x.EventTime, 24*time.Hour) {
					amount += y.AmountMinor
				}
				if x.DeviceID != "" && y.DeviceID == x.DeviceID {
					newDevice = false
				}
			}
			if x.DeviceID != "" && y.DeviceID == x.DeviceID && oy[1] < ox[1] && in(y.EventTime, x.EventTime, 24*time.Hour) {
				cards[y.CardToken] = true
			}
		}
		want := &contracts.Aggregates{CardTxnCount1h: &count, CardAmount24hMinor: &amount}
		if x.DeviceID != "" {
			n := int32(len(cards))
			want.DeviceCardCount24h, want.NewDevice = &n, &newDevice
		}
		if got := o.first[x.TransactionID]; got != aggs(want) {
			t.Errorf("%s (card ord %d, device ord %d): got %s, brute force %s", x.TransactionID, ox[0], ox[1], got, aggs(want))
		}
	}
	// The final state.
	perKey := map[string][]string{}
	for _, x := range events {
		perKey[velocity.CardKey(x.CardToken)] = append(perKey[velocity.CardKey(x.CardToken)], x.TransactionID)
		if x.DeviceID != "" {
			perKey[velocity.DeviceKey(x.DeviceID)] = append(perKey[velocity.DeviceKey(x.DeviceID)], x.TransactionID)
		}
	}
	if o.store.Len() != len(perKey) {
		t.Fatalf("%d keys stored, want %d", o.store.Len(), len(perKey))
	}
	for key, txns := range perKey {
		b, _, _ := o.store.Get(context.Background(), key)
		device := key[0] == 'd'
		var lastOrd uint64
		stored := map[uint64]uint64{} // txn hash -> ord
		add := func(txn, ord uint64) {
			if _, dup := stored[txn]; dup {
				t.Fatalf("%s holds a transaction twice", key)
			}
			stored[txn] = ord
		}
		if device {
			s, err := velocity.DecodeDevice(b)
			if err != nil {
				t.Fatal(err)
			}
			lastOrd = s.LastOrd
			for _, e := range s.Entries {
				add(e.Txn, e.Ord)
			}
		} else {
			s, err := velocity.DecodeCard(b)
			if err != nil {
				t.Fatal(err)
			}
			lastOrd = s.LastOrd
			for _, e := range s.Entries {
				add(e.Txn, e.Ord)
			}
		}
		if lastOrd != uint64(len(txns)) {
			t.Fatalf("%s: last ordinal %d, want %d (each transaction once)", key, lastOrd, len(txns))
		}
		seen := map[uint64]bool{}
		idx := 0
		if device {
			idx = 1
		}
		for _, id := range txns {
			ord := o.ords[id][idx]
			if ord < 1 || ord > lastOrd || seen[ord] {
				t.Fatalf("%s: %s has ordinal %d (1..%d, distinct)", key, id, ord, lastOrd)
			}
			seen[ord] = true
			if got, ok := stored[velocity.TxnHash(id)]; ok && got != ord {
				t.Fatalf("%s: %s stored with ordinal %d, read %d after its delivery", key, id, got, ord)
			}
		}
	}
}

// TestBruteForce delivers random streams in a shuffled order within the
// lateness bound, with duplicates, over days (so pruning happens), and
// compares every aggregate with a naive recomputation.
func TestBruteForce(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 13))
			c := cfg(nil)
			if seed%2 == 1 {
				c.CacheBytes = 0 // read every key first
			}
			s := genStream(r, 800, 6, 5, 8*time.Minute, c.Lateness)
			store := &velocity.MemStore{}
			h := newHarness(t, store, c)
			o := newObserver(t, store)
			for _, ev := range s.deliveries {
				o.delivered(ev, h.enrich(t, ev))
			}
			o.check(s.events)
			if n := h.metric(t, "fraudscore_velocity_late_total", "card") + h.metric(t, "fraudscore_velocity_late_total", "device"); n != 0 {
				t.Fatalf("%v late within the bound", n)
			}
			if d := h.metric(t, "fraudscore_velocity_duplicates_total", "card"); d != float64(len(s.deliveries)-len(s.events)) {
				t.Fatalf("card duplicates %v, want %d", d, len(s.deliveries)-len(s.events))
			}
			span := s.events[len(s.events)-1].EventTime.Sub(s.events[0].EventTime)
			if span < 3*24*time.Hour {
				t.Fatalf("the stream spans %s: too short to prune", span)
			}
		})
	}
}

// TestConcurrentEnrich races two goroutines on the same cards and devices,
// each also redelivering the other's events: as two workers of one process
// (one cache), as two processes (a cache each: their guesses go stale), and
// reading every key first (no cache). Every transaction is recorded once
// with a distinct ordinal, redeliveries get the first features, and the
// features match the brute force.
func TestConcurrentEnrich(t *testing.T) {
	for _, tc := range []struct {
		name       string
		processes  int
		cacheBytes int
	}{
		{"one process", 1, velocity.DefaultConfig().CacheBytes},
		{"two processes", 2, velocity.DefaultConfig().CacheBytes},
		{"no cache", 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 7))
			c := cfg(func(c *velocity.Config) { c.Lateness = time.Hour; c.CacheBytes = tc.cacheBytes })
			s := genStream(r, 400, 2, 2, 2*time.Second, time.Second)
			store := &velocity.MemStore{}
			hs := []*harness{newHarness(t, store, c)}
			if tc.processes == 2 {
				hs = append(hs, newHarness(t, store, c))
			}
			o := newObserver(t, store)
			var wg sync.WaitGroup
			for g := range 2 {
				h := hs[g%len(hs)]
				wg.Go(func() {
					for i, ev := range s.deliveries {
						if i%2 == g || i%5 == 0 {
							o.delivered(ev, h.enrich(t, ev))
						}
					}
				})
			}
			wg.Wait()
			o.check(s.events)
			if t.Failed() {
				return
			}
			var conflicts, wrong float64
			for _, h := range hs {
				conflicts += h.metric(t, "fraudscore_velocity_conflicts_total")
				wrong += h.metric(t, "fraudscore_velocity_guesses_total", "card", "wrong", "cached") +
					h.metric(t, "fraudscore_velocity_guesses_total", "device", "wrong", "cached")
			}
			t.Logf("conflicts retried after a read: %v; cached guesses wrong: %v", conflicts, wrong)
			if tc.processes == 2 && tc.cacheBytes > 0 && wrong == 0 {
				t.Fatal("two processes on the same keys never guessed wrong: the stale-cache path was not exercised")
			}
		})
	}
}
