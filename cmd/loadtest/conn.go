package main

import (
	"flag"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/fraudscore/fraudscore/worker"
)

// connectionFlags registers the worker's credentials and TLS settings on
// fs (worker.ConnectionFlags: the same flags and FRAUDSCORE_NATS_* defaults
// as the fraudscore commands) and -inbox-prefix, so a run reaches a server
// that requires credentials or TLS. It returns the worker configuration they
// fill; the server URLs come from -url.
func connectionFlags(fs *flag.FlagSet) *worker.Config {
	conn := worker.DefaultConfig()
	worker.ConnectionFlags(fs, &conn)
	worker.EnvFlag(fs, "inbox-prefix", "NATS_INBOX_PREFIX", &conn.InboxPrefix, "inbox prefix for replies (request mode)")
	return &conn
}

// connector returns a loadtest.Config.Connect that opens connections to url
// as the worker does (worker.Connect), with conn's credentials and TLS.
func connector(conn *worker.Config, url string, log *slog.Logger) func(name string) (*nats.Conn, error) {
	c := *conn
	c.NATSURL = url
	return func(name string) (*nats.Conn, error) { return worker.Connect(&c, name, log, nil) }
}
