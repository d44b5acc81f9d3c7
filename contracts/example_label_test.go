package contracts_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
)

// A chargeback arrives for a transaction: the issuer's system builds a
// label, validates it and publishes it on its subject; fraudscore decodes
// it. A label that names a card number instead of a transaction id is
// refused with the field, never the value.
func ExampleLabel() {
	v := contracts.NewValidator()
	lb := contracts.Label{
		SchemaVersion: contracts.LabelSchemaV1,
		TransactionID: "txn_1",
		Label:         contracts.OutcomeFraud,
		Source:        contracts.SourceChargeback,
		ReportedAt:    time.Date(2025, 8, 1, 9, 30, 0, 0, time.UTC),
		ReasonCode:    "10.4",
	}
	if err := v.ValidateLabel(&lb); err != nil {
		fmt.Println("invalid:", err)
		return
	}
	data, _ := json.Marshal(&lb)
	fmt.Println(contracts.LabelSubject(lb.Source), string(data))

	var got contracts.Label
	if err := v.DecodeLabel(data, &got); err == nil {
		fmt.Println(got.TransactionID, got.Label, got.Source)
	}

	bad := []byte(`{"schema_version":"label.v1","transaction_id":"4111 1111 1111 1111","label":"fraud","source":"chargeback","reported_at":"2025-08-01T09:30:00Z"}`)
	err := v.DecodeLabel(bad, &got)
	var ve *contracts.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Reason(), errors.Is(err, contracts.ErrInvalid), err)
	}
	// Output:
	// fraud.labels.chargeback {"schema_version":"label.v1","transaction_id":"txn_1","label":"fraud","source":"chargeback","reported_at":"2025-08-01T09:30:00Z","reason_code":"10.4"}
	// txn_1 fraud chargeback
	// invalid true invalid: transaction_id: looks like a card number (PAN); send a token
}
