package contracts_test

import (
	"fmt"

	"github.com/fraudscore/fraudscore/contracts"
)

// Mask card numbers in a payload before storing it, in any field, known or
// unknown, and mark the stored copy as redacted.
func ExampleRedactPANs() {
	payload := []byte(`{"transaction_id":"txn_1","card_token":"4111 1111 1111 1111","note":"pan=5500000000000004"}`)
	out, n := contracts.RedactPANs(payload)
	fmt.Println(string(out))
	if n > 0 {
		fmt.Printf("%s: %s (%d masked)\n", contracts.HeaderRedacted, contracts.RedactedPAN, n)
	}
	clean, n := contracts.RedactPANString("tok_4f9a")
	fmt.Println(clean, n)
	// Output:
	// {"transaction_id":"txn_1","card_token":"4111 11** **** 1111","note":"pan=550000******0004"}
	// Fraudscore-Redacted: pan (2 masked)
	// tok_4f9a 0
}

// Refuse a payload that carries a card number anywhere, also where
// validation does not look (an unknown field here), as the worker does.
func ExampleContainsPAN() {
	payload := []byte(`{"transaction_id":"txn_1","card_token":"tok_4f9a","x_note":"card 5500-0000-0000-0004"}`)
	fmt.Println(contracts.ContainsPAN(payload))
	fmt.Println(contracts.ContainsPAN([]byte(`{"transaction_id":"txn-20240115-000001235"}`)))
	// Output:
	// true
	// false
}
