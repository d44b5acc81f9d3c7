package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
)

// Trace contexts of the tests: the W3C example and a second trace, neither
// with a digit run that could pass for a card number.
const (
	traceA     = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traceB     = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	traceState = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
)

// publishTraced publishes data on subject with the given trace headers
// (none when traceparent is "").
func publishTraced(t *testing.T, js jetstream.JetStream, subject string, data []byte, traceparent, tracestate string) {
	t.Helper()
	m := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	if traceparent != "" {
		m.Header.Set(contracts.HeaderTraceparent, traceparent)
	}
	if tracestate != "" {
		m.Header.Set(contracts.HeaderTracestate, tracestate)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := js.PublishMsg(ctx, m)
	require.NoError(t, err)
}

// assertContinues checks that hdr carries a traceparent continuing the
// incoming one: same trace id and flags, fraudscore's own span id as
// parent, and the incoming tracestate.
func assertContinues(t *testing.T, what string, hdr nats.Header, incoming, state string) {
	t.Helper()
	in, err := contracts.ParseTraceparent(incoming)
	require.NoError(t, err)
	require.Len(t, hdr.Values(contracts.HeaderTraceparent), 1, "%s: traceparent headers %v", what, hdr)
	out, err := contracts.ParseTraceparent(hdr.Get(contracts.HeaderTraceparent))
	require.NoError(t, err, what)
	assert.Equal(t, in.TraceID, out.TraceID, "%s: trace id", what)
	assert.Equal(t, in.Flags, out.Flags, "%s: flags", what)
	assert.NotEqual(t, in.ParentID, out.ParentID, "%s: parent id must be fraudscore's span, not the caller's", what)
	assert.Equal(t, state, hdr.Get(contracts.HeaderTracestate), "%s: tracestate", what)
}

// A traceparent on a transaction reaches its verdict (read from VERDICTS by
// transaction id) and its dead letter (from FRAUD_DLQ); a malformed one is
// ignored without harm (the verdict is stored, with no trace header); a
// transaction without one gets none.
func TestTraceContextOnStreamPath(t *testing.T) {
	cfg := testConfig(t)
	s := natstest.Start(t)
	defer s.Shutdown()
	startWorker(t, s.ClientURL(), cfg, nil)
	_, js := connect(t, s.ClientURL())

	evs := events(21, 4)
	payload := func(i int) []byte { b, _ := json.Marshal(&evs[i]); return b }
	publishTraced(t, js, testSubject, payload(0), traceA, traceState)
	publishTraced(t, js, testSubject, payload(1), traceB, "")
	publishTraced(t, js, testSubject, payload(2), "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", traceState) // uppercase: invalid
	publishTraced(t, js, testSubject, payload(3), "", "")
	publishTraced(t, js, testSubject, []byte("{not json"), traceA, traceState)

	waitCount(t, js, cfg.VerdictStream, 4, 30*time.Second)
	waitCount(t, js, cfg.DLQStream, 1, 30*time.Second)
	byID := map[string]nats.Header{}
	for _, m := range streamMsgs(t, js, cfg.VerdictStream) {
		byID[m.Headers().Get(contracts.HeaderMsgID)] = m.Headers()
	}
	require.Len(t, byID, 4)
	assertContinues(t, "verdict", byID[evs[0].TransactionID], traceA, traceState)
	assertContinues(t, "unsampled verdict", byID[evs[1].TransactionID], traceB, "")
	for _, i := range []int{2, 3} {
		h := byID[evs[i].TransactionID]
		require.NotNil(t, h, evs[i].TransactionID)
		assert.Empty(t, h.Values(contracts.HeaderTraceparent), "no trace header without a valid incoming one")
		assert.Empty(t, h.Values(contracts.HeaderTracestate), "a tracestate without a valid traceparent is dropped")
	}
	dl := streamMsgs(t, js, cfg.DLQStream)
	require.Len(t, dl, 1)
	require.Equal(t, contracts.ReasonMalformed, dl[0].Headers().Get(contracts.HeaderDLQReason))
	assertContinues(t, "dead letter", dl[0].Headers(), traceA, traceState)
}

// A transaction that fails scoring MaxDeliver times is moved to the dead
// letters by the advisory path, which reads it back from the stream: its
// traceparent goes with it.
func TestTraceContextOnMaxDeliveries(t *testing.T) {
	cfg := testConfig(t)
	s := natstest.Start(t)
	defer s.Shutdown()
	ev := events(22, 1)[0]
	startWorker(t, s.ClientURL(), cfg, &failingScorer{inner: newScorer(t), prefix: ev.TransactionID})
	_, js := connect(t, s.ClientURL())
	data, _ := json.Marshal(&ev)
	publishTraced(t, js, testSubject, data, traceA, traceState)

	waitCount(t, js, cfg.DLQStream, 1, 60*time.Second)
	dl := streamMsgs(t, js, cfg.DLQStream)
	require.Equal(t, contracts.ReasonMaxDeliveries, dl[0].Headers().Get(contracts.HeaderDLQReason))
	assertContinues(t, "max-deliveries dead letter", dl[0].Headers(), traceA, traceState)
}

// A traceparent on a fraud.score request reaches the reply, its audit copy
// in VERDICTS, and an error reply; a malformed one is ignored.
func TestTraceContextOnRequestReply(t *testing.T) {
	cfg := testConfig(t)
	s := natstest.Start(t)
	defer s.Shutdown()
	startWorker(t, s.ClientURL(), cfg, nil)
	nc, js := connect(t, s.ClientURL())
	ask := func(data []byte, traceparent string) *nats.Msg {
		t.Helper()
		m := &nats.Msg{Subject: contracts.SubjectScore, Data: data, Header: nats.Header{}}
		if traceparent != "" {
			m.Header.Set(contracts.HeaderTraceparent, traceparent)
			m.Header.Set(contracts.HeaderTracestate, traceState)
		}
		resp, err := nc.RequestMsg(m, 5*time.Second)
		require.NoError(t, err)
		return resp
	}
	evs := events(23, 2)
	data, _ := json.Marshal(&evs[0])
	resp := ask(data, traceA)
	require.Empty(t, resp.Header.Get(micro.ErrorCodeHeader))
	assertContinues(t, "reply", resp.Header, traceA, traceState)
	waitCount(t, js, cfg.VerdictStream, 1, 10*time.Second)
	audit := streamMsgs(t, js, cfg.VerdictStream)[0]
	assertContinues(t, "audit copy", audit.Headers(), traceA, traceState)
	assert.Equal(t, resp.Header.Get(contracts.HeaderTraceparent), audit.Headers().Get(contracts.HeaderTraceparent),
		"the reply and its audit copy come from one span")

	bad := ask([]byte("{nope"), traceA)
	require.Equal(t, "400", bad.Header.Get(micro.ErrorCodeHeader))
	assertContinues(t, "error reply", bad.Header, traceA, traceState)

	data, _ = json.Marshal(&evs[1])
	resp = ask(data, "00-zz-not-a-trace")
	require.Empty(t, resp.Header.Get(micro.ErrorCodeHeader), "a malformed traceparent does not fail the request")
	assert.Empty(t, resp.Header.Values(contracts.HeaderTraceparent))
	assert.Empty(t, resp.Header.Values(contracts.HeaderTracestate))
}

// A valid traceparent is an identifier, not card data, even when its hex
// ids hold a digit run that passes the Luhn check (about 1 random trace id
// in 230 does): the transaction is scored, not refused, and the dead letter
// of a malformed one keeps its traceparent unmasked and is not marked
// redacted.
func TestTraceparentIsNotCardData(t *testing.T) {
	const panLike = "00-4111111111111111abcdefabcdefabcd-00f067aa0ba902b7-01"
	require.True(t, contracts.LooksLikePAN(panLike), "the test needs a traceparent that looks like a card number")
	cfg := testConfig(t)
	s := natstest.Start(t)
	defer s.Shutdown()
	startWorker(t, s.ClientURL(), cfg, nil)
	_, js := connect(t, s.ClientURL())
	ev := events(24, 1)[0]
	data, _ := json.Marshal(&ev)
	publishTraced(t, js, testSubject, data, panLike, "")
	publishTraced(t, js, testSubject, []byte("{not json"), panLike, "")

	waitCount(t, js, cfg.VerdictStream, 1, 30*time.Second)
	waitCount(t, js, cfg.DLQStream, 1, 30*time.Second)
	vds := streamMsgs(t, js, cfg.VerdictStream)
	require.Equal(t, ev.TransactionID, vds[0].Headers().Get(contracts.HeaderMsgID))
	assertContinues(t, "verdict", vds[0].Headers(), panLike, "")
	dl := streamMsgs(t, js, cfg.DLQStream)
	require.Len(t, dl, 1, "only the malformed input is dead-lettered")
	assert.Equal(t, contracts.ReasonMalformed, dl[0].Headers().Get(contracts.HeaderDLQReason))
	assertContinues(t, "dead letter", dl[0].Headers(), panLike, "")
	assert.Empty(t, dl[0].Headers().Get(contracts.HeaderRedacted))
}
