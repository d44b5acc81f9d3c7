package security

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/synthetic"
)

// events generates n valid transactions stamped now.
func events(prefix string, n int) []contracts.TransactionEvent {
	g := synthetic.New(synthetic.Config{Seed: 7, Now: time.Now, IDPrefix: prefix})
	out := make([]contracts.TransactionEvent, n)
	for i := range out {
		out[i], _ = g.Next()
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// publishTx publishes a transaction as the publisher through JetStream and
// requires the TRANSACTIONS stream's PubAck.
func publishTx(t *testing.T, c *client, data []byte) {
	t.Helper()
	ack, err := c.js.Publish(ctxT(t, 5*time.Second), contracts.SubjectTransactionsPrefix+"card", data)
	require.NoError(t, err)
	require.Equal(t, "TRANSACTIONS", ack.Stream)
}

// denyJS runs a JetStream API call that the server must refuse: the call
// fails (the request never reaches JetStream, so no reply comes) and the
// server reports a publish permissions violation on the API subject.
func denyJS(t *testing.T, c *client, apiSubject string, call func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 750*time.Millisecond)
	defer cancel()
	require.Error(t, call(ctx), "JetStream API %s must fail", apiSubject)
	c.expectViolation(t, "publish", apiSubject)
}

func waitStreamMsgs(t *testing.T, js jetstream.JetStream, stream string, want uint64) {
	t.Helper()
	var got uint64
	require.Eventually(t, func() bool {
		s, err := js.Stream(ctxT(t, 2*time.Second), stream)
		if err != nil {
			return false
		}
		info, err := s.Info(ctxT(t, 2*time.Second))
		if err != nil {
			return false
		}
		got = info.State.Msgs
		return got == want
	}, 20*time.Second, 50*time.Millisecond, "stream %s: want %d messages", stream, want)
}

// TestLeastPrivilege runs the whole system on the real configuration: a
// fraudscore worker process as `worker`, a payment system as `publisher`, a
// dashboard as `dashboard`. Everything each role needs works without a
// single permissions violation; everything else is refused by the server.
func TestLeastPrivilege(t *testing.T) {
	e := render(t, tlsOff)
	s := e.start(t)

	// Fail closed: no anonymous access, no wrong password.
	_, err := connectRetry(s.url, nats.MaxReconnects(0))
	require.ErrorIs(t, err, nats.ErrAuthorization, "anonymous connection")
	_, err = connectRetry(s.url, nats.UserInfo("publisher", "wrong-"+e.passwords["publisher"]), nats.MaxReconnects(0))
	require.ErrorIs(t, err, nats.ErrAuthorization, "wrong password")

	w := startWorker(t, e.workerEnv(t, s.url, "worker", "FRAUDSCORE_LOG_LEVEL=debug"))
	w.waitReady(t)

	pub := e.mustConnect(t, s.url, "publisher")
	dash := e.mustConnect(t, s.url, "dashboard")
	ops := e.mustConnect(t, s.url, "ops")

	const n = 20
	evs := events("sec-", n)
	secrets := []string{e.passwords["worker"]}
	for i := range evs {
		evs[i].CardToken = fmt.Sprintf("tok_canary_%02d_%s", i, randomSecret(t)[3:15])
		secrets = append(secrets, evs[i].CardToken)
	}

	t.Run("publisher transactions are scored into VERDICTS, dashboard reads them live", func(t *testing.T) {
		live, err := dash.SubscribeSync(contracts.SubjectVerdicts)
		require.NoError(t, err)
		require.NoError(t, dash.Flush())
		for i := range evs {
			publishTx(t, pub, mustJSON(t, &evs[i]))
		}
		seen := map[string]contracts.Decision{}
		deadline := time.Now().Add(20 * time.Second)
		for len(seen) < n && time.Now().Before(deadline) {
			m, err := live.NextMsg(time.Until(deadline))
			require.NoError(t, err, "dashboard live verdicts (%d of %d)", len(seen), n)
			var vd contracts.Verdict
			require.NoError(t, contracts.DecodeVerdict(m.Data, &vd))
			assert.Equal(t, contracts.VerdictSubject(contracts.SubjectVerdictsPrefix, vd.Decision), m.Subject)
			seen[vd.TransactionID] = vd.Decision
		}
		for i := range evs {
			assert.Contains(t, seen, evs[i].TransactionID)
		}
		waitStreamMsgs(t, ops.js, "VERDICTS", n)
		waitStreamMsgs(t, ops.js, "TRANSACTIONS", 0)
	})

	t.Run("dashboard reads verdict history without a consumer", func(t *testing.T) {
		vs, err := dash.js.Stream(ctxT(t, 5*time.Second), "VERDICTS")
		require.NoError(t, err)
		info, err := vs.Info(ctxT(t, 5*time.Second))
		require.NoError(t, err)
		require.GreaterOrEqual(t, info.State.Msgs, uint64(n))
		ids := map[string]bool{}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			raw, err := vs.GetMsg(ctxT(t, 5*time.Second), seq)
			require.NoError(t, err)
			var vd contracts.Verdict
			require.NoError(t, contracts.DecodeVerdict(raw.Data, &vd))
			ids[vd.TransactionID] = true
		}
		for i := range evs {
			assert.True(t, ids[evs[i].TransactionID], evs[i].TransactionID)
		}
		last, err := vs.GetLastMsgForSubject(ctxT(t, 5*time.Second), contracts.SubjectVerdicts)
		require.NoError(t, err)
		assert.NotEmpty(t, last.Data)
	})

	t.Run("publisher requests a score", func(t *testing.T) {
		ev := events("sec-req-", 1)[0]
		ev.CardToken = "tok_canary_request_" + randomSecret(t)[3:15]
		secrets = append(secrets, ev.CardToken)
		resp, err := pub.Request(contracts.SubjectScore, mustJSON(t, &ev), 5*time.Second)
		require.NoError(t, err)
		require.Empty(t, resp.Header.Get("Nats-Service-Error"), "error reply: %s", resp.Header)
		var vd contracts.Verdict
		require.NoError(t, contracts.DecodeVerdict(resp.Data, &vd))
		assert.Equal(t, ev.TransactionID, vd.TransactionID)
		assert.True(t, vd.Decision.Valid())

		// An invalid request (with a card token in it) gets an error reply.
		resp, err = pub.Request(contracts.SubjectScore, []byte(`{"card_token":"tok_canary_badreq","amount_minor":`), 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, "400", resp.Header.Get("Nats-Service-Error-Code"))
		secrets = append(secrets, "tok_canary_badreq")
	})

	t.Run("invalid transactions carrying a card token are dead-lettered", func(t *testing.T) {
		bad := events("sec-bad-", 1)[0]
		bad.CardToken = "tok_canary_invalid_" + randomSecret(t)[3:15]
		bad.Currency = "NOT-A-CURRENCY"
		malformed := `{"transaction_id":"sec-malformed","card_token":"tok_canary_malformed","amount_minor":"x"`
		secrets = append(secrets, bad.CardToken, "tok_canary_malformed")
		publishTx(t, pub, mustJSON(t, &bad))
		publishTx(t, pub, []byte(malformed))
		waitStreamMsgs(t, ops.js, "FRAUD_DLQ", 2)
		waitStreamMsgs(t, ops.js, "TRANSACTIONS", 0)
	})

	t.Run("the worker's permissions suffice: no violation while it ran", func(t *testing.T) {
		// Let the backlog poll, the advisory consumer and a pull expiry run.
		time.Sleep(1500 * time.Millisecond)
		info, err := ops.Request("$SRV.INFO.fraudscore", nil, 2*time.Second)
		require.NoError(t, err, "micro discovery through the worker's $SRV permissions")
		assert.Contains(t, string(info.Data), `"name":"fraudscore"`)
		assert.Empty(t, s.logs.matching(violationsOf("worker")))
		assert.Empty(t, s.logs.matching(violationsOfConn("fraudscore-worker")))
		assert.NotContains(t, w.Output(), "nats async error")
	})

	t.Run("publisher may not write verdicts or dead letters, nor read anything", func(t *testing.T) {
		pub.denyPublish(t, "fraud.verdicts.approve")
		pub.denyPublish(t, "fraud.dlq.malformed")
		pub.denySubscribe(t, contracts.SubjectVerdicts, "")
		pub.denySubscribe(t, contracts.SubjectTransactions, "")
		// It may not impersonate the scorer, nor snoop other clients' replies.
		pub.denySubscribe(t, contracts.SubjectScore, "fraudscore")
		pub.denySubscribe(t, "_INBOX.>", "")
		denyJS(t, pub, "$JS.API.STREAM.INFO.VERDICTS", func(ctx context.Context) error {
			_, err := pub.js.Stream(ctx, "VERDICTS")
			return err
		})
		denyJS(t, pub, "$JS.API.STREAM.PURGE.TRANSACTIONS", func(ctx context.Context) error {
			return purge(ctx, pub, "TRANSACTIONS")
		})
		// A JetStream publish of a verdict is refused too (no PubAck).
		ctx, cancel := context.WithTimeout(context.Background(), 750*time.Millisecond)
		defer cancel()
		_, err := pub.js.Publish(ctx, "fraud.verdicts.decline", []byte(`{}`))
		require.Error(t, err)
		pub.expectViolation(t, "publish", "fraud.verdicts.decline")
		// The server logs each refusal with the user (the same log the
		// worker's no-violation check reads).
		assert.GreaterOrEqual(t, len(s.logs.matching(violationsOf("publisher"))), 8)
	})

	t.Run("dashboard may only read verdicts", func(t *testing.T) {
		dash.denyPublish(t, "payments.transactions.card")
		dash.denyPublish(t, "fraud.verdicts.approve")
		dash.denyPublish(t, "fraud.dlq.invalid")
		dash.denyPublish(t, contracts.SubjectScore)
		dash.denySubscribe(t, contracts.SubjectTransactions, "")
		dash.denySubscribe(t, contracts.SubjectDeadLetters, "")
		dash.denySubscribe(t, "_INBOX.>", "")
		denyJS(t, dash, "$JS.API.STREAM.DELETE.VERDICTS", func(ctx context.Context) error {
			return dash.js.DeleteStream(ctx, "VERDICTS")
		})
		denyJS(t, dash, "$JS.API.STREAM.PURGE.VERDICTS", func(ctx context.Context) error {
			return purge(ctx, dash, "VERDICTS")
		})
		denyJS(t, dash, "$JS.API.STREAM.MSG.DELETE.VERDICTS", func(ctx context.Context) error {
			vs, err := dash.js.Stream(ctx, "VERDICTS")
			if err != nil {
				return err
			}
			return vs.DeleteMsg(ctx, 1)
		})
		// No consumers: a push consumer's deliver subject is not checked
		// against its creator's permissions (TestConsumerCreationBypassesPublishPermissions).
		denyJS(t, dash, "$JS.API.CONSUMER.CREATE.VERDICTS.spy", func(ctx context.Context) error {
			_, err := dash.js.CreateOrUpdateConsumer(ctx, "VERDICTS", jetstream.ConsumerConfig{Name: "spy"})
			return err
		})
		denyJS(t, dash, "$JS.API.STREAM.INFO.TRANSACTIONS", func(ctx context.Context) error {
			_, err := dash.js.Stream(ctx, "TRANSACTIONS")
			return err
		})
	})

	t.Run("worker may not publish transactions, steal requests or destroy streams", func(t *testing.T) {
		wk := e.mustConnect(t, s.url, "worker")
		wk.denyPublish(t, "payments.transactions.card")
		wk.denyPublish(t, contracts.SubjectScore)
		wk.denySubscribe(t, contracts.SubjectTransactions, "")
		// Only in the queue group: a plain subscriber would see every request.
		wk.denySubscribe(t, contracts.SubjectScore, "")
		wk.denySubscribe(t, contracts.SubjectScore, "thief")
		// Replies: its own inbox prefix only, not the default one or others'.
		wk.denySubscribe(t, "_INBOX.>", "")
		wk.denySubscribe(t, "_INBOX_publisher.>", "")
		denyJS(t, wk, "$JS.API.STREAM.DELETE.TRANSACTIONS", func(ctx context.Context) error {
			return wk.js.DeleteStream(ctx, "TRANSACTIONS")
		})
		denyJS(t, wk, "$JS.API.STREAM.PURGE.VERDICTS", func(ctx context.Context) error {
			return purge(ctx, wk, "VERDICTS")
		})
		denyJS(t, wk, "$JS.API.STREAM.MSG.DELETE.VERDICTS", func(ctx context.Context) error {
			return deleteMsgRaw(ctx, wk, "VERDICTS", 1)
		})
		denyJS(t, wk, "$JS.API.CONSUMER.DELETE.TRANSACTIONS.fraudscore", func(ctx context.Context) error {
			return wk.js.DeleteConsumer(ctx, "TRANSACTIONS", "fraudscore")
		})
		denyJS(t, wk, "$JS.API.CONSUMER.CREATE.TRANSACTIONS.thief", func(ctx context.Context) error {
			_, err := wk.js.CreateOrUpdateConsumer(ctx, "TRANSACTIONS", jetstream.ConsumerConfig{Durable: "thief", AckPolicy: jetstream.AckExplicitPolicy})
			return err
		})
		denyJS(t, wk, "$JS.API.STREAM.CREATE.EXFIL", func(ctx context.Context) error {
			_, err := wk.js.CreateStream(ctx, jetstream.StreamConfig{Name: "EXFIL", Subjects: []string{"payments.transactions.>"}})
			return err
		})
		// These refusals were by the test's own worker-user connection, not
		// by the worker process.
		assert.NotEmpty(t, s.logs.matching(violationsOf("worker")))
		assert.Empty(t, s.logs.matching(violationsOfConn("fraudscore-worker")))
	})

	t.Run("no secret and no card token in the worker's logs", func(t *testing.T) {
		require.NoError(t, w.stop(), "graceful stop")
		out := w.Output()
		require.Contains(t, out, `"level":"DEBUG"`, "the worker ran at debug level")
		require.Contains(t, out, `"msg":"dead-lettered"`)
		require.Contains(t, out, `"msg":"verdict stored"`)
		for _, s := range secrets {
			assert.NotContains(t, out, s, "a secret or card token was logged")
		}
		assert.NotContains(t, out, "tok_canary", "no card token at all")
	})
}

// purge sends a raw purge request (the jetstream.Stream handle would need
// STREAM.INFO first, which is refused earlier for some users).
func purge(ctx context.Context, c *client, stream string) error {
	_, err := c.RequestWithContext(ctx, "$JS.API.STREAM.PURGE."+stream, []byte(`{}`))
	return err
}

func deleteMsgRaw(ctx context.Context, c *client, stream string, seq uint64) error {
	_, err := c.RequestWithContext(ctx, "$JS.API.STREAM.MSG.DELETE."+stream, fmt.Appendf(nil, `{"seq":%d}`, seq))
	return err
}
