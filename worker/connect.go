package worker

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Connect opens a NATS connection configured by cfg: credentials from files,
// TLS, unlimited reconnects. Connection events are logged and counted.
func Connect(cfg *Config, name string, log *slog.Logger, m *Metrics) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(cfg.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(false),
		nats.PingInterval(10 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.ReconnectBufSize(16 << 20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			if m != nil {
				m.Reconnects.Inc()
			}
			log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			if m != nil {
				m.ConsumerErrors.WithLabelValues("async").Inc()
			}
			// Subjects and server errors can echo what a client sent:
			// masked like every input-derived text (sanitizeHeader), the
			// error still matching errors.Is.
			log.Error("nats async error", "subject", sanitizeHeader(subj), "err", maskedError{sanitizeHeader(err.Error()), err})
		}),
	}
	switch {
	case cfg.CredsFile != "":
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	case cfg.NKeyFile != "":
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("worker: nkey seed: %w", err)
		}
		opts = append(opts, o)
	case cfg.User != "":
		// Read on every (re)connect, so a rotated Secret takes effect
		// without a restart; the last good value is kept if a read fails.
		pw, err := readSecret(cfg.PasswordFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserInfoHandler(func() (string, string) {
			if fresh, err := readSecret(cfg.PasswordFile); err == nil {
				pw = fresh
			} else {
				log.Warn("re-read password file; using the previous password", "err", err)
			}
			return cfg.User, pw
		}))
	case cfg.TokenFile != "":
		tok, err := readSecret(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.TokenHandler(func() string {
			if fresh, err := readSecret(cfg.TokenFile); err == nil {
				tok = fresh
			} else {
				log.Warn("re-read token file; using the previous token", "err", err)
			}
			return tok
		}))
	}
	if cfg.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(cfg.InboxPrefix))
	}
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	if cfg.CertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.CertFile, cfg.KeyFile))
	}
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("worker: connect to %s: %w", redactURLs(cfg.NATSURL), err)
	}
	return nc, nil
}

// maskedError is err with the text msg (card numbers masked); it unwraps to
// err.
type maskedError struct {
	msg string
	err error
}

func (e maskedError) Error() string { return e.msg }
func (e maskedError) Unwrap() error { return e.err }

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("worker: read secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("worker: secret file %s is empty: %w", path, ErrConfig)
	}
	return s, nil
}

// redactURLs drops user info from URLs for logs and errors.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			if s := strings.Index(u, "://"); s >= 0 && s < at {
				parts[i] = u[:s+3] + "***" + u[at:]
			} else {
				parts[i] = "***" + u[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}
