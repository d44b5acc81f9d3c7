package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
)

func TestEveryTransactionGetsExactlyOneVerdict(t *testing.T) {
	cfg := testConfig(t)
	s := natstest.Start(t)
	defer s.Shutdown()
	startWorker(t, s.ClientURL(), cfg, nil)
	_, js := connect(t, s.ClientURL())

	evs := events(1, 3000)
	natstest.PublishEvents(t, js, testSubject, evs)
	waitCount(t, js, cfg.VerdictStream, uint64(len(evs)), 60*time.Second)

	got := verdictsByID(t, js, cfg.VerdictStream)
	require.Len(t, got, len(evs))
	sc := newScorer(t)
	decisions := map[contracts.Decision]int{}
	for i := range evs {
		vd, ok := got[evs[i].TransactionID]
		require.True(t, ok, "no verdict for %s", evs[i].TransactionID)
		var want contracts.Verdict
		require.NoError(t, sc.Score(&evs[i], &want))
		assert.Equal(t, want.Decision, vd.Decision, evs[i].TransactionID)
		assert.InDelta(t, want.Score, vd.Score, 1e-12)
		assert.Equal(t, testenv.BundledModel(t).Version, vd.ModelVersion)
		decisions[vd.Decision]++
	}
	// The synthetic traffic has fraud: all three decisions occur.
	for _, d := range contracts.Decisions {
		assert.Positive(t, decisions[d], "no %s verdicts", d)
	}
	// The work queue is empty once every verdict is stored and acked.
	require.Eventually(t, func() bool { return streamCount(t, js, cfg.Stream) == 0 }, 10*time.Second, 50*time.Millisecond)
	assert.Zero(t, streamCount(t, js, cfg.DLQStream))
}

// A consumer that takes a batch and dies without acking (a crashed replica),
// and a replica that stored some verdicts but died before acking: every
// transaction still ends with exactly one stored verdict, and the first one
// stored wins.
func TestRedeliveryAfterCrashStoresOneVerdict(t *testing.T) {
	cfg := testConfig(t)
	s := natstest.Start(t)
	defer s.Shutdown()
	// A first worker creates the topology, then stops.
	r := startWorker(t, s.ClientURL(), cfg, nil)
	require.NoError(t, r.stop(t))

	nc, js := connect(t, s.ClientURL())
	evs := events(2, 600)
	natstest.PublishEvents(t, js, testSubject, evs)

	// The "crashed" replica: fetch a batch from the shared consumer, store
	// verdicts for the first 100 (marked), ack nothing, disconnect.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, cfg.Stream, cfg.Consumer)
	require.NoError(t, err)
	batch, err := cons.Fetch(300, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	n := 0
	for m := range batch.Messages() {
		n++
		var ev contracts.TransactionEvent
		require.NoError(t, json.Unmarshal(m.Data(), &ev))
		if n <= 100 {
			vd := contracts.Verdict{SchemaVersion: contracts.VerdictSchemaV1, TransactionID: ev.TransactionID,
				Decision: contracts.DecisionReview, Score: 0.5, ModelVersion: "crashed-replica", PolicyVersion: "p",
				ScoredAt: time.Now().UTC()}
			out := &nats.Msg{Subject: "fraud.verdicts.review", Data: vd.AppendJSON(nil), Header: nats.Header{}}
			out.Header.Set(contracts.HeaderMsgID, ev.TransactionID)
			out.Header.Set(contracts.HeaderModelVersion, "crashed-replica")
			_, err := js.PublishMsg(ctx, out)
			require.NoError(t, err)
		}
	}
	require.Equal(t, 300, n)
	nc.Close()

	startWorker(t, s.ClientURL(), cfg, nil)
	_, js2 := connect(t, s.ClientURL())
	waitCount(t, js2, cfg.VerdictStream, uint64(len(evs)), 60*time.Second)
	require.Eventually(t, func() bool { return streamCount(t, js2, cfg.Stream) == 0 }, 30*time.Second, 50*time.Millisecond,
		"the unacked batch was never redelivered and acked")
	got := verdictsByID(t, js2, cfg.VerdictStream)
	require.Len(t, got, len(evs))
	crashed := 0
	for _, vd := range got {
		if vd.ModelVersion == "crashed-replica" {
			crashed++
		}
	}
	assert.Equal(t, 100, crashed, "the verdicts stored before the crash stay the only ones")
}

// failingScorer fails for transaction ids with a given prefix.
type failingScorer struct {
	inner interface {
		Score(*contracts.TransactionEvent, *contracts.Verdict) error
	}
	prefix string
	calls  atomic.Int64
}

var errInjected = errors.New("injected scoring failure")

func (f *failingScorer) Score(ev *contracts.TransactionEvent, vd *contracts.Verdict) error {
	if strings.HasPrefix(ev.TransactionID, f.prefix) {
		f.calls.Add(1)
		return errInjected
	}
	return f.inner.Score(ev, vd)
}

func TestPoisonAndMaxDeliveriesGoToDeadLetters(t *testing.T) {
	cfg := testConfig(t)
	s := natstest.Start(t)
	defer s.Shutdown()
	fs := &failingScorer{inner: newScorer(t), prefix: "t3-7"}
	startWorker(t, s.ClientURL(), cfg, fs)
	_, js := connect(t, s.ClientURL())

	poison := map[uint64]string{
		publishRaw(t, js, "payments.transactions.card", []byte("{not json")):                                                    contracts.ReasonMalformed,
		publishRaw(t, js, "payments.transactions.card", []byte(`{"schema_version":"transaction_event.v1"}`)):                    contracts.ReasonInvalid,
		publishRaw(t, js, "payments.transactions.card", []byte(`{"schema_version":"transaction_event.v9"}`)):                    contracts.ReasonInvalid,
		publishRaw(t, js, "payments.transactions.atm", []byte(`{"schema_version":"transaction_event.v1","amount_minor":"12"}`)): contracts.ReasonMalformed,
	}
	evs := events(3, 500) // ids t3-1..t3-500; t3-7, t3-70..79, t3-700.. fail scoring
	natstest.PublishEvents(t, js, testSubject, evs)
	failing := 0
	for _, ev := range evs {
		if strings.HasPrefix(ev.TransactionID, "t3-7") {
			failing++
		}
	}
	require.Equal(t, 11, failing) // t3-7 and t3-70..t3-79

	waitCount(t, js, cfg.VerdictStream, uint64(len(evs)-failing), 60*time.Second)
	waitCount(t, js, cfg.DLQStream, uint64(len(poison)+failing), 60*time.Second)
	require.Eventually(t, func() bool { return streamCount(t, js, cfg.Stream) == 0 }, 30*time.Second, 50*time.Millisecond,
		"max-delivered messages must be removed from the input")

	reasons := map[string]int{}
	for _, m := range streamMsgs(t, js, cfg.DLQStream) {
		h := m.Headers()
		reason := h.Get(contracts.HeaderDLQReason)
		reasons[reason]++
		assert.Equal(t, "fraud.dlq."+reason, m.Subject())
		seq, err := strconv.ParseUint(h.Get(contracts.HeaderDLQStreamSeq), 10, 64)
		require.NoError(t, err)
		assert.Equal(t, "test-worker", h.Get(contracts.HeaderDLQWorker))
		assert.NotEmpty(t, h.Get(contracts.HeaderDLQDeliveries))
		if want, ok := poison[seq]; ok {
			assert.Equal(t, want, reason, "stream seq %d", seq)
			assert.Equal(t, "1", h.Get(contracts.HeaderDLQDeliveries), "poison is dead-lettered on first delivery, never redelivered")
			assert.NotEmpty(t, h.Get(contracts.HeaderDLQDetail))
		} else {
			assert.Equal(t, contracts.ReasonMaxDeliveries, reason)
			assert.Equal(t, strconv.Itoa(cfg.MaxDeliver), h.Get(contracts.HeaderDLQDeliveries))
			var ev contracts.TransactionEvent
			require.NoError(t, json.Unmarshal(m.Data(), &ev), "the dead letter keeps the original payload")
			assert.True(t, strings.HasPrefix(ev.TransactionID, "t3-7"))
		}
	}
	assert.Equal(t, map[string]int{contracts.ReasonMalformed: 2, contracts.ReasonInvalid: 2, contracts.ReasonMaxDeliveries: failing}, reasons)
	// Each failing transaction was scored MaxDeliver times: NAKed with delay, never hot-looped.
	assert.Equal(t, int64(failing*cfg.MaxDeliver), fs.calls.Load())
	got := verdictsByID(t, js, cfg.VerdictStream)
	assert.Len(t, got, len(evs)-failing)
}
