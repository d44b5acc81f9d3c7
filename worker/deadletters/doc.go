// Package deadletters reads, summarises, shows and replays the dead letters
// fraudscore stores in its dead-letter stream (FRAUD_DLQ, subjects
// fraud.dlq.<reason>): the inputs a worker could not score, each with the
// headers that say why (contracts.HeaderDLQReason and the other
// Fraudscore-Dlq-* headers).
//
// Read selects dead letters (by reason, store time, transaction id or
// stream sequence) with an ordered consumer, so reading leaves no state on
// the server and needs only read permission. Summarise counts them by reason
// and age; Show prints one with every card number masked
// (contracts.RedactPANs). Plan and Execute replay them: each selected
// letter is checked first (a verdict already stored for its transaction, a
// redacted payload, anything that looks like a card number, an event that
// contracts still refuses) and only the ones that pass are published again to
// their original input subject with the transaction id as Nats-Msg-Id, the
// input stream's de-duplication id. Deleting replayed letters is an option
// of Execute, never the default. docs/reliability.md holds the runbook.
package deadletters
