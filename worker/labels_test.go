package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/worker"
	"github.com/fraudscore/fraudscore/worker/labels"
)

// labelWorker runs a worker with the label join on (a short verdict wait),
// serving its metrics like the side port; it returns the /metrics URL.
func labelWorker(t *testing.T, url string, lc *worker.LabelConfig) string {
	t.Helper()
	u, _ := labelWorkerWith(t, url, lc, nil)
	return u
}

// launchLabelWorker runs a worker with cfg and the label join lc until the
// test ends, and returns its metrics.
func launchLabelWorker(t testing.TB, url string, cfg *worker.Config, lc *worker.LabelConfig) *worker.Metrics {
	t.Helper()
	c := *cfg
	c.NATSURL = url
	reg := prometheus.NewRegistry()
	m := worker.NewMetrics(reg, "test", "test")
	log := testLogger(t)
	nc, err := worker.Connect(&c, "test-worker", log, m)
	require.NoError(t, err)
	w, err := worker.New(worker.Options{Config: &c, Conn: nc, Scorer: newScorer(t), Decoder: contracts.NewValidator(),
		Metrics: m, Logger: log, Version: "1.0.0", Labels: lc})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		nc.Close()
	})
	return m
}

// labelWorkerWith is labelWorker with the worker's configuration adjusted
// by mutate (when not nil); stop ends the worker before the test does.
func labelWorkerWith(t *testing.T, url string, lc *worker.LabelConfig, mutate func(*worker.Config)) (metricsURL string, stop func()) {
	t.Helper()
	cfg := testConfig(t)
	cfg.NATSURL = url
	if mutate != nil {
		mutate(cfg)
	}
	reg := prometheus.NewRegistry()
	m := worker.NewMetrics(reg, "test", "test")
	log := testLogger(t)
	nc, err := worker.Connect(cfg, "test-worker", log, m)
	require.NoError(t, err)
	w, err := worker.New(worker.Options{Config: cfg, Conn: nc, Scorer: newScorer(t), Decoder: contracts.NewValidator(),
		Metrics: m, Logger: log, Version: "1.0.0", Labels: lc})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("worker did not stop")
		}
		nc.Close()
	}
	t.Cleanup(stop)
	require.Eventually(t, func() bool { return w.Ready() == nil }, 20*time.Second, 20*time.Millisecond, "worker never ready")
	srv := httptest.NewServer(worker.SideHandler(reg, nil, nil))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics", stop
}

func testLabelConfig() *worker.LabelConfig {
	lc := worker.DefaultLabelConfig()
	lc.Enabled = true
	lc.VerdictWait = 3 * time.Second
	lc.RetryDelay = 100 * time.Millisecond
	return &lc
}

func labelJSON(t *testing.T, id string, o contracts.Outcome, source string) []byte {
	t.Helper()
	b, err := json.Marshal(&contracts.Label{SchemaVersion: contracts.LabelSchemaV1, TransactionID: id, Label: o,
		Source: source, ReportedAt: time.Now().UTC()})
	require.NoError(t, err)
	return b
}

// scrape reads a /metrics page into series (name{labels} as rendered) ->
// value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(testenv.HTTPBody(t, url), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	return out
}

func decisionSeries(c labels.Cell) string {
	return fmt.Sprintf(`fraudscore_labelled_decisions_total{decision="%s",label="%s",model_version="%s",rule="%s"}`,
		c.Decision, c.Label, c.ModelVersion, c.Rule)
}

func resultSeries(r labels.Result) string {
	return `fraudscore_labels_total{result="` + string(r) + `"}`
}

// TestLabelJoin runs the whole label path against a real worker: a label
// published before its transaction is scored waits for the verdict; labels
// after it join at once; a second label with the same outcome is a
// duplicate, with the other outcome a contradiction (the first stays
// counted); a label for a transaction never scored is unknown once the
// verdict wait is over; a malformed label and one whose source is not its
// subject's are dead-lettered with the transaction's headers. The counts
// are read from a /metrics scrape, and labels.Read rebuilds the same table
// from the streams.
func TestLabelJoin(t *testing.T) {
	s := natstest.Start(t)
	url := labelWorker(t, s.ClientURL(), testLabelConfig())
	_, js := connect(t, s.ClientURL())
	evs := events(77, 30)

	subject := func(src string) string { return contracts.LabelSubject(src) }
	// Before the verdict: the transaction is not even published yet.
	early := publishRaw(t, js, subject("review"), labelJSON(t, evs[0].TransactionID, contracts.OutcomeFraud, "review"))

	natstest.PublishEvents(t, js, testSubject, evs)
	waitCount(t, js, "VERDICTS", uint64(len(evs)), 20*time.Second)
	vds := verdictsByID(t, js, "VERDICTS")
	// The fault: the label was stored before its transaction's verdict.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	labelStream, err := js.Stream(ctx, "LABELS")
	require.NoError(t, err)
	earlyMsg, err := labelStream.GetMsg(ctx, early)
	require.NoError(t, err)
	firstVerdict := streamMsgs(t, js, "VERDICTS")[0]
	firstMeta, err := firstVerdict.Metadata()
	require.NoError(t, err)
	require.True(t, earlyMsg.Time.Before(firstMeta.Timestamp), "the early label was stored before any verdict")

	want := map[labels.Cell]float64{}
	count := func(id string, o contracts.Outcome) {
		vd := vds[id]
		want[labels.Cell{ModelVersion: vd.ModelVersion, Rule: labels.RuleOf(&vd), Decision: vd.Decision, Label: o}]++
	}
	count(evs[0].TransactionID, contracts.OutcomeFraud)
	for i := 1; i < 20; i++ {
		o := contracts.OutcomeLegit
		if i%3 == 0 {
			o = contracts.OutcomeFraud
		}
		src := []string{contracts.SourceChargeback, contracts.SourceReview, contracts.SourceCustomer}[i%3]
		publishRaw(t, js, subject(src), labelJSON(t, evs[i].TransactionID, o, src))
		count(evs[i].TransactionID, o)
	}
	// evs[3] was labelled fraud, evs[4] legit.
	publishRaw(t, js, subject("review"), labelJSON(t, evs[3].TransactionID, contracts.OutcomeFraud, "review"))
	publishRaw(t, js, subject("chargeback"), labelJSON(t, evs[4].TransactionID, contracts.OutcomeFraud, "chargeback"))
	publishRaw(t, js, subject("review"), labelJSON(t, "never-scored-1", contracts.OutcomeFraud, "review"))
	publishRaw(t, js, subject("review"), []byte(`{"schema_version":"label.v1","transaction_id":`))
	publishRaw(t, js, subject("review"), labelJSON(t, evs[25].TransactionID, contracts.OutcomeFraud, "chargeback"))

	wantResults := map[labels.Result]float64{
		labels.ResultJoined: 20, labels.ResultDuplicate: 1, labels.ResultContradictory: 1,
		labels.ResultUnknown: 1, labels.ResultDeadLetter: 2,
	}
	var got map[string]float64
	require.Eventually(t, func() bool {
		got = scrape(t, url)
		for r, n := range wantResults {
			if got[resultSeries(r)] != n {
				return false
			}
		}
		return true
	}, 20*time.Second, 100*time.Millisecond, "label results on /metrics")
	for r, n := range wantResults {
		assert.Equal(t, n, got[resultSeries(r)], r)
	}
	var total float64
	for c, n := range want {
		assert.Equal(t, n, got[decisionSeries(c)], decisionSeries(c))
		total += n
	}
	var exported float64
	for k, v := range got {
		if strings.HasPrefix(k, "fraudscore_labelled_decisions_total{") {
			exported += v
		}
	}
	assert.Equal(t, total, exported, "no labelled decision counted beyond the expected cells")
	assert.Equal(t, float64(len(evs)), got["fraudscore_verdicts_indexed_total"])

	// The dead letters: the input's subject and sequence, the reason and a
	// detail naming the field.
	dls := streamMsgs(t, js, "FRAUD_DLQ")
	require.Len(t, dls, 2)
	reasons := map[string]string{}
	for _, m := range dls {
		h := m.Headers()
		assert.Equal(t, subject("review"), h.Get(contracts.HeaderDLQSubject))
		assert.NotEmpty(t, h.Get(contracts.HeaderDLQStreamSeq))
		assert.Equal(t, "test-worker", h.Get(contracts.HeaderDLQWorker))
		reasons[h.Get(contracts.HeaderDLQReason)] = h.Get(contracts.HeaderDLQDetail)
	}
	assert.Contains(t, reasons, contracts.ReasonMalformed)
	assert.Contains(t, reasons[contracts.ReasonInvalid], "source")

	// The report's reading of the streams agrees with the live counts.
	tab, err := labels.Read(ctx, js, labels.ReadOptions{})
	require.NoError(t, err)
	for c, n := range want {
		assert.Equal(t, int64(n), tab.Counts[c], "report %v", c)
	}
	assert.Len(t, tab.Counts, len(want))
	for r, n := range wantResults {
		assert.Equal(t, int64(n), tab.Results[r], "report %s", r)
	}
}

// TestLabelCardDataDeadLettered: a label carrying a card number in an
// unknown field is dead-lettered as invalid with the number masked, and
// erased from the label stream.
func TestLabelCardDataDeadLettered(t *testing.T) {
	s := natstest.Start(t)
	url := labelWorker(t, s.ClientURL(), testLabelConfig())
	_, js := connect(t, s.ClientURL())
	const pan = "4111111111111111"
	data := []byte(`{"schema_version":"label.v1","transaction_id":"t-1","label":"fraud","source":"review","reported_at":"2026-01-01T00:00:00Z","note":"` + pan + `"}`)
	seq := publishRaw(t, js, contracts.LabelSubject("review"), data)
	require.Eventually(t, func() bool { return scrape(t, url)[resultSeries(labels.ResultDeadLetter)] == 1 },
		20*time.Second, 50*time.Millisecond)
	dls := streamMsgs(t, js, "FRAUD_DLQ")
	require.Len(t, dls, 1)
	assert.Equal(t, contracts.ReasonInvalid, dls[0].Headers().Get(contracts.HeaderDLQReason))
	assert.Equal(t, contracts.RedactedPAN, dls[0].Headers().Get(contracts.HeaderRedacted))
	assert.NotContains(t, string(dls[0].Data()), pan)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "LABELS")
	require.NoError(t, err)
	_, err = st.GetMsg(ctx, seq)
	assert.ErrorIs(t, err, jetstream.ErrMsgNotFound, "the label holding a card number is erased")
}

// TestLabelJoinTwoReplicas: two workers share the label and index
// consumers, the second binding to the topology the first created
// (FRAUDSCORE_ENSURE_TOPOLOGY=false); every label is counted once across
// both, the way Prometheus sums them. Then the first stops, and the second
// alone joins the next labels: its join is bound.
func TestLabelJoinTwoReplicas(t *testing.T) {
	s := natstest.Start(t)
	first, stopFirst := labelWorkerWith(t, s.ClientURL(), testLabelConfig(), nil)
	second, _ := labelWorkerWith(t, s.ClientURL(), testLabelConfig(), func(c *worker.Config) { c.EnsureTopology = false })
	_, js := connect(t, s.ClientURL())
	evs := events(91, 300)
	publish := func(evs []contracts.TransactionEvent) {
		natstest.PublishEvents(t, js, testSubject, evs)
		for _, ev := range evs {
			publishRaw(t, js, contracts.LabelSubject("review"), labelJSON(t, ev.TransactionID, contracts.OutcomeLegit, "review"))
		}
	}
	last := map[string]map[string]float64{} // the last scrape of each worker
	sum := func(series string, urls ...string) (total float64) {
		for _, u := range urls {
			if m := scrape(t, u); m != nil {
				last[u] = m
			}
			total += last[u][series]
		}
		return total
	}
	joined := resultSeries(labels.ResultJoined)
	publish(evs[:200])
	require.Eventually(t, func() bool { return sum(joined, first, second) >= 200 },
		30*time.Second, 100*time.Millisecond, "labels joined across the replicas")
	assert.Equal(t, 200.0, sum(joined, first, second), "each label counted once")
	before := sum(joined, second)
	stopFirst()
	publish(evs[200:])
	require.Eventually(t, func() bool { return sum(joined, second) >= before+100 },
		30*time.Second, 100*time.Millisecond, "the second worker alone joins the rest")
	assert.Equal(t, before+100, sum(joined, second))
	var decisions float64
	for _, u := range []string{first, second} {
		for k, v := range last[u] {
			if strings.HasPrefix(k, "fraudscore_labelled_decisions_total{") {
				decisions += v
			}
		}
	}
	assert.Equal(t, float64(len(evs)), decisions)
	for _, r := range []labels.Result{labels.ResultDuplicate, labels.ResultContradictory, labels.ResultUnknown} {
		assert.Zero(t, last[first][resultSeries(r)]+last[second][resultSeries(r)], r)
	}
}
