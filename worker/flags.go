package worker

import (
	"flag"
	"os"
)

// ConnectionFlags registers on fs a flag for each of c's credentials and TLS
// settings (-creds, -nkey, -user, -password-file, -token-file, -ca, -cert,
// -key), the same settings the worker reads from its FRAUDSCORE_NATS_*
// variables, so that a command-line program reaches any server the worker
// can. Each flag defaults to its variable when that is set, else to c's
// value. The server URLs and the inbox prefix are left to the program: their
// flags differ in meaning (loopback-only load tests, replies).
func ConnectionFlags(fs *flag.FlagSet, c *Config) {
	for _, f := range []struct {
		flag, env string
		dst       *string
		usage     string
	}{
		{"creds", "NATS_CREDS_FILE", &c.CredsFile, "NATS user credentials file"},
		{"nkey", "NATS_NKEY_FILE", &c.NKeyFile, "NATS nkey seed file"},
		{"user", "NATS_USER", &c.User, "NATS user name (with -password-file)"},
		{"password-file", "NATS_PASSWORD_FILE", &c.PasswordFile, "file holding the NATS password"},
		{"token-file", "NATS_TOKEN_FILE", &c.TokenFile, "file holding the NATS token"},
		{"ca", "NATS_CA_FILE", &c.CAFile, "CA certificate to verify the NATS server (enables TLS)"},
		{"cert", "NATS_CERT_FILE", &c.CertFile, "client certificate for mutual TLS"},
		{"key", "NATS_KEY_FILE", &c.KeyFile, "client key for mutual TLS"},
	} {
		EnvFlag(fs, f.flag, f.env, f.dst, f.usage)
	}
}

// EnvFlag registers on fs a string flag whose default is the worker
// variable FRAUDSCORE_<env> when that is set, else *dst, and names the
// variable in its usage.
func EnvFlag(fs *flag.FlagSet, name, env string, dst *string, usage string) {
	env = EnvPrefix + "_" + env
	if v := os.Getenv(env); v != "" {
		*dst = v
	}
	fs.StringVar(dst, name, *dst, usage+" ($"+env+")")
}
