package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/worker"
)

// drainConn drains the connection and waits until it is closed.
func drainConn(nc *nats.Conn, timeout time.Duration) error {
	if nc.IsClosed() {
		return nil
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		return err
	}
	select {
	case <-closed:
		return nil
	case <-time.After(timeout):
		nc.Close()
		return fmt.Errorf("connection drain exceeded %s", timeout)
	}
}

// demo publishes synthetic transactions at rate per second, so a
// newcomer sees the system work within seconds of `make run`; the progress
// summary reports what it sent (fields) beside what the worker stored.
type demo struct {
	nc          *nats.Conn
	cfg         *worker.Config
	rate        int // transactions per second
	log         *slog.Logger
	sent, fraud atomic.Int64 // since the last fields call
}

// fields returns the counts since the previous call, for the progress line.
func (d *demo) fields() []any {
	return []any{"demo_sent", d.sent.Swap(0), "demo_sent_fraud_truth", d.fraud.Swap(0)}
}

func (d *demo) run(ctx context.Context) {
	js, err := jetstream.New(d.nc)
	if err != nil {
		d.log.Error("demo", "err", err)
		return
	}
	gen := synthetic.New(synthetic.Config{Seed: uint64(time.Now().UnixNano()), Now: time.Now,
		IDPrefix: fmt.Sprintf("demo-%x-", time.Now().Unix())})
	subject := firstLiteral(d.cfg.Subjects) + "demo"
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	perTick := float64(d.rate) / 100
	var owed float64
	d.log.Info("demo: publishing synthetic transactions", "rate_per_s", d.rate, "subject", subject)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			owed += perTick
			for ; owed >= 1; owed-- {
				ev, lbl := gen.Next()
				data, _ := json.Marshal(&ev)
				if _, err := js.PublishAsync(subject, data); err != nil {
					d.log.Warn("demo publish", "err", err)
					continue
				}
				d.sent.Add(1)
				if lbl.Fraud {
					d.fraud.Add(1)
				}
			}
		}
	}
}

// firstLiteral returns the literal prefix of a subject pattern such as
// "payments.transactions.>", i.e. "payments.transactions.".
func firstLiteral(pattern string) string {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '>' || pattern[i] == '*' {
			return pattern[:i]
		}
	}
	return pattern + "."
}
