package velocity_test

import (
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/velocity"
)

// t0 is the event time tests count from.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// txn returns the velocity view of a transaction at t0+at.
func txn(id, card, device string, at time.Duration, amount int64, currency string) velocity.Txn {
	return velocity.TxnOf(event(id, card, device, at, amount, currency))
}

// event returns a transaction event at t0+at with only what velocity reads.
func event(id, card, device string, at time.Duration, amount int64, currency string) *contracts.TransactionEvent {
	return &contracts.TransactionEvent{
		SchemaVersion: contracts.TransactionEventSchemaV1, TransactionID: id, EventTime: t0.Add(at),
		CardToken: card, DeviceID: device, AmountMinor: amount, Currency: currency,
	}
}

// cfg returns the default settings with Mode kv, changed by edit.
func cfg(edit func(*velocity.Config)) velocity.Config {
	c := velocity.DefaultConfig()
	c.Mode = velocity.ModeKV
	if edit != nil {
		edit(&c)
	}
	return c
}
