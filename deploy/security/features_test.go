package security

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
)

// featureEnv switches on everything beyond scoring that uses NATS: the label
// join (LABELS, its consumer, the verdict-index consumer on VERDICTS, the
// VERDICT_INDEX and LABEL_STATE buckets), the transaction archive (ARCHIVE)
// and velocity features (the VELOCITY bucket); a label whose verdict is not
// indexed counts as unknown after a second.
var featureEnv = []string{
	"FRAUDSCORE_LABELS=true", "FRAUDSCORE_ARCHIVE=true", "FRAUDSCORE_VELOCITY=kv",
	"FRAUDSCORE_LABEL_VERDICT_WAIT=1s", "FRAUDSCORE_LABEL_RETRY_DELAY=100ms",
}

// publishLabel publishes a label as c through JetStream and requires the
// LABELS stream's PubAck.
func publishLabel(t *testing.T, c *client, id string, data []byte) {
	t.Helper()
	ack, err := c.js.Publish(ctxT(t, 5*time.Second), contracts.LabelSubject(contracts.SourceReview), data,
		jetstream.WithMsgID("label-"+id))
	require.NoError(t, err, "label for %s", id)
	require.Equal(t, "LABELS", ack.Stream)
}

func labelJSON(t *testing.T, lb contracts.Label) []byte {
	t.Helper()
	lb.SchemaVersion, lb.Source = contracts.LabelSchemaV1, contracts.SourceReview
	if lb.Label == "" {
		lb.Label = contracts.OutcomeLegit
	}
	lb.ReportedAt = time.Now().UTC()
	b, err := json.Marshal(&lb)
	require.NoError(t, err)
	return b
}

// waitMetric waits until the worker's /metrics shows series at want.
func (w *workerProc) waitMetric(t *testing.T, series string, want float64) {
	t.Helper()
	var got float64
	require.Eventually(t, func() bool {
		got = testenv.ScrapeMetrics(t, "http://"+w.httpAddr+"/metrics")[series]
		return got == want
	}, 30*time.Second, 100*time.Millisecond, "%s: want %v", series, want)
}

// bucketValues is the number of values a KV bucket holds, read as ops.
func bucketValues(t *testing.T, ops *client, bucket string) uint64 {
	t.Helper()
	kv, err := ops.js.KeyValue(ctxT(t, 5*time.Second), bucket)
	require.NoError(t, err, "bucket %s", bucket)
	st, err := kv.Status(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	return st.Values()
}

// TestLeastPrivilegeLabelsArchiveVelocity runs a worker with the label
// join, the archive and velocity on, first as `worker` (it creates the
// whole topology), then as `worker-managed-topology` on that topology, with
// labels from `labeller`: every path of each feature (index puts, label
// joins, a duplicate label read from the label state, an unknown one, a
// card-number label dead-lettered and erased from LABELS, archive copies,
// velocity reads, creates and compare-and-set updates of card and device
// keys) works without a single permission violation, and the actions around
// them that no role needs are refused.
func TestLeastPrivilegeLabelsArchiveVelocity(t *testing.T) {
	e := render(t, tlsOff)
	s := e.start(t)
	w := startWorker(t, e.workerEnv(t, s.url, "worker", featureEnv...))
	w.waitReady(t)

	pub := e.mustConnect(t, s.url, "publisher")
	lab := e.mustConnect(t, s.url, "labeller")
	dash := e.mustConnect(t, s.url, "dashboard")
	ops := e.mustConnect(t, s.url, "ops")

	// run scores n transactions published as publisher, labels them as
	// labeller, adds a label for a transaction never scored and one
	// carrying a card number, and checks what each feature stored.
	const n = 20
	run := func(t *testing.T, w *workerProc, prefix string, round uint64) {
		// Per round: n labels, a duplicate, an unknown; the card-number
		// label is erased.
		scored, labelled := (round+1)*n, (round+1)*(n+2)
		evs := events(prefix, n)
		for i := range evs {
			publishTx(t, pub, mustJSON(t, &evs[i]))
		}
		waitStreamMsgs(t, ops.js, "VERDICTS", scored)
		waitStreamMsgs(t, ops.js, "ARCHIVE", scored)
		w.waitMetric(t, `fraudscore_archive_publishes_total{result="stored"}`, n)
		// Velocity recorded every transaction in its card's key (the
		// second round's events reuse the first round's cards: updates
		// of existing keys), none scored without it.
		w.waitMetric(t, `fraudscore_velocity_updates_total{key="card"}`, n)
		for series, v := range testenv.ScrapeMetrics(t, "http://"+w.httpAddr+"/metrics") {
			if strings.HasPrefix(series, "fraudscore_velocity_degraded_total") {
				assert.Zero(t, v, series)
			}
		}
		for i := range evs {
			publishLabel(t, lab, evs[i].TransactionID, labelJSON(t, contracts.Label{TransactionID: evs[i].TransactionID}))
		}
		w.waitMetric(t, `fraudscore_labels_total{result="joined"}`, n)
		// A second label of a joined transaction reads the label state.
		publishLabel(t, lab, evs[0].TransactionID+"-again", labelJSON(t, contracts.Label{TransactionID: evs[0].TransactionID}))
		publishLabel(t, lab, prefix+"never-scored", labelJSON(t, contracts.Label{TransactionID: prefix + "never-scored"}))
		// A Luhn-valid card number in analyst_id: dead-lettered (masked),
		// then erased from LABELS by sequence.
		publishLabel(t, lab, prefix+"pan", labelJSON(t, contracts.Label{TransactionID: prefix + "pan", AnalystID: "4111111111111111"}))
		w.waitMetric(t, `fraudscore_labels_total{result="duplicate"}`, 1)
		w.waitMetric(t, `fraudscore_labels_total{result="unknown"}`, 1)
		w.waitMetric(t, `fraudscore_labels_total{result="dead_letter"}`, 1)
		w.waitMetric(t, `fraudscore_verdicts_indexed_total`, n)
		waitStreamMsgs(t, ops.js, "LABELS", labelled)
		waitStreamMsgs(t, ops.js, "FRAUD_DLQ", round+1)
		assert.Equal(t, scored, bucketValues(t, ops, "VERDICT_INDEX"))
		assert.Equal(t, scored, bucketValues(t, ops, "LABEL_STATE"))
		assert.GreaterOrEqual(t, bucketValues(t, ops, "VELOCITY"), uint64(n), "a key per card at least")
		// Let the backlog poll and a pull expiry of every consumer run.
		time.Sleep(1500 * time.Millisecond)
		assert.Empty(t, s.logs.matching(violationsOfConn("fraudscore-worker")), "the worker process needed a permission it lacks")
		assert.NotContains(t, w.Output(), "nats async error")
		assert.NotContains(t, w.Output(), "4111111111111111")
	}

	t.Run("worker creates the topology and runs every feature without a violation", func(t *testing.T) {
		run(t, w, "feat-", 0)
	})

	t.Run("worker-managed-topology runs every feature on that topology without a violation", func(t *testing.T) {
		require.NoError(t, w.stop())
		wm := startWorker(t, e.workerEnv(t, s.url, "worker-managed-topology",
			append([]string{"FRAUDSCORE_ENSURE_TOPOLOGY=false"}, featureEnv...)...))
		wm.waitReady(t)
		run(t, wm, "feat-managed-", 1)
		require.NoError(t, wm.stop())
	})

	t.Run("worker may not destroy or read past what the features need", func(t *testing.T) {
		wk := e.mustConnect(t, s.url, "worker")
		// It never forges labels.
		wk.denyPublish(t, contracts.LabelSubject(contracts.SourceChargeback))
		wk.denySubscribe(t, contracts.SubjectLabels, "")
		wk.denySubscribe(t, contracts.SubjectArchive, "")
		denyJS(t, wk, "$JS.API.STREAM.DELETE.LABELS", func(ctx context.Context) error {
			return wk.js.DeleteStream(ctx, "LABELS")
		})
		denyJS(t, wk, "$JS.API.STREAM.PURGE.KV_VELOCITY", func(ctx context.Context) error {
			return purge(ctx, wk, "KV_VELOCITY")
		})
		denyJS(t, wk, "$JS.API.STREAM.DELETE.KV_VERDICT_INDEX", func(ctx context.Context) error {
			return wk.js.DeleteKeyValue(ctx, "VERDICT_INDEX")
		})
		denyJS(t, wk, "$JS.API.STREAM.PURGE.ARCHIVE", func(ctx context.Context) error {
			return purge(ctx, wk, "ARCHIVE")
		})
		denyJS(t, wk, "$JS.API.STREAM.MSG.DELETE.ARCHIVE", func(ctx context.Context) error {
			return deleteMsgRaw(ctx, wk, "ARCHIVE", 1)
		})
		// No reading the archive (card tokens) or the labels outside its
		// own durable consumer.
		denyJS(t, wk, "$JS.API.CONSUMER.CREATE.ARCHIVE.reader", func(ctx context.Context) error {
			_, err := wk.js.CreateOrUpdateConsumer(ctx, "ARCHIVE", jetstream.ConsumerConfig{Name: "reader"})
			return err
		})
		denyJS(t, wk, "$JS.API.CONSUMER.CREATE.LABELS.thief", func(ctx context.Context) error {
			_, err := wk.js.CreateOrUpdateConsumer(ctx, "LABELS", jetstream.ConsumerConfig{Durable: "thief", AckPolicy: jetstream.AckExplicitPolicy})
			return err
		})
		denyJS(t, wk, "$JS.API.CONSUMER.DELETE.LABELS.fraudscore-labels", func(ctx context.Context) error {
			return wk.js.DeleteConsumer(ctx, "LABELS", "fraudscore-labels")
		})
		// A KV watch or key listing needs a consumer on the bucket's stream.
		denyJS(t, wk, "$JS.API.CONSUMER.CREATE.KV_VELOCITY.watch", func(ctx context.Context) error {
			_, err := wk.js.CreateOrUpdateConsumer(ctx, "KV_VELOCITY", jetstream.ConsumerConfig{Name: "watch"})
			return err
		})
		assert.Empty(t, s.logs.matching(violationsOfConn("fraudscore-worker")))
	})

	t.Run("labeller may publish labels and nothing else, nor read anything", func(t *testing.T) {
		lab.denySubscribe(t, contracts.SubjectVerdicts, "")
		lab.denySubscribe(t, contracts.SubjectLabels, "")
		lab.denySubscribe(t, contracts.SubjectTransactions, "")
		lab.denySubscribe(t, "_INBOX.>", "")
		lab.denyPublish(t, "fraud.verdicts.approve")
		lab.denyPublish(t, "payments.transactions.card")
		lab.denyPublish(t, contracts.SubjectScore)
		lab.denyPublish(t, "$KV.LABEL_STATE.forged") // the join's state is the worker's
		denyJS(t, lab, "$JS.API.STREAM.INFO.VERDICTS", func(ctx context.Context) error {
			_, err := lab.js.Stream(ctx, "VERDICTS")
			return err
		})
		denyJS(t, lab, "$JS.API.STREAM.INFO.LABELS", func(ctx context.Context) error {
			_, err := lab.js.Stream(ctx, "LABELS")
			return err
		})
		denyJS(t, lab, "$JS.API.STREAM.PURGE.LABELS", func(ctx context.Context) error {
			return purge(ctx, lab, "LABELS")
		})
		denyJS(t, lab, "$JS.API.DIRECT.GET.KV_VERDICT_INDEX.$KV.VERDICT_INDEX.x", func(ctx context.Context) error {
			_, err := lab.RequestWithContext(ctx, "$JS.API.DIRECT.GET.KV_VERDICT_INDEX.$KV.VERDICT_INDEX.x", nil)
			return err
		})
	})

	t.Run("publisher may not label, dashboard may not read labels or the archive", func(t *testing.T) {
		pub.denyPublish(t, contracts.LabelSubject(contracts.SourceChargeback))
		pub.denyPublish(t, "fraud.archive.card")
		dash.denySubscribe(t, contracts.SubjectArchive, "")
		dash.denySubscribe(t, contracts.SubjectLabels, "")
		dash.denyPublish(t, contracts.LabelSubject(contracts.SourceReview))
		denyJS(t, dash, "$JS.API.STREAM.INFO.ARCHIVE", func(ctx context.Context) error {
			_, err := dash.js.Stream(ctx, "ARCHIVE")
			return err
		})
		denyJS(t, dash, "$JS.API.DIRECT.GET.ARCHIVE", func(ctx context.Context) error {
			_, err := dash.RequestWithContext(ctx, "$JS.API.DIRECT.GET.ARCHIVE", []byte(`{"seq":1}`))
			return err
		})
		denyJS(t, dash, "$JS.API.STREAM.INFO.KV_VELOCITY", func(ctx context.Context) error {
			_, err := dash.js.KeyValue(ctx, "VELOCITY")
			return err
		})
	})
}
