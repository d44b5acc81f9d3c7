package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv"
	"github.com/fraudscore/fraudscore/internal/testenv/natstest"
	"github.com/fraudscore/fraudscore/internal/testenv/otlptest"
	"github.com/fraudscore/fraudscore/synthetic"
	"github.com/fraudscore/fraudscore/worker"
)

// With OTEL_EXPORTER_OTLP_ENDPOINT set, the worker exports a span per
// transaction to a real OTLP/HTTP receiver: the span is a child of the
// transaction's traceparent, and its span id is the parent id the stored
// verdict carries.
func TestWorkerExportsSpans(t *testing.T) {
	rcv := otlptest.Start(t)
	_, _, url := readyWorker(t, "OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.URL(), "OTEL_BSP_SCHEDULE_DELAY=100",
		"OTEL_EXPORTER_OTLP_PROTOCOL=", "OTEL_TRACES_EXPORTER=", "OTEL_SDK_DISABLED=", "OTEL_TRACES_SAMPLER=")
	js := natstest.JetStream(t, url)
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	in, err := contracts.ParseTraceparent(incoming)
	require.NoError(t, err)

	ev := synthEvents(synthetic.Config{Seed: 31, Now: time.Now, IDPrefix: "traced-"}, 1)[0]
	data, _ := json.Marshal(&ev)
	msg := &nats.Msg{Subject: "payments.transactions.test", Data: data, Header: nats.Header{}}
	msg.Header.Set(contracts.HeaderTraceparent, incoming)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.PublishMsg(ctx, msg)
	require.NoError(t, err)

	var verdictTP contracts.TraceParent
	require.Eventually(t, func() bool {
		st, err := js.Stream(ctx, worker.DefaultConfig().VerdictStream)
		if err != nil {
			return false
		}
		m, err := st.GetLastMsgForSubject(ctx, contracts.SubjectVerdicts)
		if err != nil {
			return false
		}
		require.Equal(t, ev.TransactionID, m.Header.Get(contracts.HeaderMsgID))
		verdictTP, err = contracts.ParseTraceparent(m.Header.Get(contracts.HeaderTraceparent))
		require.NoError(t, err, "the verdict's traceparent")
		return true
	}, 30*time.Second, 50*time.Millisecond, "no verdict stored")
	assert.Equal(t, in.TraceID, verdictTP.TraceID)

	spans := rcv.WaitSpans(t, 1, 30*time.Second)
	require.Len(t, spans, 1, "one transaction, one span")
	sp := spans[0]
	assert.Equal(t, in.TraceID[:], sp.GetTraceId(), "trace id")
	assert.Equal(t, in.ParentID[:], sp.GetParentSpanId(), "the caller's span is the parent")
	assert.True(t, bytes.Equal(verdictTP.ParentID[:], sp.GetSpanId()), "the verdict names the exported span as its parent")
	attrs := map[string]string{}
	for _, kv := range sp.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	assert.Equal(t, ev.TransactionID, attrs["fraudscore.transaction_id"])

	// A score request: a server span, child of the request's traceparent,
	// whose id the reply carries.
	const reqTP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	rin, err := contracts.ParseTraceparent(reqTP)
	require.NoError(t, err)
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	ev2 := synthEvents(synthetic.Config{Seed: 32, Now: time.Now, IDPrefix: "traced-req-"}, 1)[0]
	data, _ = json.Marshal(&ev2)
	req := &nats.Msg{Subject: contracts.SubjectScore, Data: data, Header: nats.Header{}}
	req.Header.Set(contracts.HeaderTraceparent, reqTP)
	resp, err := nc.RequestMsg(req, 10*time.Second)
	require.NoError(t, err)
	replyTP, err := contracts.ParseTraceparent(resp.Header.Get(contracts.HeaderTraceparent))
	require.NoError(t, err, "the reply's traceparent")
	require.Equal(t, rin.TraceID, replyTP.TraceID)
	var reqSpan *tracepb.Span
	for _, sp := range rcv.WaitSpans(t, 2, 30*time.Second) {
		if bytes.Equal(sp.GetTraceId(), rin.TraceID[:]) {
			reqSpan = sp
		}
	}
	require.NotNil(t, reqSpan, "no span in the request's trace")
	assert.Equal(t, tracepb.Span_SPAN_KIND_SERVER, reqSpan.GetKind())
	assert.Equal(t, rin.ParentID[:], reqSpan.GetParentSpanId())
	assert.Equal(t, replyTP.ParentID[:], reqSpan.GetSpanId(), "the reply names the exported span as its parent")
}

// An export the worker cannot do is a runtime error: exit 1 with a one-line
// message naming it, before anything starts.
func TestWorkerRefusesGRPCExport(t *testing.T) {
	r := runBin(t, "", []string{"FRAUDSCORE_MODEL_DIR=" + testenv.ModelDir(t), "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_TRACES_EXPORTER=", "OTEL_SDK_DISABLED=", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="}, "worker")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, `OTLP protocol "grpc"`)
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
}
