// Package chaos is fraudscore's fault-injection suite and soak test. It has
// no library code: everything is in its tests, which run real processes on
// 127.0.0.1 (a nats-server built from the module, or a three-node JetStream
// cluster of cmd/natsserver nodes, and several `fraudscore worker`
// processes), inject faults (SIGKILL, SIGSTOP, server restart, leader loss,
// garbage, a tampered model) under traffic, and then check by reading the
// streams that every published transaction ended as exactly one verdict or
// exactly one dead letter.
//
// `go test ./chaos` runs the bounded CI version; FRAUDSCORE_CHAOS=full (make
// chaos) runs larger volumes; FRAUDSCORE_SOAK=10m (make soak) runs the soak.
// See docs/adr/0011-fault-testing.md and docs/reliability.md.
package chaos
