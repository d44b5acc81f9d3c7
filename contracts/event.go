package contracts

import "time"

// TransactionEventSchemaV1 is the schema_version value of TransactionEvent v1.
const TransactionEventSchemaV1 = "transaction_event.v1"

// Channel is the way a payment was made.
type Channel string

// Channels known to TransactionEvent v1. Adding a channel is a minor,
// backward-compatible change of the contract (see docs/contracts.md).
const (
	ChannelCardPresent Channel = "card_present"
	ChannelECommerce   Channel = "ecommerce"
	ChannelATM         Channel = "atm"
	ChannelMOTO        Channel = "moto"
	ChannelContactless Channel = "contactless"
	ChannelRecurring   Channel = "recurring"
)

// Channels lists every valid Channel in a stable order. Feature code indexes
// channels by their position in this list, so only append to it.
var Channels = [...]Channel{
	ChannelCardPresent, ChannelECommerce, ChannelATM, ChannelMOTO, ChannelContactless, ChannelRecurring,
}

// TransactionEvent is one payment authorisation as published by an upstream
// payment system (contract transaction_event.v1).
//
// Optional upstream aggregates are pointers: nil means "not provided", which
// the feature extractor turns into NaN (never 0).
type TransactionEvent struct {
	// SchemaVersion must be TransactionEventSchemaV1.
	SchemaVersion string `json:"schema_version"`
	// TransactionID identifies the transaction; at most 64 characters of
	// [A-Za-z0-9._:-]. It is the idempotency key of the verdict.
	TransactionID string `json:"transaction_id"`
	// EventTime is when the payment happened (RFC 3339).
	EventTime time.Time `json:"event_time"`
	// CardToken is a token for the card or account; never a card number.
	CardToken string `json:"card_token"`
	// AmountMinor is the amount in minor units of Currency (cents); positive.
	AmountMinor int64 `json:"amount_minor"`
	// Currency is an ISO 4217 alphabetic code.
	Currency string `json:"currency"`
	// MerchantID identifies the merchant.
	MerchantID string `json:"merchant_id"`
	// MCC is the 4-digit ISO 18245 merchant category code.
	MCC string `json:"mcc"`
	// MerchantCountry is an ISO 3166-1 alpha-2 code.
	MerchantCountry string `json:"merchant_country"`
	// Channel is how the payment was made.
	Channel Channel `json:"channel"`
	// CardCountry is the issuing country of the card (ISO 3166-1 alpha-2).
	CardCountry string `json:"card_country"`
	// IPCountry is the geolocated country of the client IP, when known.
	IPCountry string `json:"ip_country,omitempty"`
	// DeviceID identifies the customer device, when known.
	DeviceID string `json:"device_id,omitempty"`
	// AccountAgeDays is the age of the customer account in days.
	AccountAgeDays int32 `json:"account_age_days"`
	// Aggregates are optional velocity aggregates computed upstream.
	Aggregates *Aggregates `json:"aggregates,omitempty"`
}

// Aggregates are optional velocity aggregates computed by the upstream
// payment system. Every field is optional.
type Aggregates struct {
	// CardTxnCount1h is the card's number of transactions in the last hour.
	CardTxnCount1h *int32 `json:"card_txn_count_1h,omitempty"`
	// CardAmount24hMinor is the card's total amount in the last 24 hours, in
	// minor units of the event's currency.
	CardAmount24hMinor *int64 `json:"card_amount_24h_minor,omitempty"`
	// DeviceCardCount24h is how many distinct cards the device used in 24 h.
	DeviceCardCount24h *int32 `json:"device_card_count_24h,omitempty"`
	// NewDevice reports whether the device was never seen with this account.
	NewDevice *bool `json:"new_device,omitempty"`
}
