package worker_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/worker"
)

// sums adds up a numeric field over records.
func sums(recs []map[string]any, fields ...string) map[string]int64 {
	out := map[string]int64{}
	for _, r := range recs {
		for _, f := range fields {
			if v, ok := r[f].(float64); ok {
				out[f] += int64(v)
			}
		}
	}
	return out
}

// The summary lines, summed, count exactly the verdicts by decision and the
// dead letters that the streams hold, and the backlog drains to 0.
func TestProgressSummaryCountsWhatWasProcessed(t *testing.T) {
	s := natstest.Start(t)
	cfg := testConfig(t)
	r := startWorker(t, s.ClientURL(), cfg, nil)
	var logs testenv.Buffer
	p := &worker.Progress{Metrics: r.metrics, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Every: 100 * time.Millisecond, Extra: func() []any { return []any{"extra", "yes"} }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	_, js := connect(t, s.ClientURL())
	const n, poison = 400, 3
	natstest.PublishEvents(t, js, testSubject, events(31, n))
	for range poison {
		publishRaw(t, js, testSubject, []byte("not json"))
	}
	waitCount(t, js, cfg.VerdictStream, n, 60*time.Second)
	waitCount(t, js, cfg.DLQStream, poison, 60*time.Second)

	want := map[string]int64{"dead_letters": poison}
	for _, vd := range verdictsByID(t, js, cfg.VerdictStream) {
		want[string(vd.Decision)]++
	}
	fields := []string{"approve", "review", "decline", "dead_letters"}
	var recs []map[string]any
	require.Eventually(t, func() bool {
		recs = testenv.Matching(logs.Records(), testenv.MsgIs("progress"))
		last := len(recs) - 1
		return last >= 0 && assert.ObjectsAreEqual(want, withoutZeros(sums(recs, fields...))) && recs[last]["backlog"] == 0.0
	}, 60*time.Second, 50*time.Millisecond, "summary lines never added up to the stream contents %v", want)
	assert.Positive(t, want["approve"])
	busy := false
	for _, rec := range recs {
		assert.Equal(t, "yes", rec["extra"])
		for _, f := range append(fields, "verdicts_per_s", "backlog", "period_s") {
			assert.Contains(t, rec, f)
		}
		if rec["approve"].(float64) > 0 {
			busy = true
			assert.Positive(t, rec["verdicts_per_s"], "a line with verdicts has a rate")
		}
	}
	assert.True(t, busy)
}

func withoutZeros(m map[string]int64) map[string]int64 {
	for k, v := range m {
		if v == 0 {
			delete(m, k)
		}
	}
	return m
}

func TestProgressOffWhenEveryIsZero(t *testing.T) {
	p := &worker.Progress{Every: 0}
	p.Run(context.Background()) // returns at once, reads nothing
}
