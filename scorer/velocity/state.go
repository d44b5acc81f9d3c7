package velocity

import (
	"time"

	"github.com/fraudscore/fraudscore/contracts"
)

// The windows of the aggregates. A window for a transaction at time t is
// (t-W, t]: strictly after t-W, at or before t.
const (
	// Window1h is the window of card_txn_count_1h.
	Window1h = time.Hour
	// Window24h is the window of card_amount_24h_minor and
	// device_card_count_24h, and the span of entries a state keeps.
	Window24h = 24 * time.Hour
)

// Currency is an ISO 4217 alphabetic code as three bytes.
type Currency [3]byte

// CurrencyCode returns code as a Currency: its first three bytes, padded
// with zero bytes when shorter (validated events carry exactly three
// letters).
func CurrencyCode(code string) Currency {
	var c Currency
	copy(c[:], code)
	return c
}

// String returns the code ("EUR").
func (c Currency) String() string {
	n := len(c)
	for n > 0 && c[n-1] == 0 {
		n--
	}
	return string(c[:n])
}

// Txn is what velocity needs of a transaction: hashes, never the card
// token, device id or transaction id themselves.
type Txn struct {
	// Hash is TxnHash(transaction_id).
	Hash uint64
	// Time is event_time in Unix nanoseconds.
	Time int64
	// Amount is amount_minor, in Currency.
	Amount int64
	// Currency is the event's currency.
	Currency Currency
	// Card is CardHash(card_token).
	Card uint64
	// Device is DeviceHash(device_id), 0 when the event has no device_id.
	Device uint64
}

// TxnOf returns the velocity view of an event.
func TxnOf(ev *contracts.TransactionEvent) Txn {
	x := Txn{
		Hash:     TxnHash(ev.TransactionID),
		Time:     ev.EventTime.UnixNano(),
		Amount:   ev.AmountMinor,
		Currency: CurrencyCode(ev.Currency),
		Card:     CardHash(ev.CardToken),
	}
	if ev.DeviceID != "" {
		x.Device = DeviceHash(ev.DeviceID)
	}
	return x
}

// CardEntry is one transaction recorded in a card's state, with the card
// features it was given when it was recorded (a redelivery gets them back).
type CardEntry struct {
	// Txn is TxnHash(transaction_id).
	Txn uint64
	// Ord is the card's ordinal of the transaction: 1 for the first
	// transaction the card's state recorded, then 2, 3, ...
	Ord uint64
	// Time is event_time in Unix nanoseconds.
	Time int64
	// Amount is amount_minor, in Currency.
	Amount int64
	// Currency is the transaction's currency.
	Currency Currency
	// Device is DeviceHash(device_id), 0 for none.
	Device uint64
	// TxnCount1h, Amount24h and NewDevice are the features the
	// transaction was given (NewDevice false without a device).
	TxnCount1h int32
	Amount24h  int64
	NewDevice  bool
}

// CardDevice is a device the card was used with, in the card's bounded
// device memory (new_device).
type CardDevice struct {
	// Device is DeviceHash(device_id).
	Device uint64
	// FirstOrd is the card ordinal of the first transaction with the device.
	FirstOrd uint64
	// LastTime is the latest event time (Unix ns) of the card with the
	// device; the device with the smallest is evicted first.
	LastTime int64
}

// CardState is a card's velocity state: its recent transactions (Entries,
// in ordinal order) and the devices it was used with.
type CardState struct {
	// LastOrd is the ordinal of the latest recorded transaction (0: none).
	LastOrd uint64
	// MaxTime is the largest event time recorded (Unix ns); lateness is
	// measured from it.
	MaxTime int64
	// Entries are the recorded transactions, in ordinal order.
	Entries []CardEntry
	// Devices is the device memory, at most MaxDevicesPerCard long.
	Devices []CardDevice
}

// DeviceEntry is one transaction recorded in a device's state, with the
// device feature it was given when it was recorded.
type DeviceEntry struct {
	// Txn is TxnHash(transaction_id).
	Txn uint64
	// Ord is the device's ordinal of the transaction.
	Ord uint64
	// Time is event_time in Unix nanoseconds.
	Time int64
	// Card is CardHash(card_token).
	Card uint64
	// CardCount24h is the device_card_count_24h the transaction was given.
	CardCount24h int32
}

// DeviceState is a device's velocity state: its recent transactions in
// ordinal order.
type DeviceState struct {
	// LastOrd is the ordinal of the latest recorded transaction (0: none).
	LastOrd uint64
	// MaxTime is the largest event time recorded (Unix ns).
	MaxTime int64
	// Entries are the recorded transactions, in ordinal order.
	Entries []DeviceEntry
}
