// Package contracts defines fraudscore's versioned message contracts: the
// TransactionEvent that payment systems publish, the Verdict that fraudscore
// publishes, their JSON Schemas (draft 2020-12, embedded), the NATS subjects
// and header names, and validation that reports every problem with its field
// path.
//
// The package knows nothing of NATS connections or models; it is the only
// package that both producers and consumers of fraudscore messages need.
package contracts
