package velocity_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/scorer/velocity"
)

// harness is a Velocity with its registry and log.
type harness struct {
	v   *velocity.Velocity
	reg *prometheus.Registry
	log *testenv.Buffer
}

func newHarness(t *testing.T, store velocity.Store, c velocity.Config) *harness {
	t.Helper()
	return newHarnessWith(t, store, c, velocity.Options{})
}

// newHarnessWith is newHarness with opts (its Registerer and Logger are the
// harness's).
func newHarnessWith(t *testing.T, store velocity.Store, c velocity.Config, opts velocity.Options) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewRegistry(), log: &testenv.Buffer{}}
	opts.Registerer, opts.Logger = h.reg, slog.New(slog.NewJSONHandler(h.log, nil))
	v, err := velocity.New(store, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.v = v
	return h
}

// metric returns the value of a counter or gauge (with its label values in
// the order of the label names sorted, as Gather returns them; not the
// order they were declared in) from the harness's registry.
func (h *harness) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i, lp := range m.GetLabel() {
				if i >= len(labels) || lp.GetValue() != labels[i] {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

// enrich enriches a copy of ev and returns it; the copy shares nothing with ev.
func (h *harness) enrich(t *testing.T, ev *contracts.TransactionEvent) *contracts.TransactionEvent {
	t.Helper()
	cp := *ev
	if ev.Aggregates != nil {
		a := *ev.Aggregates
		cp.Aggregates = &a
	}
	if err := h.v.Enrich(context.Background(), &cp); err != nil {
		t.Fatalf("enrich %s: %v", ev.TransactionID, err)
	}
	return &cp
}

// aggs renders aggregates for comparison ("nil" for a missing field).
func aggs(a *contracts.Aggregates) string {
	if a == nil {
		return "none"
	}
	f := func(p any) string {
		switch p := p.(type) {
		case *int32:
			if p != nil {
				return fmt.Sprint(*p)
			}
		case *int64:
			if p != nil {
				return fmt.Sprint(*p)
			}
		case *bool:
			if p != nil {
				return fmt.Sprint(*p)
			}
		}
		return "nil"
	}
	return fmt.Sprintf("count1h=%s amount24h=%s devcards24h=%s new=%s", f(a.CardTxnCount1h), f(a.CardAmount24hMinor), f(a.DeviceCardCount24h), f(a.NewDevice))
}

func TestEnrichAndRedelivery(t *testing.T) {
	store := &velocity.MemStore{}
	h := newHarness(t, store, cfg(nil))
	h.enrich(t, event("t1", "tok_A", "dev1", 0, 500, "EUR"))
	h.enrich(t, event("t2", "tok_B", "dev1", time.Minute, 700, "EUR"))
	ev3 := event("t3", "tok_A", "dev1", 2*time.Minute, 100, "EUR")
	got := aggs(h.enrich(t, ev3).Aggregates)
	if want := "count1h=1 amount24h=500 devcards24h=2 new=false"; got != want {
		t.Fatalf("t3: %s, want %s", got, want)
	}
	// Later transactions, then the redelivery of t3: the same features,
	// nothing written.
	h.enrich(t, event("t4", "tok_A", "dev2", 3*time.Minute, 100, "EUR"))
	h.enrich(t, event("t5", "tok_C", "dev1", 3*time.Minute, 100, "EUR"))
	_, revCard, _ := store.Get(context.Background(), velocity.CardKey("tok_A"))
	_, revDev, _ := store.Get(context.Background(), velocity.DeviceKey("dev1"))
	if again := aggs(h.enrich(t, ev3).Aggregates); again != got {
		t.Fatalf("redelivery: %s, first %s", again, got)
	}
	if _, r, _ := store.Get(context.Background(), velocity.CardKey("tok_A")); r != revCard {
		t.Fatal("a redelivery wrote the card state")
	}
	if _, r, _ := store.Get(context.Background(), velocity.DeviceKey("dev1")); r != revDev {
		t.Fatal("a redelivery wrote the device state")
	}
	if d := h.metric(t, "fraudscore_velocity_duplicates_total", "card"); d != 1 {
		t.Fatalf("card duplicates %v, want 1", d)
	}
	if u := h.metric(t, "fraudscore_velocity_updates_total", "card") + h.metric(t, "fraudscore_velocity_updates_total", "device"); u != 10 {
		t.Fatalf("updates %v, want 10 (5 card, 5 device)", u)
	}
	if n := h.metric(t, "fraudscore_velocity_seconds"); n != 6 {
		t.Fatalf("latency observations %v, want 6", n)
	}
	// The stored state, read by key, holds the entries with their ordinals.
	b, _, _ := store.Get(context.Background(), velocity.CardKey("tok_A"))
	s, err := velocity.DecodeCard(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Entries) != 3 || s.Entries[1].Txn != velocity.TxnHash("t3") || s.Entries[1].Ord != 2 ||
		s.Entries[1].Device != velocity.DeviceHash("dev1") || s.Entries[1].Currency.String() != "EUR" || s.Entries[1].Amount != 100 {
		t.Fatalf("card state %+v", s)
	}
	// No device: no device aggregates, no device key.
	ev := h.enrich(t, event("t6", "tok_A", "", 4*time.Minute, 1, "EUR"))
	if got := aggs(ev.Aggregates); got != "count1h=3 amount24h=700 devcards24h=nil new=nil" {
		t.Fatalf("without device: %s", got)
	}
	if store.Len() != 5 { // 3 cards, 2 devices
		t.Fatalf("keys %v", store.Keys())
	}
}

func TestLateCounted(t *testing.T) {
	store := &velocity.MemStore{}
	h := newHarness(t, store, cfg(func(c *velocity.Config) { c.Lateness = time.Minute }))
	h.enrich(t, event("t1", "tok_A", "dev", 0, 10, "EUR"))
	h.enrich(t, event("t2", "tok_A", "dev", 10*time.Minute, 10, "EUR"))
	before, _, _ := store.Get(context.Background(), velocity.CardKey("tok_A"))
	late := h.enrich(t, event("late", "tok_A", "dev", 5*time.Minute, 10, "EUR"))
	if got := aggs(late.Aggregates); got != "count1h=1 amount24h=10 devcards24h=1 new=false" {
		t.Fatalf("late: %s", got)
	}
	if n := h.metric(t, "fraudscore_velocity_late_total", "card"); n != 1 {
		t.Fatalf("late card %v", n)
	}
	if n := h.metric(t, "fraudscore_velocity_late_total", "device"); n != 1 {
		t.Fatalf("late device %v", n)
	}
	after, _, _ := store.Get(context.Background(), velocity.CardKey("tok_A"))
	if string(before) != string(after) {
		t.Fatal("a late event was recorded")
	}
}

func TestPrefer(t *testing.T) {
	upstream := func() *contracts.TransactionEvent {
		ev := event("t2", "tok_A", "dev", time.Minute, 10, "EUR")
		n, amt := int32(99), int64(12345)
		ev.Aggregates = &contracts.Aggregates{CardTxnCount1h: &n, CardAmount24hMinor: &amt}
		return ev
	}
	for _, tc := range []struct{ prefer, want string }{
		{velocity.PreferUpstream, "count1h=99 amount24h=12345 devcards24h=1 new=false"},
		{velocity.PreferComputed, "count1h=1 amount24h=10 devcards24h=1 new=false"},
	} {
		t.Run(tc.prefer, func(t *testing.T) {
			store := &velocity.MemStore{}
			h := newHarness(t, store, cfg(func(c *velocity.Config) { c.Prefer = tc.prefer }))
			h.enrich(t, event("t1", "tok_A", "dev", 0, 10, "EUR"))
			if got := aggs(h.enrich(t, upstream()).Aggregates); got != tc.want {
				t.Fatalf("%s, want %s", got, tc.want)
			}
			// The state is updated either way.
			if got := aggs(h.enrich(t, event("t3", "tok_A", "dev", 2*time.Minute, 1, "EUR")).Aggregates); got != "count1h=2 amount24h=20 devcards24h=1 new=false" {
				t.Fatalf("after: %s", got)
			}
		})
	}
}

// faultStore is a Store over a MemStore with injected faults.
type faultStore struct {
	inner velocity.MemStore
	// fail, when set, returns the error of an operation ("get", "put") on a key.
	fail func(op, key string) error
	// block makes Get wait for its context to end.
	block bool
	// lose makes every Put lose to "another writer".
	lose bool
	// before, when set, runs at the start of every Get.
	before func(key string)

	gets, puts, faults atomic.Int64
}

func (s *faultStore) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	s.gets.Add(1)
	if s.before != nil {
		s.before(key)
	}
	if s.block {
		s.faults.Add(1)
		<-ctx.Done()
		return nil, 0, ctx.Err()
	}
	if s.fail != nil {
		if err := s.fail("get", key); err != nil {
			s.faults.Add(1)
			return nil, 0, err
		}
	}
	return s.inner.Get(ctx, key)
}

func (s *faultStore) Put(ctx context.Context, key string, value []byte, rev uint64) (uint64, bool, error) {
	s.puts.Add(1)
	if s.lose {
		s.faults.Add(1)
		return 0, false, nil
	}
	if s.fail != nil {
		if err := s.fail("put", key); err != nil {
			s.faults.Add(1)
			return 0, false, err
		}
	}
	return s.inner.Put(ctx, key, value, rev)
}

var errDown = errors.New("kv: bucket unavailable")

func TestDegradeStoreError(t *testing.T) {
	store := &faultStore{fail: func(string, string) error { return errDown }}
	h := newHarness(t, store, cfg(nil))
	ev := event("txn-down", "tok_SECRET_CARD", "device-SECRET", 0, 10, "EUR")
	n := int32(4)
	ev.Aggregates = &contracts.Aggregates{CardTxnCount1h: &n}
	got := h.enrich(t, ev)
	if store.faults.Load() == 0 {
		t.Fatal("the store fault did not happen")
	}
	if a := aggs(got.Aggregates); a != "count1h=4 amount24h=nil devcards24h=nil new=nil" {
		t.Fatalf("degraded event: %s, want upstream's aggregates untouched", a)
	}
	if d := h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonStore); d != 1 {
		t.Fatalf("degraded{store} %v", d)
	}
	recs := h.log.Records()
	if len(recs) != 1 || recs[0]["transaction_id"] != "txn-down" || recs[0]["reason"] != "store" || recs[0]["level"] != "WARN" {
		t.Fatalf("log %v", recs)
	}
	if out := h.log.String(); strings.Contains(out, "SECRET") || !strings.Contains(out, errDown.Error()) {
		t.Fatalf("log names card data or misses the error: %s", out)
	}
	// The warning is rate-limited; the count is not.
	h.enrich(t, event("txn-down-2", "tok_SECRET_CARD", "", 0, 10, "EUR"))
	if d := h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonStore); d != 2 {
		t.Fatalf("degraded{store} %v, want 2", d)
	}
}

func TestDegradeDeviceOnly(t *testing.T) {
	store := &faultStore{fail: func(op, key string) error {
		if op == "put" && strings.HasPrefix(key, "d.") {
			return errDown
		}
		return nil
	}}
	h := newHarness(t, store, cfg(nil))
	h.enrich(t, event("t1", "tok_A", "dev", 0, 10, "EUR"))
	got := h.enrich(t, event("t2", "tok_A", "dev", time.Minute, 10, "EUR"))
	if store.faults.Load() != 2 {
		t.Fatalf("device faults %d, want 2", store.faults.Load())
	}
	if a := aggs(got.Aggregates); a != "count1h=1 amount24h=10 devcards24h=nil new=false" {
		t.Fatalf("device down: %s, want the card aggregates only", a)
	}
	if d := h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonStore); d != 2 {
		t.Fatalf("degraded %v", d)
	}
}

func TestDegradeTimeout(t *testing.T) {
	store := &faultStore{block: true}
	h := newHarness(t, store, cfg(func(c *velocity.Config) { c.Timeout = time.Millisecond; c.CacheBytes = 0 }))
	got := h.enrich(t, event("slow", "tok_A", "dev", 0, 10, "EUR"))
	if store.faults.Load() == 0 {
		t.Fatal("the store never blocked")
	}
	if got.Aggregates != nil {
		t.Fatalf("aggregates after a timeout: %s", aggs(got.Aggregates))
	}
	if d := h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonTimeout); d != 1 {
		t.Fatalf("degraded{timeout} %v", d)
	}
}

func TestCanceledParent(t *testing.T) {
	store := &faultStore{block: true}
	h := newHarness(t, store, cfg(func(c *velocity.Config) { c.Timeout = time.Hour; c.CacheBytes = 0 }))
	ctx, cancel := context.WithCancel(context.Background())
	store.before = func(string) { cancel() }
	err := h.v.Enrich(ctx, event("t", "tok_A", "", 0, 10, "EUR"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if d := h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonTimeout) + h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonStore); d != 0 {
		t.Fatalf("a canceled call counted as degraded: %v", d)
	}
}

func TestDegradeCorrupt(t *testing.T) {
	store := &velocity.MemStore{}
	garbage := []byte{velocity.FormatVersion, 'c', 1, 2, 3}
	if _, ok, _ := store.Put(context.Background(), velocity.CardKey("tok_A"), garbage, 0); !ok {
		t.Fatal("put garbage")
	}
	h := newHarness(t, store, cfg(nil))
	got := h.enrich(t, event("t", "tok_A", "dev", 0, 10, "EUR"))
	if a := aggs(got.Aggregates); a != "count1h=nil amount24h=nil devcards24h=0 new=nil" {
		t.Fatalf("corrupt card state: %s, want the device aggregate only", a)
	}
	if d := h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonCorrupt); d != 1 {
		t.Fatalf("degraded{corrupt} %v", d)
	}
	if b, _, _ := store.Get(context.Background(), velocity.CardKey("tok_A")); string(b) != string(garbage) {
		t.Fatal("the corrupt value was overwritten")
	}
	if !strings.Contains(h.log.String(), "corrupt") {
		t.Fatalf("log: %s", h.log.String())
	}
}

func TestConflictRetry(t *testing.T) {
	store := &faultStore{}
	other, err := velocity.New(&store.inner, cfg(nil), velocity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Before the first read of the card, another writer records t0 on it:
	// our read (taken just before) is stale when we write.
	var once sync.Once
	var staleGets atomic.Int64
	store.before = func(key string) {
		if key != velocity.CardKey("tok_A") {
			return
		}
		once.Do(func() {
			staleGets.Add(1)
			if err := other.Enrich(context.Background(), event("t0", "tok_A", "", 0, 5, "EUR")); err != nil {
				t.Error(err)
			}
		})
	}
	readFirst := cfg(func(c *velocity.Config) { c.CacheBytes = 0 })
	h := newHarness(t, staleStore{store}, readFirst)
	got := h.enrich(t, event("t1", "tok_A", "", time.Minute, 10, "EUR"))
	if staleGets.Load() != 1 {
		t.Fatal("the competing write did not happen")
	}
	if c := h.metric(t, "fraudscore_velocity_conflicts_total"); c != 1 {
		t.Fatalf("conflicts %v, want 1", c)
	}
	if a := aggs(got.Aggregates); a != "count1h=1 amount24h=5 devcards24h=nil new=nil" {
		t.Fatalf("after a retry: %s, want t0 counted", a)
	}
	b, _, _ := store.inner.Get(context.Background(), velocity.CardKey("tok_A"))
	s, _ := velocity.DecodeCard(b)
	if len(s.Entries) != 2 || s.Entries[0].Txn != velocity.TxnHash("t0") || s.Entries[1].Ord != 2 {
		t.Fatalf("state %+v", s)
	}

	// Losing every time: bounded retries, then degraded.
	lose := &faultStore{lose: true}
	h = newHarness(t, lose, readFirst)
	if got := h.enrich(t, event("t", "tok_A", "", 0, 10, "EUR")); got.Aggregates != nil {
		t.Fatalf("aggregates after endless conflicts: %s", aggs(got.Aggregates))
	}
	if c := h.metric(t, "fraudscore_velocity_conflicts_total"); c != 32 || lose.puts.Load() != 32 {
		t.Fatalf("conflicts %v puts %d, want 32", c, lose.puts.Load())
	}
	if d := h.metric(t, "fraudscore_velocity_degraded_total", velocity.ReasonConflicts); d != 1 {
		t.Fatalf("degraded{conflicts} %v", d)
	}
}

// staleStore reads the value before running the store's before hook, so
// that a write in the hook makes the read stale.
type staleStore struct{ s *faultStore }

func (st staleStore) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	v, rev, err := st.s.inner.Get(ctx, key)
	if st.s.before != nil {
		st.s.before(key)
	}
	return v, rev, err
}

func (st staleStore) Put(ctx context.Context, key string, value []byte, rev uint64) (uint64, bool, error) {
	return st.s.inner.Put(ctx, key, value, rev)
}

func TestMetricsOptional(t *testing.T) {
	v, err := velocity.New(&velocity.MemStore{}, cfg(nil), velocity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Enrich(context.Background(), event("t", "tok", "dev", 0, 1, "EUR")); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if _, err := velocity.New(&velocity.MemStore{}, cfg(nil), velocity.Options{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 9 {
		t.Fatalf("metric families registered: %d %v, want 9", len(mfs), err)
	}
	if _, err := velocity.New(&velocity.MemStore{}, cfg(nil), velocity.Options{Registerer: reg}); err == nil {
		t.Fatal("registering twice on one registry did not fail")
	}
}
