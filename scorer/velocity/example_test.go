package velocity_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/scorer/velocity"
)

// Velocity over a MemStore, as training uses it: each event gets the
// aggregates of the card's and device's earlier transactions, and a
// redelivery gets the same ones again.
func Example() {
	v, err := velocity.New(&velocity.MemStore{}, velocity.DefaultConfig(), velocity.Options{})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pay := func(id, card, device string, minutes int, amount int64, currency string) {
		ev := &contracts.TransactionEvent{TransactionID: id, EventTime: at.Add(time.Duration(minutes) * time.Minute),
			CardToken: card, DeviceID: device, AmountMinor: amount, Currency: currency}
		if err := v.Enrich(context.Background(), ev); err != nil {
			panic(err)
		}
		a := ev.Aggregates
		fmt.Printf("%s: card_txn_count_1h=%d card_amount_24h_minor=%d device_card_count_24h=%d new_device=%t\n",
			id, *a.CardTxnCount1h, *a.CardAmount24hMinor, *a.DeviceCardCount24h, *a.NewDevice)
	}
	pay("t1", "tok_alice", "phone-1", 0, 2500, "EUR")
	pay("t2", "tok_alice", "phone-1", 10, 1200, "EUR")
	pay("t3", "tok_bob", "phone-1", 20, 9900, "EUR")
	pay("t4", "tok_alice", "laptop-7", 90, 700, "USD")
	pay("t2", "tok_alice", "phone-1", 10, 1200, "EUR") // redelivered
	// Output:
	// t1: card_txn_count_1h=0 card_amount_24h_minor=0 device_card_count_24h=0 new_device=true
	// t2: card_txn_count_1h=1 card_amount_24h_minor=2500 device_card_count_24h=1 new_device=false
	// t3: card_txn_count_1h=0 card_amount_24h_minor=0 device_card_count_24h=1 new_device=true
	// t4: card_txn_count_1h=0 card_amount_24h_minor=0 device_card_count_24h=0 new_device=true
	// t2: card_txn_count_1h=1 card_amount_24h_minor=2500 device_card_count_24h=1 new_device=false
}
