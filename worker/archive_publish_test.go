package worker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/archive"
)

// stallingScorer holds the first scoring of each stalled transaction until
// its redelivery is being scored (at most 20 s), so that both deliveries
// publish a verdict and an archive copy.
type stallingScorer struct {
	worker.Scorer
	mu      sync.Mutex
	calls   map[string]int
	release map[string]chan struct{}
}

func (s *stallingScorer) Score(ev *contracts.TransactionEvent, vd *contracts.Verdict) error {
	s.mu.Lock()
	s.calls[ev.TransactionID]++
	n := s.calls[ev.TransactionID]
	ch, stalled := s.release[ev.TransactionID]
	s.mu.Unlock()
	switch {
	case stalled && n == 1:
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
		}
	case stalled && n == 2:
		close(ch)
	}
	return s.Scorer.Score(ev, vd)
}

// TestArchiveRedelivery: with the archive on, transactions whose first
// delivery stalls past AckWait are delivered and scored twice, and still
// archived once each; every transaction is archived, as published, under
// fraud.archive.<source>.
func TestArchiveRedelivery(t *testing.T) {
	url := natstest.Start(t).ClientURL()
	cfg := testConfig(t)
	cfg.Archive, cfg.Concurrency = true, 4
	require.NoError(t, cfg.Validate())
	const n = 60
	evs := events(31, n)
	sc := &stallingScorer{Scorer: newScorer(t), calls: map[string]int{}, release: map[string]chan struct{}{}}
	for _, i := range []int{3, 17, 42} {
		sc.release[evs[i].TransactionID] = make(chan struct{})
	}
	r := startWorker(t, url, cfg, sc)
	_, js := connect(t, url)
	natstest.PublishEvents(t, js, "payments.transactions.ecommerce", evs)

	dup := r.metrics.Archived.WithLabelValues("duplicate")
	stored := r.metrics.Archived.WithLabelValues("stored")
	require.Eventually(t, func() bool {
		return metricValue(t, stored) == n && metricValue(t, dup) == float64(len(sc.release))
	}, 30*time.Second, 20*time.Millisecond, "archive copies: %d stored, %d duplicates", n, len(sc.release))
	sc.mu.Lock()
	for id := range sc.release {
		assert.Equal(t, 2, sc.calls[id], "transaction %s was scored twice (the redelivery happened)", id)
	}
	sc.mu.Unlock()
	assert.Zero(t, metricValue(t, r.metrics.Archived.WithLabelValues("failed")))

	waitCount(t, js, cfg.VerdictStream, n, 10*time.Second)
	assert.Len(t, verdictsByID(t, js, cfg.VerdictStream), n)
	assert.Equal(t, uint64(n), streamCount(t, js, cfg.ArchiveStream))
	got := map[string]bool{}
	st, err := archive.Read(context.Background(), js, archive.Options{}, func(m archive.Meta, ev *contracts.TransactionEvent) error {
		assert.Equal(t, "fraud.archive.ecommerce", m.Subject)
		got[ev.TransactionID] = true
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, archive.Stats{Events: n}, st)
	for _, ev := range evs {
		assert.True(t, got[ev.TransactionID], "transaction %s archived", ev.TransactionID)
	}
	require.NoError(t, r.stop(t))
}

// TestArchiveAsScored: with an Enricher (velocity) the archive keeps each
// transaction as scored, with the aggregates the enricher gave it, so that
// a backtest replaying the archive scores what production scored; the
// rest of the event is the one published.
func TestArchiveAsScored(t *testing.T) {
	url := natstest.Start(t).ClientURL()
	cfg := testConfig(t)
	cfg.Archive = true
	require.NoError(t, cfg.Validate())
	const n = 40
	evs := events(37, n)
	for i := range evs {
		evs[i].CardToken = []string{"tok_archive_a", "tok_archive_b"}[i%2] // two cards: counts grow
		evs[i].Aggregates = nil
	}
	en := newPriorCount()
	r := launchWorkerEnriched(t, url, cfg, nil, worker.SetupRetry{}, testLogger(t), en)
	_, js := connect(t, url)
	natstest.PublishEvents(t, js, "payments.transactions.card", evs)
	require.Eventually(t, func() bool {
		return metricValue(t, r.metrics.Archived.WithLabelValues("stored")) == n
	}, 30*time.Second, 20*time.Millisecond)

	byID := map[string]contracts.TransactionEvent{}
	for _, ev := range evs {
		byID[ev.TransactionID] = ev
	}
	counts := map[int32]bool{}
	st, err := archive.Read(context.Background(), js, archive.Options{}, func(_ archive.Meta, ev *contracts.TransactionEvent) error {
		given, calls := en.count(ev.TransactionID)
		require.Equal(t, 1, calls, ev.TransactionID)
		require.NotNil(t, ev.Aggregates, "%s archived without the aggregates it was scored with", ev.TransactionID)
		require.NotNil(t, ev.Aggregates.CardTxnCount1h, ev.TransactionID)
		assert.Equal(t, given, *ev.Aggregates.CardTxnCount1h, ev.TransactionID)
		counts[given] = true
		want := byID[ev.TransactionID]
		got := *ev
		got.Aggregates = nil
		assert.Equal(t, want.EventTime.UTC(), got.EventTime.UTC(), ev.TransactionID)
		want.EventTime, got.EventTime = time.Time{}, time.Time{}
		assert.Equal(t, want, got, "%s: the archived event is the published one but for its aggregates", ev.TransactionID)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, archive.Stats{Events: n}, st)
	assert.Len(t, counts, n/2, "each card's transactions were given 0, 1, ... n/2-1")
	require.NoError(t, r.stop(t))
}
