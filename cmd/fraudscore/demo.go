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
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/labels"
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

// demo publishes synthetic transactions at rate per second (demoTraffic: a
// population's raw per-card streams, whose velocity the worker computes), so
// a newcomer sees the system work within seconds of `make run`; the
// progress summary reports what it sent (fields) beside what the worker
// stored.
type demo struct {
	nc          *nats.Conn
	cfg         *worker.Config
	rate        int // transactions per second
	log         *slog.Logger
	sent, fraud atomic.Int64 // since the last fields call
	labels      *demoLabels  // nil: no labels
}

// fields returns the counts since the previous call, for the progress line.
func (d *demo) fields() []any {
	f := []any{"demo_sent", d.sent.Swap(0), "demo_sent_fraud_truth", d.fraud.Swap(0)}
	if d.labels != nil {
		f = append(f, "demo_labels_sent", d.labels.sent.Swap(0))
	}
	return f
}

func (d *demo) run(ctx context.Context) {
	js, err := jetstream.New(d.nc)
	if err != nil {
		d.log.Error("demo", "err", err)
		return
	}
	traffic := newDemoTraffic(uint64(time.Now().UnixNano()))
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
		case now := <-tick.C:
			if d.labels != nil {
				d.labels.publishDue(js, now, d.log)
			}
			owed += perTick
			for ; owed >= 1; owed-- {
				ev, lbl := traffic.next(now)
				data, _ := json.Marshal(&ev)
				if _, err := js.PublishAsync(subject, data); err != nil {
					d.log.Warn("demo publish", "err", err)
					continue
				}
				d.sent.Add(1)
				if d.labels != nil {
					d.labels.delayed.Add(time.Now(), ev.TransactionID, lbl.Fraud)
				}
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

// demoLabels publishes the demo's synthetic labels (labels.Delayed) on
// <prefix>synthetic.
type demoLabels struct {
	delayed *labels.Delayed
	subject string
	sent    atomic.Int64 // since the last fields call
	due     []contracts.Label
}

// newDemoLabels labels share of the demo's transactions after delay; at
// most delay's worth of transactions at rate (twice, for slack) wait.
func newDemoLabels(prefix string, share float64, delay time.Duration, rate int) *demoLabels {
	pending := max(1024, 2*rate*int(delay/time.Second+1))
	return &demoLabels{delayed: labels.NewDelayed(share, delay, pending, uint64(time.Now().UnixNano())),
		subject: prefix + contracts.SourceSynthetic}
}

// publishDue publishes the labels due at now.
func (l *demoLabels) publishDue(js jetstream.JetStream, now time.Time, log *slog.Logger) {
	l.due = l.delayed.Due(now, l.due[:0])
	for i := range l.due {
		data, _ := json.Marshal(&l.due[i])
		if _, err := js.PublishAsync(l.subject, data); err != nil {
			log.Warn("demo label publish", "err", err)
			continue
		}
		l.sent.Add(1)
	}
}
