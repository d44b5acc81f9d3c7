// Package embedded starts an in-process NATS server with JetStream, for
// tests and for `make run`. It is never started unless asked for.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure the embedded server.
type Options struct {
	// StoreDir is the JetStream file store.
	StoreDir string
	// Listen is the client address, host:port; port -1 picks a free one.
	Listen string
	// Monitor is the HTTP monitoring address (host:port), empty for none.
	Monitor string
	// MaxPayload is the largest message the server accepts (default 1 MiB).
	MaxPayload int32
}

// ErrNotReady is returned when the server does not start in time.
var ErrNotReady = errors.New("embedded nats server not ready")

// Start starts the server and waits until it accepts connections. The
// server does not handle signals (NoSigs): the worker drains first and then
// shuts the server down.
func Start(o Options) (*server.Server, error) {
	host, port, err := splitHostPort(o.Listen)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: "fraudscore-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: o.MaxPayload,
	}
	if o.Monitor != "" {
		mh, mp, err := splitHostPort(o.Monitor)
		if err != nil {
			return nil, err
		}
		opts.HTTPHost, opts.HTTPPort = mh, mp
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded: %s: %w", o.Listen, ErrNotReady)
	}
	return s, nil
}

func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("embedded: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("embedded: port in %q: %w", addr, err)
	}
	return h, port, nil
}
