package velocity_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/scorer/velocity"
)

// record applies x to s and fails unless it was recorded.
func record(t *testing.T, s *velocity.CardState, x velocity.Txn, c velocity.Config) velocity.CardResult {
	t.Helper()
	r := s.Apply(x, c)
	if r.Outcome != velocity.Recorded {
		t.Fatalf("apply: outcome %v, want recorded", r.Outcome)
	}
	return r
}

func TestCardWindowEdges(t *testing.T) {
	c := cfg(nil)
	for _, tc := range []struct {
		name       string
		at         time.Duration // of X; the earlier entry is at 0
		count, sum int64
	}{
		{"same instant is inside", 0, 1, 10},
		{"1h-1ns after is inside both", time.Hour - 1, 1, 10},
		{"exactly 1h after is outside 1h, inside 24h", time.Hour, 0, 10},
		{"24h-1ns after is inside 24h", Window24hMinus(1), 0, 10},
		{"exactly 24h after is outside both", 24 * time.Hour, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s velocity.CardState
			record(t, &s, txn("a", "card", "", 0, 10, "EUR"), c)
			r := record(t, &s, txn("x", "card", "", tc.at, 5, "EUR"), c)
			if int64(r.TxnCount1h) != tc.count || r.Amount24h != tc.sum {
				t.Fatalf("count %d sum %d, want %d %d", r.TxnCount1h, r.Amount24h, tc.count, tc.sum)
			}
		})
	}
	// An entry after X (out of order within lateness) is outside X's window
	// although its ordinal is earlier.
	var s velocity.CardState
	record(t, &s, txn("later", "card", "", time.Minute, 10, "EUR"), c)
	r := record(t, &s, txn("x", "card", "", time.Minute-1, 5, "EUR"), c)
	if r.TxnCount1h != 0 || r.Amount24h != 0 {
		t.Fatalf("an entry 1ns after X counted: %+v", r)
	}
	// And X, earlier in time but later in ordinal, does not count for it:
	// ordinals, not times, decide which entries a transaction sees.
	if got := s.Entries[0].TxnCount1h; got != 0 {
		t.Fatalf("first entry's count changed to %d", got)
	}
}

// Window24hMinus returns 24h - d.
func Window24hMinus(d time.Duration) time.Duration { return velocity.Window24h - d }

func TestOrdinalsAndRedelivery(t *testing.T) {
	c := cfg(nil)
	var s velocity.CardState
	var first []velocity.CardResult
	for i := range 5 {
		r := record(t, &s, txn(fmt.Sprint("t", i), "card", "dev", time.Duration(i)*time.Minute, 100, "EUR"), c)
		if r.Ord != uint64(i+1) {
			t.Fatalf("txn %d: ordinal %d, want %d", i, r.Ord, i+1)
		}
		first = append(first, r)
	}
	before, _ := s.MarshalBinary()
	for i := range 5 {
		// A redelivery, in any order, even one now late.
		r := s.Apply(txn(fmt.Sprint("t", 4-i), "card", "dev", time.Duration(4-i)*time.Minute, 100, "EUR"), c)
		want := first[4-i]
		want.Outcome = velocity.Duplicate
		if r != want {
			t.Fatalf("redelivery of t%d: %+v, want %+v", 4-i, r, want)
		}
	}
	after, _ := s.MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Fatal("a redelivery changed the state")
	}
	if first[4].TxnCount1h != 4 || first[4].Amount24h != 400 || !first[0].NewDevice || first[1].NewDevice {
		t.Fatalf("features: %+v", first)
	}
}

func TestLateness(t *testing.T) {
	c := cfg(func(c *velocity.Config) { c.Lateness = 5 * time.Minute })
	var s velocity.CardState
	record(t, &s, txn("a", "card", "", 0, 10, "EUR"), c)
	record(t, &s, txn("b", "card", "", 10*time.Minute, 20, "EUR"), c)
	// maxT-Lateness is 5m: at it, an event is still recorded; 1ns before, late.
	r := record(t, &s, txn("edge", "card", "", 5*time.Minute, 1, "EUR"), c)
	if r.TxnCount1h != 1 || r.Amount24h != 10 {
		t.Fatalf("edge: %+v, want a (at 0) only: b has an earlier ordinal but is after it in time", r)
	}
	late := s.Apply(txn("late", "card", "", 5*time.Minute-1, 7, "EUR"), c)
	if late.Outcome != velocity.Late || late.Ord != 0 {
		t.Fatalf("late: %+v", late)
	}
	// Scored with every entry in its window: a at 0 and edge at 5m are
	// before it; b at 10m is after it.
	if late.TxnCount1h != 1 || late.Amount24h != 10 {
		t.Fatalf("late features: %+v", late)
	}
	if len(s.Entries) != 3 || s.LastOrd != 3 {
		t.Fatalf("a late event was recorded: %+v", s)
	}
	// A later event in time advances maxT; one earlier but within the bound
	// is recorded out of order.
	if r := s.Apply(txn("ooo", "card", "", 6*time.Minute, 1, "EUR"), c); r.Outcome != velocity.Recorded || r.Ord != 4 {
		t.Fatalf("out of order within the bound: %+v", r)
	}
	if s.MaxTime != t0.Add(10*time.Minute).UnixNano() {
		t.Fatalf("maxT moved back to %d", s.MaxTime)
	}
}

func TestCurrencySeparation(t *testing.T) {
	c := cfg(nil)
	var s velocity.CardState
	record(t, &s, txn("1", "card", "", 0, 100, "EUR"), c)
	record(t, &s, txn("2", "card", "", time.Minute, 50, "USD"), c)
	record(t, &s, txn("3", "card", "", 2*time.Minute, 30, "EUR"), c)
	eur := record(t, &s, txn("4", "card", "", 3*time.Minute, 1, "EUR"), c)
	usd := record(t, &s, txn("5", "card", "", 4*time.Minute, 1, "USD"), c)
	jpy := record(t, &s, txn("6", "card", "", 5*time.Minute, 1, "JPY"), c)
	if eur.Amount24h != 130 || usd.Amount24h != 50 || jpy.Amount24h != 0 {
		t.Fatalf("sums EUR %d USD %d JPY %d, want 130 50 0", eur.Amount24h, usd.Amount24h, jpy.Amount24h)
	}
	if eur.TxnCount1h != 3 || usd.TxnCount1h != 4 || jpy.TxnCount1h != 5 {
		t.Fatalf("counts (all currencies) %d %d %d, want 3 4 5", eur.TxnCount1h, usd.TxnCount1h, jpy.TxnCount1h)
	}
}

func TestDeviceDistinctCards(t *testing.T) {
	c := cfg(nil)
	var s velocity.DeviceState
	apply := func(id, card string, at time.Duration) velocity.DeviceResult {
		t.Helper()
		r := s.Apply(txn(id, card, "dev", at, 1, "EUR"), c)
		if r.Outcome != velocity.Recorded {
			t.Fatalf("%s: %+v", id, r)
		}
		return r
	}
	if r := apply("1", "A", 0); r.CardCount24h != 0 {
		t.Fatalf("first use of the device counts %d cards (itself?)", r.CardCount24h)
	}
	if r := apply("2", "A", time.Minute); r.CardCount24h != 1 {
		t.Fatalf("the card's own earlier use: %d, want 1", r.CardCount24h)
	}
	if r := apply("3", "B", 2*time.Minute); r.CardCount24h != 1 {
		t.Fatalf("B after A twice: %d, want 1 (A, distinct)", r.CardCount24h)
	}
	if r := apply("4", "C", 3*time.Minute); r.CardCount24h != 2 {
		t.Fatalf("C: %d, want 2", r.CardCount24h)
	}
	if r := apply("5", "A", 24*time.Hour+90*time.Second); r.CardCount24h != 2 {
		t.Fatalf("24h later: %d, want 2 (B at 2m and C at 3m; A's at 0 and 1m are out)", r.CardCount24h)
	}
	if r := s.Apply(txn("3", "B", "dev", 2*time.Minute, 1, "EUR"), c); r.Outcome != velocity.Duplicate || r.CardCount24h != 1 || r.Ord != 3 {
		t.Fatalf("redelivery: %+v", r)
	}
	if got, want := s.Entries[len(s.Entries)-1].Card, velocity.CardHash("A"); got != want {
		t.Fatalf("entry card hash %x, want %x", got, want)
	}
}

func TestNewDeviceMemory(t *testing.T) {
	c := cfg(func(c *velocity.Config) { c.MaxDevicesPerCard = 2 })
	var s velocity.CardState
	at := time.Duration(0)
	use := func(id, device string) velocity.CardResult {
		t.Helper()
		at += time.Minute
		return record(t, &s, txn(id, "card", device, at, 1, "EUR"), c)
	}
	if r := use("1", "D1"); !r.NewDevice {
		t.Fatal("first device is not new")
	}
	if r := use("2", "D1"); r.NewDevice {
		t.Fatal("D1 again is new")
	}
	if r := use("3", "D2"); !r.NewDevice {
		t.Fatal("D2 is not new")
	}
	if r := use("4", ""); r.NewDevice {
		t.Fatal("no device gives new_device true")
	}
	if r := use("5", "D1"); r.NewDevice { // D1 now more recent than D2
		t.Fatal("D1 forgotten early")
	}
	if r := use("6", "D3"); !r.NewDevice { // evicts D2, the least recently seen
		t.Fatal("D3 is not new")
	}
	if len(s.Devices) != 2 {
		t.Fatalf("memory holds %d devices, limit 2", len(s.Devices))
	}
	if r := use("7", "D1"); r.NewDevice {
		t.Fatal("D1 was evicted instead of D2")
	}
	if r := use("8", "D2"); !r.NewDevice {
		t.Fatal("D2 was not forgotten")
	}
	// The memory outlives the 24 h window (only the state's TTL ends it).
	at += 48 * time.Hour
	if r := use("9", "D2"); r.NewDevice {
		t.Fatal("D2 forgotten after 48 h")
	}
	if d := s.Devices[len(s.Devices)-1]; d.Device != velocity.DeviceHash("D2") || d.FirstOrd != 8 || d.LastTime != t0.Add(at).UnixNano() {
		t.Fatalf("memory entry %+v", d)
	}
}

func TestPrune(t *testing.T) {
	c := cfg(func(c *velocity.Config) { c.Lateness = 5 * time.Minute })
	var s velocity.CardState
	record(t, &s, txn("old", "card", "", 0, 1, "EUR"), c)
	record(t, &s, txn("keep", "card", "", 1, 1, "EUR"), c)
	// maxT = 24h+5m: entries at or before maxT-5m-24h = 0 go.
	record(t, &s, txn("new", "card", "", 24*time.Hour+5*time.Minute, 1, "EUR"), c)
	if len(s.Entries) != 2 || s.Entries[0].Ord != 2 {
		t.Fatalf("after prune: %+v", s.Entries)
	}
	var d velocity.DeviceState
	d.Apply(txn("old", "A", "dev", 0, 1, "EUR"), c)
	d.Apply(txn("keep", "B", "dev", 1, 1, "EUR"), c)
	d.Apply(txn("new", "C", "dev", 24*time.Hour+5*time.Minute, 1, "EUR"), c)
	if len(d.Entries) != 2 || d.Entries[0].Ord != 2 {
		t.Fatalf("device after prune: %+v", d.Entries)
	}
}

func TestCap(t *testing.T) {
	c := cfg(func(c *velocity.Config) { c.MaxEntries = 3 })
	var s velocity.CardState
	for i, at := range []time.Duration{3, 1, 2} { // out of order, within lateness
		record(t, &s, txn(fmt.Sprint(i), "card", "", at*time.Minute, 1, "EUR"), c)
	}
	r := record(t, &s, txn("x", "card", "", 4*time.Minute, 1, "EUR"), c)
	if r.Capped != 1 || r.TxnCount1h != 3 {
		t.Fatalf("cap: %+v (features come from every entry before the cap)", r)
	}
	var ords []uint64
	for _, e := range s.Entries {
		ords = append(ords, e.Ord)
	}
	if fmt.Sprint(ords) != "[1 3 4]" { // ord 2, at 1m, was the oldest by time
		t.Fatalf("kept ordinals %v, want [1 3 4]", ords)
	}
	// Lowering the cap drops many at once, never the transaction just recorded.
	c.MaxEntries = 1
	r = record(t, &s, txn("y", "card", "", 0, 1, "EUR"), c)
	if r.Capped != 3 || len(s.Entries) != 1 || s.Entries[0].Txn != velocity.TxnHash("y") {
		t.Fatalf("cap 1: %+v %+v", r, s.Entries)
	}
	var d velocity.DeviceState
	c.MaxEntries = 2
	for i := range 4 {
		if r := d.Apply(txn(fmt.Sprint(i), "card", "dev", time.Duration(i)*time.Minute, 1, "EUR"), c); i >= 2 && r.Capped != 1 {
			t.Fatalf("device cap: %+v", r)
		}
	}
	if len(d.Entries) != 2 || d.Entries[0].Ord != 3 {
		t.Fatalf("device entries %+v", d.Entries)
	}
}

func TestRedeliveryAfterPrune(t *testing.T) {
	c := cfg(nil)
	var s velocity.CardState
	first := record(t, &s, txn("a", "card", "", 0, 10, "EUR"), c)
	record(t, &s, txn("b", "card", "", time.Minute, 10, "EUR"), c)
	if r := s.Apply(txn("b", "card", "", time.Minute, 10, "EUR"), c); r.Outcome != velocity.Duplicate || first.Outcome != velocity.Recorded {
		t.Fatalf("redelivery: %+v", r)
	}
	// A day and the lateness later, a's entry is pruned: its redelivery is
	// late (scored with what is known, not recorded again).
	record(t, &s, txn("c", "card", "", 24*time.Hour+5*time.Minute, 10, "EUR"), c)
	r := s.Apply(txn("a", "card", "", 0, 10, "EUR"), c)
	if r.Outcome != velocity.Late || r.Outcome.String() != "late" || s.LastOrd != 3 {
		t.Fatalf("redelivery after prune: %+v, last ordinal %d", r, s.LastOrd)
	}
}
