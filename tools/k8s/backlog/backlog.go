// Package backlog makes and measures a JetStream backlog for `make k8s-e2e`
// (tools/k8s/e2e): it creates the worker's own topology (worker.EnsureTopology
// with the worker's defaults), publishes synthetic transactions that no worker
// consumes, reads the consumer's lag as KEDA's nats-jetstream scaler defines
// it (num_pending + num_ack_pending) from the JetStream API, and purges the
// input stream. It is a module of its own because the nats.go client and the
// Kubernetes module in tools/k8s need different versions of golang.org/x/sys.
package backlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/worker"
)

// ErrBacklog prefixes every error of this package.
var ErrBacklog = errors.New("backlog")

// Topology names the input stream and its shared durable consumer.
type Topology struct {
	Stream   string `json:"stream"`
	Consumer string `json:"consumer"`
	// Subject is where Publish sends transactions (one of the stream's
	// subjects).
	Subject string `json:"subject"`
}

// Config is the worker's configuration with its defaults and the given
// environment (FRAUDSCORE_* variables), as the worker reads it.
func Config(environ []string) (*worker.Config, error) {
	cfg, unknown, err := worker.LoadConfig(environ)
	if err != nil {
		return nil, fmt.Errorf("%w: worker config: %w", ErrBacklog, err)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: unknown worker variables %v", ErrBacklog, unknown)
	}
	return cfg, nil
}

// Ensure creates the worker's streams and consumers, exactly as a worker
// with cfg does at start (worker.EnsureTopology), and names the input.
func Ensure(ctx context.Context, js jetstream.JetStream, cfg *worker.Config) (Topology, error) {
	if _, _, err := worker.EnsureTopology(ctx, js, cfg); err != nil {
		return Topology{}, fmt.Errorf("%w: %w", ErrBacklog, err)
	}
	return topologyOf(cfg)
}

// topologyOf names cfg's input; the subject is the input wildcard's prefix
// followed by "k8s-e2e" (payments.transactions.k8s-e2e by default).
func topologyOf(cfg *worker.Config) (Topology, error) {
	prefix, ok := strings.CutSuffix(cfg.Subjects, ">")
	if !ok {
		return Topology{}, fmt.Errorf("%w: input subjects %q do not end in >", ErrBacklog, cfg.Subjects)
	}
	return Topology{Stream: cfg.Stream, Consumer: cfg.Consumer, Subject: prefix + "k8s-e2e"}, nil
}

// Publish sends n synthetic transactions (seeded, so reproducible) to the
// input subject, each with its transaction id as Nats-Msg-Id, and returns
// once the server has acknowledged every one.
func Publish(ctx context.Context, js jetstream.JetStream, cfg *worker.Config, n int, seed uint64) error {
	top, err := topologyOf(cfg)
	if err != nil {
		return err
	}
	gen := synthetic.New(synthetic.Config{Seed: seed})
	for i := range n {
		ev, _ := gen.Next()
		data, err := json.Marshal(&ev)
		if err != nil {
			return fmt.Errorf("%w: encode event %d: %w", ErrBacklog, i, err)
		}
		if _, err := js.PublishAsync(top.Subject, data, jetstream.WithMsgID(ev.TransactionID), jetstream.WithStallWait(30*time.Second)); err != nil {
			return fmt.Errorf("%w: publish event %d: %w", ErrBacklog, i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %d publishes not acknowledged: %w", ErrBacklog, js.PublishAsyncPending(), ctx.Err())
	}
}

// Lag is the consumer's backlog as KEDA's nats-jetstream scaler computes
// it: NumPending + NumAckPending.
type Lag struct {
	NumPending    uint64 `json:"num_pending"`
	NumAckPending int    `json:"num_ack_pending"`
	Lag           uint64 `json:"lag"`
	// StreamMsgs is the number of messages the input stream holds.
	StreamMsgs uint64 `json:"stream_msgs"`
}

// ReadLag asks the JetStream API for the consumer's and the stream's state.
func ReadLag(ctx context.Context, js jetstream.JetStream, cfg *worker.Config) (Lag, error) {
	c, err := js.Consumer(ctx, cfg.Stream, cfg.Consumer)
	if err != nil {
		return Lag{}, fmt.Errorf("%w: consumer %s/%s: %w", ErrBacklog, cfg.Stream, cfg.Consumer, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return Lag{}, fmt.Errorf("%w: consumer info: %w", ErrBacklog, err)
	}
	s, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return Lag{}, fmt.Errorf("%w: stream %s: %w", ErrBacklog, cfg.Stream, err)
	}
	si, err := s.Info(ctx)
	if err != nil {
		return Lag{}, fmt.Errorf("%w: stream info: %w", ErrBacklog, err)
	}
	return Lag{
		NumPending:    ci.NumPending,
		NumAckPending: ci.NumAckPending,
		Lag:           ci.NumPending + uint64(ci.NumAckPending),
		StreamMsgs:    si.State.Msgs,
	}, nil
}

// Purge removes every message of the input stream (the backlog clears as if
// workers had scored and acknowledged it) and returns how many it removed.
func Purge(ctx context.Context, js jetstream.JetStream, cfg *worker.Config) (uint64, error) {
	s, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return 0, fmt.Errorf("%w: stream %s: %w", ErrBacklog, cfg.Stream, err)
	}
	before, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: stream info: %w", ErrBacklog, err)
	}
	if err := s.Purge(ctx); err != nil {
		return 0, fmt.Errorf("%w: purge %s: %w", ErrBacklog, cfg.Stream, err)
	}
	return before.State.Msgs, nil
}
