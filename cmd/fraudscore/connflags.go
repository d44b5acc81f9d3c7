package main

import (
	"os"

	"github.com/fraudscore/fraudscore/worker"
)

// connectionFlags registers on c the flags every command that talks to NATS
// takes (server URLs and the credentials files, as the worker reads them),
// each defaulting to the worker's FRAUDSCORE_NATS_* variable, and returns the
// worker configuration they fill. Commands add their own stream flags with
// streamFlag. Validate the result with its Validate method after parsing.
func connectionFlags(c *command) *worker.Config {
	conn := worker.DefaultConfig()
	for _, f := range []struct {
		flag, env string
		dst       *string
		usage     string
	}{
		{"url", "NATS_URL", &conn.NATSURL, "NATS server URLs, comma-separated"},
		{"creds", "NATS_CREDS_FILE", &conn.CredsFile, "NATS user credentials file"},
		{"nkey", "NATS_NKEY_FILE", &conn.NKeyFile, "NATS nkey seed file"},
		{"user", "NATS_USER", &conn.User, "NATS user name (with -password-file)"},
		{"password-file", "NATS_PASSWORD_FILE", &conn.PasswordFile, "file holding the NATS password"},
		{"token-file", "NATS_TOKEN_FILE", &conn.TokenFile, "file holding the NATS token"},
		{"ca", "NATS_CA_FILE", &conn.CAFile, "CA certificate to verify the NATS server (enables TLS)"},
		{"cert", "NATS_CERT_FILE", &conn.CertFile, "client certificate for mutual TLS"},
		{"key", "NATS_KEY_FILE", &conn.KeyFile, "client key for mutual TLS"},
	} {
		stringFlag(c, f.flag, f.env, f.dst, f.usage)
	}
	return &conn
}

// stringFlag registers a string flag whose default is the worker variable
// FRAUDSCORE_<env> when it is set, else *dst, and names that variable in its
// usage.
func stringFlag(c *command, flag, env string, dst *string, usage string) {
	env = worker.EnvPrefix + "_" + env
	if v := os.Getenv(env); v != "" {
		*dst = v
	}
	c.flags.StringVar(dst, flag, *dst, usage+" ($"+env+")")
}
