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

	"github.com/fraudscore/fraudscore/contracts"
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

// runDemo publishes synthetic transactions at cfg.DemoRate per second and
// logs a summary of the verdicts every 5 seconds, so a newcomer sees the
// system work within seconds of `make run`.
func runDemo(ctx context.Context, nc *nats.Conn, cfg *worker.Config, log *slog.Logger) {
	js, err := jetstream.New(nc)
	if err != nil {
		log.Error("demo", "err", err)
		return
	}
	var counts [len(contracts.Decisions)]atomic.Int64
	var latencySum atomic.Int64 // microseconds, event time to verdict receipt
	sub, err := nc.Subscribe(cfg.VerdictPrefix+">", func(m *nats.Msg) {
		var vd contracts.Verdict
		if json.Unmarshal(m.Data, &vd) != nil {
			return
		}
		for i, d := range contracts.Decisions {
			if vd.Decision == d {
				counts[i].Add(1)
			}
		}
		latencySum.Add(time.Since(vd.ScoredAt).Microseconds())
	})
	if err != nil {
		log.Error("demo subscribe", "err", err)
		return
	}
	defer sub.Unsubscribe()
	gen := synthetic.New(synthetic.Config{Seed: uint64(time.Now().UnixNano()), Now: time.Now,
		IDPrefix: fmt.Sprintf("demo-%x-", time.Now().Unix())})
	subject := firstLiteral(cfg.Subjects) + "demo"
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	report := time.NewTicker(5 * time.Second)
	defer report.Stop()
	perTick := float64(cfg.DemoRate) / 100
	var owed float64
	var sent, frauds int64
	last := time.Now()
	log.Info("demo: publishing synthetic transactions", "rate_per_s", cfg.DemoRate, "subject", subject)
	for {
		select {
		case <-ctx.Done():
			return
		case <-report.C:
			var total int64
			parts := make([]any, 0, 12)
			for i, d := range contracts.Decisions {
				n := counts[i].Swap(0)
				total += n
				parts = append(parts, string(d), n)
			}
			el := time.Since(last).Seconds()
			last = time.Now()
			parts = append(parts, "sent", sent, "sent_fraud_truth", frauds, "verdicts_per_s", fmt.Sprintf("%.0f", float64(total)/el))
			if total > 0 {
				parts = append(parts, "mean_scored_to_seen_us", latencySum.Swap(0)/total)
			}
			log.Info("demo summary", parts...)
			sent, frauds = 0, 0
		case <-tick.C:
			owed += perTick
			for ; owed >= 1; owed-- {
				ev, lbl := gen.Next()
				data, _ := json.Marshal(&ev)
				if _, err := js.PublishAsync(subject, data); err != nil {
					log.Warn("demo publish", "err", err)
					continue
				}
				sent++
				if lbl.Fraud {
					frauds++
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
