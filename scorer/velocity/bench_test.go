package velocity_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/velocity"
)

// BenchmarkApply records a transaction every 30 minutes into a card state
// in steady state: about 49 entries in 24 h + 5 m, one pruned per write,
// then encodes it (what one Enrich does to a card between read and write).
func BenchmarkApply(b *testing.B) {
	c := cfg(nil)
	var s velocity.CardState
	txns := make([]velocity.Txn, 4096)
	for i := range txns {
		txns[i] = txn(fmt.Sprint("t", i), "card", fmt.Sprint("dev", i%3), 0, 1000, "EUR")
	}
	var buf []byte
	at := int64(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		x := txns[i%len(txns)]
		x.Hash = uint64(i) + 1
		at += int64(30 * time.Minute)
		x.Time = t0.UnixNano() + at
		if r := s.Apply(x, c); r.Outcome != velocity.Recorded {
			b.Fatalf("outcome %v", r.Outcome)
		}
		buf, _ = s.AppendBinary(buf[:0])
	}
	b.ReportMetric(float64(len(s.Entries)), "entries")
	b.ReportMetric(float64(len(buf)), "bytes/card")
}

// BenchmarkEnrichMemStore enriches a stream over 1000 cards and 300
// devices through MemStore (hashing, two read-decode-apply-encode-write
// cycles), in steady state: events 5.76 s of event time apart, so a device
// holds about 50 transactions of the last 24 h and a card about 15; the
// first 20,000 run before the timer starts.
func BenchmarkEnrichMemStore(b *testing.B) {
	store := &velocity.MemStore{}
	v, err := velocity.New(store, cfg(nil), velocity.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const n, warm, step = 1 << 14, 20_000, 5760 * time.Millisecond
	evs := make([]contracts.TransactionEvent, n)
	ids := make([]string, n)
	for i := range evs {
		evs[i] = *event("", fmt.Sprint("tok_", i%1000), fmt.Sprint("device-", i%300), 0, 1000, "EUR")
		ids[i] = fmt.Sprint("txn-", i)
	}
	ctx := context.Background()
	enrich := func(i int) {
		ev := evs[i%n]
		ev.TransactionID = ids[i%n] + "-" + strconv.Itoa(i/n)
		ev.EventTime = t0.Add(time.Duration(i) * step)
		if err := v.Enrich(ctx, &ev); err != nil {
			b.Fatal(err)
		}
	}
	for i := range warm {
		enrich(i)
	}
	b.ReportAllocs()
	for i := warm; b.Loop(); i++ {
		enrich(i)
	}
	b.StopTimer()
	card, _, _ := store.Get(ctx, velocity.CardKey("tok_0"))
	device, _, _ := store.Get(ctx, velocity.DeviceKey("device-0"))
	b.ReportMetric(float64(len(card)), "bytes/card")
	b.ReportMetric(float64(len(device)), "bytes/device")
}
