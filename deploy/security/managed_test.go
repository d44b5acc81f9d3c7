package security

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker"
)

// createTopology creates the worker's streams and consumers as ops, the way
// deploy/jetstream does where the worker may not; mutate adjusts them.
func createTopology(t *testing.T, ops *client, mutate func(streams []jetstream.StreamConfig, cons *jetstream.ConsumerConfig)) {
	t.Helper()
	cfg := worker.DefaultConfig() // a worker started without FRAUDSCORE_* variables
	streams := worker.StreamConfigs(&cfg)
	cons := worker.ConsumerConfig(&cfg)
	if mutate != nil {
		mutate(streams, &cons)
	}
	ctx := ctxT(t, 10*time.Second)
	for _, sc := range streams {
		_, err := ops.js.CreateStream(ctx, sc)
		require.NoError(t, err, "ops creates stream %s", sc.Name)
	}
	_, err := ops.js.CreateConsumer(ctx, cfg.Stream, cons)
	require.NoError(t, err)
	_, err = ops.js.CreateConsumer(ctx, cfg.AdvisoryStream, worker.AdvisoryConsumerConfig(&cfg))
	require.NoError(t, err)
}

// TestManagedTopologyWorker: with streams and consumers created by ops, the
// worker-managed-topology user runs the full pipeline, including the
// max-deliveries path (read and delete the input, dead letter), without a
// violation, and may not create or change the topology.
func TestManagedTopologyWorker(t *testing.T) {
	e := render(t, tlsOff)
	s := e.start(t)
	ops := e.mustConnect(t, s.url, "ops")
	const room = 3 // verdicts the VERDICTS stream takes before refusing more
	createTopology(t, ops, func(streams []jetstream.StreamConfig, cons *jetstream.ConsumerConfig) {
		for i := range streams {
			if streams[i].Name == "VERDICTS" {
				streams[i].MaxMsgs, streams[i].Discard = room, jetstream.DiscardNew
			}
		}
		cons.AckWait, cons.MaxDeliver, cons.BackOff = 2*time.Second, 2, nil
	})

	w := startWorker(t, e.workerEnv(t, s.url, "worker-managed-topology",
		"FRAUDSCORE_ENSURE_TOPOLOGY=false", "FRAUDSCORE_NAK_DELAY=100ms", "FRAUDSCORE_NAK_DELAY_MAX=200ms"))
	w.waitReady(t)

	pub := e.mustConnect(t, s.url, "publisher")
	evs := events("managed-", room+2)
	for i := range evs {
		publishTx(t, pub, mustJSON(t, &evs[i]))
	}
	// room verdicts stored; the rest could not be stored, were redelivered
	// MaxDeliver times, and moved to dead letters by the advisory handler:
	// GetMsg and DeleteMsg on TRANSACTIONS, publish to fraud.dlq.
	waitStreamMsgs(t, ops.js, "VERDICTS", room)
	waitStreamMsgs(t, ops.js, "FRAUD_DLQ", 2)
	waitStreamMsgs(t, ops.js, "TRANSACTIONS", 0)
	dlq, err := ops.js.Stream(ctxT(t, 5*time.Second), "FRAUD_DLQ")
	require.NoError(t, err)
	last, err := dlq.GetLastMsgForSubject(ctxT(t, 5*time.Second), contracts.SubjectDeadLettersPrefix+contracts.ReasonMaxDeliveries)
	require.NoError(t, err)
	assert.Equal(t, contracts.ReasonMaxDeliveries, last.Header.Get(contracts.HeaderDLQReason))

	resp, err := pub.Request(contracts.SubjectScore, mustJSON(t, &evs[0]), 5*time.Second)
	require.NoError(t, err)
	var vd contracts.Verdict
	require.NoError(t, contracts.DecodeVerdict(resp.Data, &vd))
	assert.Equal(t, evs[0].TransactionID, vd.TransactionID)

	assert.Empty(t, s.logs.matching(violationsOfConn("fraudscore-worker")), "the worker process needed a permission it lacks")
	require.NoError(t, w.stop())

	// The same user may not create or change streams and consumers.
	wm := e.mustConnect(t, s.url, "worker-managed-topology")
	cfg := worker.DefaultConfig()
	denyJS(t, wm, "$JS.API.STREAM.UPDATE.TRANSACTIONS", func(ctx context.Context) error {
		sc := worker.StreamConfigs(&cfg)[0]
		sc.Subjects = []string{">"}
		_, err := wm.js.UpdateStream(ctx, sc)
		return err
	})
	denyJS(t, wm, "$JS.API.STREAM.CREATE.FRAUD_DLQ", func(ctx context.Context) error {
		_, err := wm.js.CreateStream(ctx, worker.StreamConfigs(&cfg)[2])
		return err
	})
	denyJS(t, wm, "$JS.API.CONSUMER.CREATE.TRANSACTIONS.fraudscore", func(ctx context.Context) error {
		cc := worker.ConsumerConfig(&cfg)
		cc.MaxDeliver = -1
		_, err := wm.js.CreateOrUpdateConsumer(ctx, "TRANSACTIONS", cc)
		return err
	})
	assert.Empty(t, s.logs.matching(violationsOfConn("fraudscore-worker")))
}

// TestConsumerCreationBypassesPublishPermissions shows why the dashboard may
// not create consumers (ADR 0010): a user whose only rights are to read
// VERDICTS through consumers (the ordered-consumer permission set) creates a
// push consumer whose deliver subject is payments.transactions.injected, and
// the server publishes verdicts there, to every subscriber of that subject,
// although the user may not publish to it. If a server release starts checking deliver subjects, this test
// fails and the dashboard's permissions can be revisited.
func TestConsumerCreationBypassesPublishPermissions(t *testing.T) {
	e := render(t, tlsOff)
	// A test-only user with the rejected dashboard design: consumers on
	// VERDICTS, no publish permission outside the JetStream API.
	accounts := filepath.Join(e.dir, "accounts.conf")
	b, err := os.ReadFile(accounts)
	require.NoError(t, err)
	spy := `    users: [
      {
        include ./users/spy.conf
        permissions: {
          publish: { allow: ["$JS.API.STREAM.INFO.VERDICTS", "$JS.API.CONSUMER.CREATE.VERDICTS.>", "$JS.API.CONSUMER.MSG.NEXT.VERDICTS.*", "$JS.API.CONSUMER.DELETE.VERDICTS.*"] }
          subscribe: { allow: ["fraud.verdicts.>", "_INBOX_spy.>"] }
        }
      }
`
	require.Equal(t, 1, strings.Count(string(b), "    users: [\n"))
	writeFile(t, accounts, strings.Replace(string(b), "    users: [\n", spy, 1))
	e.passwords["spy"] = randomSecret(t)
	inboxPrefix["spy"] = "_INBOX_spy"
	t.Cleanup(func() { delete(inboxPrefix, "spy") })
	h, err := bcrypt.GenerateFromPassword([]byte(e.passwords["spy"]), 6)
	require.NoError(t, err)
	writeFile(t, filepath.Join(e.dir, "users", "spy.conf"), fmt.Sprintf("user: spy\npassword: %q\n", h))

	s := e.start(t)
	ops := e.mustConnect(t, s.url, "ops")
	createTopology(t, ops, nil)
	_, err = ops.js.Publish(ctxT(t, 5*time.Second), "fraud.verdicts.approve", []byte(`{"forged":"by ops for the test"}`))
	require.NoError(t, err)

	// Someone in the account listens on a transaction subject (an audit
	// service, a second consumer of payment events).
	listener, err := ops.SubscribeSync("payments.transactions.injected")
	require.NoError(t, err)
	require.NoError(t, ops.Flush())

	sp := e.mustConnect(t, s.url, "spy")
	sp.denyPublish(t, "payments.transactions.injected") // it really may not publish there
	_, err = sp.js.CreateOrUpdateConsumer(ctxT(t, 5*time.Second), "VERDICTS", jetstream.ConsumerConfig{
		Name: "spy", DeliverSubject: "payments.transactions.injected", AckPolicy: jetstream.AckNonePolicy,
	})
	require.NoError(t, err, "creating a push consumer is allowed by the consumer-create permission")
	m, err := listener.NextMsg(5 * time.Second)
	require.NoError(t, err, "the server delivered nothing to the deliver subject")
	// Routed to the deliver subject's subscribers (the MSG line keeps the
	// stored subject, as for every push delivery).
	assert.Equal(t, "payments.transactions.injected", m.Sub.Subject)
	assert.Contains(t, string(m.Data), "forged")
}
