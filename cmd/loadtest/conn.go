package main

import (
	"flag"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go"

	"github.com/fraudscore/fraudscore/worker"
)

// connectionFlags registers the worker's connection settings on fs: the
// same flags and FRAUDSCORE_NATS_* defaults as the fraudscore commands
// (cmd/fraudscore/connflags.go), so a run reaches a server that requires
// credentials or TLS. It returns the worker configuration they fill; the
// server URLs come from -url.
func connectionFlags(fs *flag.FlagSet) *worker.Config {
	conn := worker.DefaultConfig()
	for _, f := range []struct {
		flag, env string
		dst       *string
		usage     string
	}{
		{"creds", "NATS_CREDS_FILE", &conn.CredsFile, "NATS user credentials file"},
		{"nkey", "NATS_NKEY_FILE", &conn.NKeyFile, "NATS nkey seed file"},
		{"user", "NATS_USER", &conn.User, "NATS user name (with -password-file)"},
		{"password-file", "NATS_PASSWORD_FILE", &conn.PasswordFile, "file holding the NATS password"},
		{"token-file", "NATS_TOKEN_FILE", &conn.TokenFile, "file holding the NATS token"},
		{"ca", "NATS_CA_FILE", &conn.CAFile, "CA certificate to verify the NATS server (enables TLS)"},
		{"cert", "NATS_CERT_FILE", &conn.CertFile, "client certificate for mutual TLS"},
		{"key", "NATS_KEY_FILE", &conn.KeyFile, "client key for mutual TLS"},
		{"inbox-prefix", "NATS_INBOX_PREFIX", &conn.InboxPrefix, "inbox prefix for replies (request mode)"},
	} {
		env := worker.EnvPrefix + "_" + f.env
		if v := os.Getenv(env); v != "" {
			*f.dst = v
		}
		fs.StringVar(f.dst, f.flag, *f.dst, f.usage+" ($"+env+")")
	}
	return &conn
}

// connector returns a loadtest.Config.Connect that opens connections to url
// as the worker does (worker.Connect), with conn's credentials and TLS.
func connector(conn *worker.Config, url string, log *slog.Logger) func(name string) (*nats.Conn, error) {
	c := *conn
	c.NATSURL = url
	return func(name string) (*nats.Conn, error) { return worker.Connect(&c, name, log, nil) }
}
