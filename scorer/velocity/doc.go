// Package velocity computes the velocity aggregates of a transaction event
// (card_txn_count_1h, card_amount_24h_minor, device_card_count_24h,
// new_device) from the transactions fraudscore has seen, with state per
// card and per device in a key-value Store with compare-and-set: a
// JetStream KV bucket in production (the adapter lives beside the worker;
// this package knows nothing of NATS), MemStore in training and tests, so
// that training and serving compute the same values with the same code.
//
// # Semantics
//
// Times are event_time in Unix nanoseconds. The window W of a transaction X
// at time t is (t-W, t]: strictly after t-W, at or before t. Card state is
// at CardKey(card_token), device state at DeviceKey(device_id); a
// transaction's identity is TxnHash(transaction_id). Each key numbers the
// transactions it records 1, 2, 3, ... (its ordinals), in the order they
// are written to it.
//
// The features of X come from the entries e of a key's state with e's
// transaction other than X, e's ordinal before X's (every entry when X is
// not recorded) and e's time in X's window:
//   - card_txn_count_1h: the number of such card entries in 1 h, all
//     currencies;
//   - card_amount_24h_minor: the sum of the amounts of such card entries in
//     24 h in X's currency; amounts in other currencies are neither summed
//     nor converted;
//   - device_card_count_24h: the number of distinct cards among such device
//     entries in 24 h (X's own card counts when it used the device in an
//     earlier transaction); absent without a device_id;
//   - new_device: true unless the card's device memory holds X's device
//     from an earlier transaction. The memory keeps MaxDevicesPerCard
//     devices per card, forgetting the least recently seen (by event time)
//     first, with no window but the card state's life; absent without a
//     device_id.
//
// Exactly once: a transaction a key already holds is not written again and
// gets the features it was given when it was recorded (stored in its
// entry), on any replica and however often it is delivered, for as long
// as the entry is kept (a redelivery a day behind the key's newest event,
// after its entry was pruned, is late). Lateness: per
// key, with maxT the largest event time recorded, a transaction before
// maxT-Lateness is late: not recorded, scored with every entry in its
// windows, counted in fraudscore_velocity_late_total. Out-of-order events
// within the bound are recorded and counted in the right windows of the
// transactions that come after them. Each write prunes the entries at or
// before maxT-Lateness-24h (no transaction that can still be recorded
// looks at them) and, beyond MaxEntries, drops the oldest by time
// (fraudscore_velocity_capped_total). A state expires Retention (24 h +
// Lateness) after its last write, so an idle card costs nothing.
//
// Velocity.Enrich runs a compare-and-set loop per key, the card's and the
// device's at the same time: read (or start from a guess of the state:
// guess.go), decode, Apply, write if the state changed at the revision it
// came from, and retry from a read on a lost race. Updates of one key take
// turns within a process (turns.go). When the store fails, is slower than
// the per-event timeout, or holds a value that does not decode, the event
// is scored without the aggregates of that key (left as upstream sent
// them), which is counted in fraudscore_velocity_degraded_total{reason}
// and logged by transaction_id; after BreakerTrip such store failures in a
// row the store is skipped for a cool-down (breaker.go).
// Upstream aggregates win by default (Prefer upstream); the state is
// updated either way.
//
// # Size
//
// A state is a versioned fixed-width binary value (first byte: the format
// version; see CardStateBytes and DeviceStateBytes):
//
//	card state bytes   = 26 + 56 × entries + 24 × devices
//	device state bytes = 22 + 36 × entries
//
// where entries are the key's transactions in the last 24 h + Lateness and
// devices the card's remembered devices. Bytes per active card: a card
// with 10 transactions in a day on 2 devices takes 26 + 560 + 48 = 634
// bytes of value (plus the store's per-key overhead); at the caps
// (2048 entries, 32 devices) 115,482 bytes, under the 128 KB max_payload of
// deploy/nats, which a value must fit with its headers.
package velocity
