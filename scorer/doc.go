// Package scorer turns a validated contracts.TransactionEvent into a
// contracts.Verdict: features (package features), a tree-ensemble prediction
// (package model), and a decision policy. It knows nothing of NATS or HTTP.
//
// A Scorer holds the current model version behind an atomic pointer, so a new
// version can be swapped in while scoring goes on; Score does not allocate.
package scorer
