package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/worker"
)

var errEnrich = errors.New("test enricher: store unavailable")

// priorCount is a small real Enricher: it sets card_txn_count_1h to the
// number of other transactions of the card it enriched before (each
// transaction id once, as velocity does), and fails the first attempts of
// the transactions in fail.
type priorCount struct {
	mu    sync.Mutex
	given map[string]int32 // transaction id -> the count it was given
	cards map[string]int32 // card token -> transactions recorded
	fail  map[string]int   // transaction id -> attempts left to fail
	calls map[string]int   // transaction id -> Enrich calls
}

func newPriorCount() *priorCount {
	return &priorCount{given: map[string]int32{}, cards: map[string]int32{}, fail: map[string]int{}, calls: map[string]int{}}
}

func (p *priorCount) Enrich(ctx context.Context, ev *contracts.TransactionEvent) error {
	if ctx == nil || ctx.Err() != nil {
		return errors.New("test enricher: called without a live context")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[ev.TransactionID]++
	if p.fail[ev.TransactionID] > 0 {
		p.fail[ev.TransactionID]--
		return errEnrich
	}
	n, ok := p.given[ev.TransactionID]
	if !ok {
		n = p.cards[ev.CardToken]
		p.cards[ev.CardToken]++
		p.given[ev.TransactionID] = n
	}
	if ev.Aggregates == nil {
		ev.Aggregates = &contracts.Aggregates{}
	}
	ev.Aggregates.CardTxnCount1h = &n
	return nil
}

func (p *priorCount) count(id string) (given int32, calls int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.given[id], p.calls[id]
}

// seenScorer records the card_txn_count_1h each transaction carried when
// it was scored (-1: none), then scores it.
type seenScorer struct {
	worker.Scorer
	mu   sync.Mutex
	seen map[string][]int32
}

func (s *seenScorer) Score(ev *contracts.TransactionEvent, vd *contracts.Verdict) error {
	v := int32(-1)
	if ev.Aggregates != nil && ev.Aggregates.CardTxnCount1h != nil {
		v = *ev.Aggregates.CardTxnCount1h
	}
	s.mu.Lock()
	s.seen[ev.TransactionID] = append(s.seen[ev.TransactionID], v)
	s.mu.Unlock()
	return s.Scorer.Score(ev, vd)
}

func (s *seenScorer) scored(id string) []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int32(nil), s.seen[id]...)
}

// events of few cards, so that enrichment gives counts above 0.
func fewCards(seed uint64, n int) []contracts.TransactionEvent {
	evs := events(seed, n)
	for i := range evs {
		evs[i].CardToken = evs[i%3].CardToken
		evs[i].Aggregates = nil
	}
	return evs
}

// With an Enricher, every stream transaction is enriched before it is
// scored; an enrichment failure NAKs it with delay (reason enrich_error) and
// its redelivery is enriched and scored: one verdict per transaction.
func TestEnricherStream(t *testing.T) {
	url := natstest.Start(t).ClientURL()
	cfg := testConfig(t)
	en := newPriorCount()
	evs := fewCards(41, 30)
	failing := []string{evs[4].TransactionID, evs[11].TransactionID, evs[25].TransactionID}
	for _, id := range failing {
		en.fail[id] = 1
	}
	sc := &seenScorer{Scorer: newScorer(t), seen: map[string][]int32{}}
	r := launchWorkerEnriched(t, url, cfg, sc, worker.SetupRetry{}, testLogger(t), en)
	require.Eventually(t, func() bool { return r.w.Ready() == nil }, 20*time.Second, 20*time.Millisecond)
	_, js := connect(t, url)
	natstest.PublishEvents(t, js, testSubject, evs)
	waitCount(t, js, cfg.VerdictStream, uint64(len(evs)), 30*time.Second)
	require.Eventually(t, func() bool { return metricValue(t, r.metrics.Acked) == float64(len(evs)) },
		20*time.Second, 20*time.Millisecond)

	// The fault happened: three NAKs for enrichment, none for anything else.
	assert.Equal(t, float64(len(failing)), metricValue(t, r.metrics.Naked.WithLabelValues("enrich_error")))
	assert.Zero(t, metricValue(t, r.metrics.Naked.WithLabelValues("score_error")))
	for _, id := range failing {
		_, calls := en.count(id)
		assert.Equal(t, 2, calls, "%s: enriched once, failed, enriched again", id)
		assert.Len(t, sc.scored(id), 1, "%s: the failed delivery is not scored", id)
	}
	// The invariant: one verdict per transaction, each scored once with
	// what the Enricher gave it.
	got := verdictsByID(t, js, cfg.VerdictStream)
	require.Len(t, got, len(evs))
	perCard := map[string]int{}
	for _, ev := range evs {
		perCard[ev.CardToken]++
		given, _ := en.count(ev.TransactionID)
		assert.Equal(t, []int32{given}, sc.scored(ev.TransactionID), ev.TransactionID)
	}
	require.Len(t, perCard, 3)
	var sum int32
	for _, ev := range evs {
		given, _ := en.count(ev.TransactionID)
		sum += given
	}
	// Each card's transactions were given 0, 1, ..., n-1 in some order.
	want := int32(0)
	for _, n := range perCard {
		want += int32(n * (n - 1) / 2)
	}
	assert.Equal(t, want, sum)
	require.NoError(t, r.stop(t))
}

// With an Enricher, a request is enriched before it is scored; an
// enrichment failure answers 500 "scoring failed", as a scoring failure.
func TestEnricherRequestReply(t *testing.T) {
	url := natstest.Start(t).ClientURL()
	cfg := testConfig(t)
	en := newPriorCount()
	evs := fewCards(43, 4)
	en.fail[evs[3].TransactionID] = 1
	sc := &seenScorer{Scorer: newScorer(t), seen: map[string][]int32{}}
	r := launchWorkerEnriched(t, url, cfg, sc, worker.SetupRetry{}, testLogger(t), en)
	require.Eventually(t, func() bool { return r.w.Ready() == nil }, 20*time.Second, 20*time.Millisecond)
	nc, _ := connect(t, url)

	for _, ev := range evs[:3] {
		data, _ := json.Marshal(&ev)
		resp := request(t, nc, data)
		require.Empty(t, resp.Header.Get(micro.ErrorCodeHeader), string(resp.Data))
		var vd contracts.Verdict
		require.NoError(t, contracts.DecodeVerdict(resp.Data, &vd))
		assert.Equal(t, ev.TransactionID, vd.TransactionID)
		given, calls := en.count(ev.TransactionID)
		assert.Equal(t, 1, calls)
		assert.Equal(t, []int32{given}, sc.scored(ev.TransactionID))
	}
	data, _ := json.Marshal(&evs[3])
	resp := request(t, nc, data)
	assert.Equal(t, worker.CodeInternal, resp.Header.Get(micro.ErrorCodeHeader))
	assert.Equal(t, "scoring failed", resp.Header.Get(micro.ErrorHeader))
	assert.Empty(t, sc.scored(evs[3].TransactionID), "not scored after a failed enrichment")
	// Counted after the reply is sent (handleRequest's deferred count): wait for it.
	require.Eventually(t, func() bool { return metricValue(t, r.metrics.Requests.WithLabelValues(worker.CodeInternal)) == 1 },
		20*time.Second, 10*time.Millisecond, "the failed request was not counted as %s", worker.CodeInternal)
	// Asked again, it is enriched and scored.
	resp = request(t, nc, data)
	require.Empty(t, resp.Header.Get(micro.ErrorCodeHeader), string(resp.Data))
	assert.Len(t, sc.scored(evs[3].TransactionID), 1)
	require.NoError(t, r.stop(t))
}
