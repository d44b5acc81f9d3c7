package worker

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fraudscore/fraudscore/contracts"
)

// Progress logs a one-line summary of the worker's work every Every: the
// verdicts per second and by decision (stream and request-reply together)
// and the dead letters since the previous line, and the consumer backlog
// (num_pending, as last polled). It reads the worker's metrics, so it counts
// what this process stored, and it is the one summary for demo and
// production runs alike.
type Progress struct {
	Metrics *Metrics
	Logger  *slog.Logger
	Every   time.Duration // 0 or less: Run returns at once
	// Extra, if set, adds fields to each line (the demo publisher's counts
	// since the previous line).
	Extra func() []any
}

// progressCounts is what Progress reads from the metrics at one instant.
type progressCounts struct {
	decisions   [len(contracts.Decisions)]float64
	deadLetters float64
}

// Run logs a line every p.Every until ctx is done.
func (p *Progress) Run(ctx context.Context) {
	if p.Every <= 0 {
		return
	}
	t := time.NewTicker(p.Every)
	defer t.Stop()
	prev, since := p.read(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cur := p.read()
			p.log(prev, cur, now.Sub(since))
			prev, since = cur, now
		}
	}
}

func (p *Progress) log(prev, cur progressCounts, elapsed time.Duration) {
	attrs := make([]any, 0, 16)
	var total float64
	for i, d := range contracts.Decisions {
		n := cur.decisions[i] - prev.decisions[i]
		total += n
		attrs = append(attrs, string(d), int64(n))
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = math.Round(total/s*10) / 10
	}
	attrs = append([]any{"verdicts_per_s", rate}, attrs...)
	attrs = append(attrs, "dead_letters", int64(cur.deadLetters-prev.deadLetters),
		"backlog", int64(gaugeValue(p.Metrics.NumPending)), "period_s", math.Round(elapsed.Seconds()*10)/10)
	if p.Extra != nil {
		attrs = append(attrs, p.Extra()...)
	}
	p.Logger.Info("progress", attrs...)
}

// read sums the verdict counters by decision and the dead-letter counters.
func (p *Progress) read() progressCounts {
	var c progressCounts
	each(p.Metrics.Verdicts, func(m *dto.Metric) {
		for _, l := range m.GetLabel() {
			if l.GetName() != "decision" {
				continue
			}
			for i, d := range contracts.Decisions {
				if l.GetValue() == string(d) {
					c.decisions[i] += m.GetCounter().GetValue()
				}
			}
		}
	})
	each(p.Metrics.DeadLetters, func(m *dto.Metric) { c.deadLetters += m.GetCounter().GetValue() })
	return c
}

func gaugeValue(g prometheus.Gauge) float64 {
	var v float64
	each(g, func(m *dto.Metric) { v = m.GetGauge().GetValue() })
	return v
}

// each calls f with every series c collects.
func each(c prometheus.Collector, f func(*dto.Metric)) {
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	for m := range ch {
		var pb dto.Metric
		if m.Write(&pb) == nil {
			f(&pb)
		}
	}
}
