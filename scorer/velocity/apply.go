package velocity

import (
	"cmp"
	"slices"
)

// Outcome says what applying a transaction did to a key's state.
type Outcome uint8

// Outcomes of Apply.
const (
	// Recorded: the transaction was new; it took the key's next ordinal and
	// the state changed (it must be written).
	Recorded Outcome = iota + 1
	// Duplicate: the state already held the transaction; nothing changed
	// and the features are those it was given when it was recorded.
	Duplicate
	// Late: the transaction is older than the key's newest event time minus
	// the lateness bound; it was not recorded and its features come from
	// every entry the state holds in its windows.
	Late
)

// String returns the outcome's name, as used in metric labels.
func (o Outcome) String() string {
	switch o {
	case Recorded:
		return "recorded"
	case Duplicate:
		return "duplicate"
	case Late:
		return "late"
	}
	return "unknown"
}

// CardResult is the card features of a transaction and what Apply did.
type CardResult struct {
	// Outcome says whether the transaction was recorded, a duplicate or late.
	Outcome Outcome
	// Ord is the transaction's card ordinal (0 when Late).
	Ord uint64
	// TxnCount1h is card_txn_count_1h.
	TxnCount1h int32
	// Amount24h is card_amount_24h_minor, in the transaction's currency.
	Amount24h int64
	// NewDevice is new_device (false when the transaction has no device).
	NewDevice bool
	// Capped is how many entries MaxEntries dropped.
	Capped int
}

// DeviceResult is the device feature of a transaction and what Apply did.
type DeviceResult struct {
	// Outcome says whether the transaction was recorded, a duplicate or late.
	Outcome Outcome
	// Ord is the transaction's device ordinal (0 when Late).
	Ord uint64
	// CardCount24h is device_card_count_24h.
	CardCount24h int32
	// Capped is how many entries MaxEntries dropped.
	Capped int
}

// inWindow reports whether t is in (x-w, x], without overflow.
func inWindow(t, x int64, w int64) bool { return t <= x && uint64(x-t) < uint64(w) }

// behind reports whether t is more than d before ref, without overflow.
func behind(t, ref int64, d int64) bool { return t < ref && uint64(ref-t) > uint64(d) }

// Apply applies transaction x to the card's state and returns its card
// features (see the package documentation for the rules):
//   - x already recorded (by Txn hash): Duplicate, the state unchanged,
//     the features x was first given;
//   - x more than cfg.Lateness before MaxTime: Late, unchanged, features
//     from every entry in x's windows;
//   - otherwise Recorded: features from the entries already held (all
//     earlier ordinals), then x is appended with the next ordinal, the
//     device memory updated (cfg.MaxDevicesPerCard), entries at or before
//     MaxTime-Lateness-24h pruned and the oldest beyond cfg.MaxEntries
//     dropped.
//
// Apply never panics, whatever state it is given.
func (s *CardState) Apply(x Txn, cfg Config) CardResult {
	for i := range s.Entries {
		if e := &s.Entries[i]; e.Txn == x.Hash {
			return CardResult{Outcome: Duplicate, Ord: e.Ord, TxnCount1h: e.TxnCount1h, Amount24h: e.Amount24h, NewDevice: e.NewDevice}
		}
	}
	r := s.features(x)
	if s.LastOrd > 0 && behind(x.Time, s.MaxTime, int64(cfg.Lateness)) {
		r.Outcome = Late
		return r
	}
	r.Outcome = Recorded
	s.LastOrd++
	r.Ord = s.LastOrd
	if r.Ord == 1 || x.Time > s.MaxTime {
		s.MaxTime = x.Time
	}
	s.Entries = append(s.Entries, CardEntry{Txn: x.Hash, Ord: r.Ord, Time: x.Time, Amount: x.Amount, Currency: x.Currency,
		Device: x.Device, TxnCount1h: r.TxnCount1h, Amount24h: r.Amount24h, NewDevice: r.NewDevice})
	if x.Device != 0 {
		s.remember(x, r.Ord, cfg.MaxDevicesPerCard)
	}
	s.Entries = slices.DeleteFunc(s.Entries, func(e CardEntry) bool {
		return behind(e.Time, s.MaxTime, int64(cfg.Lateness+Window24h-1))
	})
	if k := len(s.Entries) - max(cfg.MaxEntries, 1); k > 0 {
		s.Entries = dropOldest(s.Entries, k, func(e CardEntry) (int64, uint64) { return e.Time, e.Ord })
		r.Capped = k
	}
	return r
}

// features computes x's card features from every entry other than x.
func (s *CardState) features(x Txn) CardResult {
	var r CardResult
	for i := range s.Entries {
		e := &s.Entries[i]
		if e.Txn == x.Hash {
			continue
		}
		if inWindow(e.Time, x.Time, int64(Window1h)) {
			r.TxnCount1h++
		}
		if e.Currency == x.Currency && inWindow(e.Time, x.Time, int64(Window24h)) {
			r.Amount24h = saturatingAdd(r.Amount24h, e.Amount)
		}
	}
	if x.Device != 0 {
		r.NewDevice = !slices.ContainsFunc(s.Devices, func(d CardDevice) bool { return d.Device == x.Device })
	}
	return r
}

// remember records that the card was used with x's device in x (ordinal
// ord), forgetting the least recently seen other devices beyond limit.
func (s *CardState) remember(x Txn, ord uint64, limit int) {
	if i := slices.IndexFunc(s.Devices, func(d CardDevice) bool { return d.Device == x.Device }); i >= 0 {
		s.Devices[i].LastTime = max(s.Devices[i].LastTime, x.Time)
		return
	}
	s.Devices = append(s.Devices, CardDevice{Device: x.Device, FirstOrd: ord, LastTime: x.Time})
	for len(s.Devices) > max(limit, 1) {
		// The device just added (last) stays, even if it is the least recent.
		old := 0
		for i, d := range s.Devices[:len(s.Devices)-1] {
			if o := s.Devices[old]; d.LastTime < o.LastTime || d.LastTime == o.LastTime && d.FirstOrd < o.FirstOrd {
				old = i
			}
		}
		s.Devices = slices.Delete(s.Devices, old, old+1)
	}
}

// Apply applies transaction x to the device's state and returns its
// device feature, with the same rules as CardState.Apply:
// device_card_count_24h is the number of distinct cards among the entries
// other than x in (x.Time-24h, x.Time].
func (s *DeviceState) Apply(x Txn, cfg Config) DeviceResult {
	for i := range s.Entries {
		if e := &s.Entries[i]; e.Txn == x.Hash {
			return DeviceResult{Outcome: Duplicate, Ord: e.Ord, CardCount24h: e.CardCount24h}
		}
	}
	r := DeviceResult{CardCount24h: s.cardCount(x)}
	if s.LastOrd > 0 && behind(x.Time, s.MaxTime, int64(cfg.Lateness)) {
		r.Outcome = Late
		return r
	}
	r.Outcome = Recorded
	s.LastOrd++
	r.Ord = s.LastOrd
	if r.Ord == 1 || x.Time > s.MaxTime {
		s.MaxTime = x.Time
	}
	s.Entries = append(s.Entries, DeviceEntry{Txn: x.Hash, Ord: r.Ord, Time: x.Time, Card: x.Card, CardCount24h: r.CardCount24h})
	s.Entries = slices.DeleteFunc(s.Entries, func(e DeviceEntry) bool {
		return behind(e.Time, s.MaxTime, int64(cfg.Lateness+Window24h-1))
	})
	if k := len(s.Entries) - max(cfg.MaxEntries, 1); k > 0 {
		s.Entries = dropOldest(s.Entries, k, func(e DeviceEntry) (int64, uint64) { return e.Time, e.Ord })
		r.Capped = k
	}
	return r
}

// cardCount counts the distinct cards of the entries other than x in x's
// 24 h window.
func (s *DeviceState) cardCount(x Txn) int32 {
	cards := make([]uint64, 0, 64) // on the stack unless the device is busy
	for i := range s.Entries {
		if e := &s.Entries[i]; e.Txn != x.Hash && inWindow(e.Time, x.Time, int64(Window24h)) {
			cards = append(cards, e.Card)
		}
	}
	slices.Sort(cards)
	return int32(len(slices.Compact(cards)))
}

// dropOldest removes the k entries that are oldest by (time, ordinal),
// never the last one (the transaction just recorded), keeping the order
// of the others.
func dropOldest[E any](entries []E, k int, key func(E) (int64, uint64)) []E {
	type tk struct {
		t   int64
		ord uint64
	}
	less := func(a, b tk) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.ord, b.ord)) }
	head := entries[:len(entries)-1]
	k = min(k, len(head))
	if k == 0 {
		return entries
	}
	var cut tk // entries at or before cut go
	if k == 1 {
		for i, e := range head {
			t, o := key(e)
			if c := (tk{t, o}); i == 0 || less(c, cut) < 0 {
				cut = c
			}
		}
	} else {
		keys := make([]tk, len(head))
		for i, e := range head {
			keys[i].t, keys[i].ord = key(e)
		}
		slices.SortFunc(keys, less)
		cut = keys[k-1]
	}
	last := entries[len(entries)-1]
	entries = slices.DeleteFunc(head, func(e E) bool {
		t, o := key(e)
		return less(tk{t, o}, cut) <= 0
	})
	return append(entries, last)
}

// saturatingAdd returns a+b, held at the int64 limits instead of wrapping.
func saturatingAdd(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return 1<<63 - 1
	case a < 0 && b < 0 && s >= 0:
		return -1 << 63
	}
	return s
}
