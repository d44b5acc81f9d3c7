// Package chaos is fraudscore's fault-injection suite and soak test. It has
// no library code: everything is in its tests, which run real processes on
// 127.0.0.1 (a nats-server built from the module, or a three-node JetStream
// cluster of cmd/natsserver nodes, and several `fraudscore worker`
// processes), inject faults (SIGKILL, SIGSTOP, server restart, leader loss,
// garbage, a tampered model, stream outages, a tampered challenger then a
// good one, the velocity bucket deleted or its leader frozen) under traffic, assert that each fault happened and bit (the wait
// status of a killed process, the consumer's redeliveries, the stream leader
// before and after, refused publishes, the refused model, the refused
// challenger and the shadow entries of the good one), and then check by
// reading the streams, transaction by transaction (loadtest.VerifyStored),
// that every published transaction ended as exactly one verdict or exactly
// one dead letter.
// faultcheck_test.go shows that these checks fail when a fault did not
// happen or a verdict is missing or doubled. TestVelocityExact
// (velocity_test.go) is issue 13's velocity correctness test: every stored
// verdict's velocity features against a brute-force recomputation from
// the event log, across a SIGKILL and duplicates.
//
// `go test ./chaos` runs the bounded CI version; FRAUDSCORE_CHAOS=full (make
// chaos) runs larger volumes and, with FRAUDSCORE_CHAOS_REPORT=docs/chaos,
// writes the results (fault evidence, counts, integrity, with commit,
// machine, date and load) as JSON and a markdown table rendered from that
// JSON read back; FRAUDSCORE_SOAK=10m (make soak) runs the soak, whose
// report is likewise rendered from the raw samples written beside it.
// FRAUDSCORE_CHAOS_RENDER and FRAUDSCORE_SOAK_RENDER (TestRenderChaosReport,
// TestRenderSoakReport) re-render a committed JSON without running anything.
// See docs/adr/0011-fault-testing.md and docs/reliability.md.
package chaos
