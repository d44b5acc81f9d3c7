// Package security holds the least-privilege NATS configuration of
// fraudscore (accounts.conf, nats-server.conf, tls.conf, mtls.conf) and the
// tests that prove it against a real nats-server running that configuration
// and a real fraudscore worker process: per-role permissions, TLS with and
// without client certificates, credentials from files only, no secret or
// card token in the logs, no committed keys or passwords, and the server's
// maximum payload.
//
// It has no non-test code; see the _test.go files and docs/security.md.
package security
