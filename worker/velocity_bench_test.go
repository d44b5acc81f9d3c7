package worker_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/scorer/velocity"
	"github.com/fraudscore/fraudscore/worker"
)

// The velocity benchmarks measure the costs ADR 0022 weighs (make
// bench-velocity writes them to docs/bench/velocity-kv.txt), against an
// embedded server in the same process (file storage, the same 2 cores):
//
//   - BenchmarkVelocityKVCAS: one compare-and-set update of a key in the
//     velocity bucket (Get, then Put at the revision read, again on a lost
//     race) with a value of a typical card state, on one hot key or spread
//     over many, by 1 or 8 writers at once: updates/s, latency p50 and p99
//     of one update (retries included), and conflicts per update.
//   - BenchmarkVelocityKVEnrich: velocity.Enrich on the bucket (a card and a
//     device update per event), 8 writers, events of 1000 cards and 300
//     devices: events/s, p50, p99, conflicts per event.
//   - BenchmarkVelocityKVCASR3: the many-keys CAS update on a replicated
//     bucket (three nodes in this process: same cores, same disk, no network).
//   - BenchmarkVelocityPartitionApply: the alternative's per-event cost,
//     state in a Go map owned by one goroutine (velocity's Apply on the card
//     and the device state, no store).
//   - BenchmarkVelocitySnapshot: the alternative's snapshot, card states of a
//     typical size published to the bucket asynchronously: keys/s; and what
//     one key occupies in the bucket's file store (stored-B/key) beside its
//     value (value-B).
//
// Use -benchtime=20000x.

// typicalCardState is the encoded state of a card with 10 transactions in
// the last day on 2 devices (docs/velocity.md, bytes per active card).
func typicalCardState(tb testing.TB) []byte {
	tb.Helper()
	var s velocity.CardState
	cfg := velocity.DefaultConfig()
	t0 := time.Now().Add(-20 * time.Hour).UnixNano()
	for i := range 10 {
		s.Apply(velocity.Txn{Hash: uint64(i + 1), Time: t0 + int64(i)*int64(time.Hour), Amount: 1000,
			Currency: velocity.CurrencyCode("EUR"), Card: 7, Device: uint64(1 + i%2)}, cfg)
	}
	b, err := s.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	if len(b) != velocity.CardStateBytes(10, 2) {
		tb.Fatalf("typical state is %d bytes, want %d", len(b), velocity.CardStateBytes(10, 2))
	}
	return b
}

// latencies collects per-operation durations from concurrent writers.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

// report adds p50 and p99 (µs) to b.
func (l *latencies) report(b *testing.B) {
	slices.Sort(l.all)
	if len(l.all) == 0 {
		return
	}
	q := func(p float64) float64 {
		return float64(l.all[min(len(l.all)-1, int(p*float64(len(l.all))))].Microseconds())
	}
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// runWriters runs op b.N times in total over writers goroutines, timing
// each; it reports ops/s under unit and the latency quantiles.
func runWriters(b *testing.B, writers int, unit string, op func(i int) error) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		lat  latencies
		errs = make(chan error, writers)
	)
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					break
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					errs <- err
					return
				}
				mine = append(mine, time.Since(t0))
			}
			lat.add(mine)
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), unit)
	lat.report(b)
}

// casUpdate is one compare-and-set update of key to value; it returns the
// number of lost races before it succeeded.
func casUpdate(ctx context.Context, bk *worker.VelocityBucket, key string, value []byte) (int, error) {
	for lost := 0; lost < 1000; lost++ {
		_, rev, err := bk.Get(ctx, key)
		if err != nil {
			return lost, err
		}
		_, ok, err := bk.Put(ctx, key, value, rev)
		if err != nil {
			return lost, err
		}
		if ok {
			return lost, nil
		}
	}
	return 1000, fmt.Errorf("key %s: 1000 lost races", key)
}

func BenchmarkVelocityKVCAS(b *testing.B) {
	for _, keys := range []int{1, 10000} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("keys=%d/writers=%d", keys, writers), func(b *testing.B) {
				s := natstest.Start(b)
				benchCAS(b, openBucket(b, s.ClientURL(), testConfig(b), 24*time.Hour), keys, writers)
			})
		}
	}
}

func BenchmarkVelocityKVCASR3(b *testing.B) {
	cl := natstest.NewCluster(b, 3)
	s0, s1, s2 := cl.Start(0), cl.Start(1), cl.Start(2)
	natstest.WaitJetStreamLeader(b, 30*time.Second, s0, s1, s2)
	cfg := testConfig(b)
	cfg.Replicas = 3
	bk := openBucket(b, cl.ClientURL(), cfg, 24*time.Hour)
	b.Run("keys=10000/writers=8", func(b *testing.B) { benchCAS(b, bk, 10000, 8) })
}

func benchCAS(b *testing.B, bk *worker.VelocityBucket, keys, writers int) {
	ctx := context.Background()
	value := typicalCardState(b)
	names := make([]string, keys)
	for i := range names {
		names[i] = velocity.CardKey(fmt.Sprintf("bench-card-%d", i))
		if _, err := casUpdate(ctx, bk, names[i], value); err != nil {
			b.Fatal(err)
		}
	}
	var conflicts atomic.Int64
	runWriters(b, writers, "updates/s", func(i int) error {
		lost, err := casUpdate(ctx, bk, names[i%keys], value)
		conflicts.Add(int64(lost))
		return err
	})
	b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
}

// velocityBenchEvents are n raw events of cards cards and devices devices,
// one millisecond of event time apart.
func velocityBenchEvents(n, cards, devices int) []contracts.TransactionEvent {
	t0 := time.Now().Add(-time.Hour)
	evs := make([]contracts.TransactionEvent, n)
	for i := range evs {
		evs[i] = contracts.TransactionEvent{TransactionID: fmt.Sprintf("vb-%d", i),
			EventTime: t0.Add(time.Duration(i) * time.Millisecond), CardToken: fmt.Sprintf("bench-card-%d", i%cards),
			DeviceID: fmt.Sprintf("bench-device-%d", (i*7)%devices), AmountMinor: int64(100 + i%5000), Currency: "EUR"}
	}
	return evs
}

func BenchmarkVelocityKVEnrich(b *testing.B) {
	s := natstest.Start(b)
	bk := openBucket(b, s.ClientURL(), testConfig(b), 24*time.Hour)
	reg := prometheus.NewRegistry()
	v, err := velocity.New(bk, velocity.DefaultConfig(), velocity.Options{Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	evs := velocityBenchEvents(b.N, 1000, 300)
	ctx := context.Background()
	runWriters(b, 8, "events/s", func(i int) error { return v.Enrich(ctx, &evs[i]) })
	b.ReportMetric(gathered(b, reg, "fraudscore_velocity_conflicts_total")/float64(b.N), "conflicts/op")
	if d := gathered(b, reg, "fraudscore_velocity_degraded_total"); d > 0 {
		b.Fatalf("%v of %d events degraded", d, b.N)
	}
}

func BenchmarkVelocityPartitionApply(b *testing.B) {
	cfg := velocity.DefaultConfig()
	evs := velocityBenchEvents(b.N, 1000, 300)
	txns := make([]velocity.Txn, len(evs))
	for i := range evs {
		txns[i] = velocity.TxnOf(&evs[i])
	}
	cards := map[uint64]*velocity.CardState{}
	devices := map[uint64]*velocity.DeviceState{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		x := txns[i]
		c := cards[x.Card]
		if c == nil {
			c = &velocity.CardState{}
			cards[x.Card] = c
		}
		c.Apply(x, cfg)
		d := devices[x.Device]
		if d == nil {
			d = &velocity.DeviceState{}
			devices[x.Device] = d
		}
		d.Apply(x, cfg)
	}
}

func BenchmarkVelocitySnapshot(b *testing.B) {
	s := natstest.Start(b)
	cfg := testConfig(b)
	openBucket(b, s.ClientURL(), cfg, 24*time.Hour)
	js := natstest.JetStream(b, s.ClientURL())
	value := typicalCardState(b)
	subjects := make([]string, b.N)
	for i := range subjects {
		subjects[i] = "$KV." + cfg.VelocityBucket + "." + velocity.CardKey(fmt.Sprintf("bench-card-%d", i))
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := js.PublishAsync(subjects[i], value, jetstream.WithStallWait(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("snapshot not stored")
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "keys/s")
	b.ReportMetric(float64(b.N)*float64(len(value))/el.Seconds()/(1<<20), "MiB/s")
	// What one key costs the bucket on disk, beside its value: the file
	// store's bytes per message over the value's size.
	st, err := js.Stream(context.Background(), "KV_"+cfg.VelocityBucket)
	if err != nil {
		b.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if info.State.Msgs != uint64(b.N) {
		b.Fatalf("bucket holds %d values, want %d", info.State.Msgs, b.N)
	}
	b.ReportMetric(float64(info.State.Bytes)/float64(info.State.Msgs), "stored-B/key")
	b.ReportMetric(float64(len(value)), "value-B")
}
