package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/internal/testenv/otlptest"
	"github.com/fraudscore/fraudscore/worker/tracing"
)

const (
	incomingTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	incomingTS = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
)

func mustParse(t testing.TB, s string) contracts.TraceParent {
	t.Helper()
	tp, err := contracts.ParseTraceparent(s)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// outgoing injects s into empty headers and returns them.
func outgoing(s *tracing.Span) map[string][]string {
	h := map[string][]string{}
	s.Inject(h)
	return h
}

func TestContinueWithoutExport(t *testing.T) {
	var tr *tracing.Tracer // export off: the default
	in := mustParse(t, incomingTP)
	for _, key := range []string{contracts.HeaderTraceparent, "Traceparent"} {
		stateKey := contracts.HeaderTracestate
		if key != contracts.HeaderTraceparent {
			stateKey = "Tracestate"
		}
		sp := tr.Start(map[string][]string{key: {incomingTP}, stateKey: {incomingTS}}, tracing.Transaction, "payments.transactions.card")
		if !sp.Traced() {
			t.Fatalf("%s: not traced", key)
		}
		h := outgoing(&sp)
		out := mustParse(t, h[contracts.HeaderTraceparent][0])
		if out.TraceID != in.TraceID || out.Flags != in.Flags {
			t.Errorf("%s: out %s does not continue %s", key, out, in)
		}
		if out.ParentID == in.ParentID {
			t.Errorf("%s: out %s kept the caller's span id: fraudscore's own is expected", key, out)
		}
		if got := h[contracts.HeaderTracestate]; len(got) != 1 || got[0] != incomingTS {
			t.Errorf("%s: tracestate %q, want %q", key, got, incomingTS)
		}
		sp.End(tracing.Outcome{TransactionID: "t1"}) // a no-op without export
	}
	// Two messages of one trace get different span ids.
	a := tr.Start(map[string][]string{contracts.HeaderTraceparent: {incomingTP}}, tracing.Request, "fraud.score")
	b := tr.Start(map[string][]string{contracts.HeaderTraceparent: {incomingTP}}, tracing.Request, "fraud.score")
	if a.Traceparent().ParentID == b.Traceparent().ParentID {
		t.Error("two spans share a span id")
	}
}

// A malformed traceparent (or two of them) is ignored: nothing is emitted,
// its tracestate is dropped with it, and nothing breaks.
func TestMalformedTraceparentIgnored(t *testing.T) {
	var tr *tracing.Tracer
	for name, tp := range map[string][]string{
		"uppercase":  {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"},
		"zero trace": {"00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
		"garbage":    {"not a traceparent"},
		"empty":      {""},
		"repeated":   {incomingTP, incomingTP},
	} {
		sp := tr.Start(map[string][]string{contracts.HeaderTraceparent: tp, contracts.HeaderTracestate: {incomingTS}}, tracing.Transaction, "s")
		if sp.Traced() {
			t.Errorf("%s: traced", name)
		}
		if h := outgoing(&sp); len(h) != 0 {
			t.Errorf("%s: injected %v", name, h)
		}
	}
}

// A tracestate that looks like a card number is dropped: the trace goes
// on, the card number is never echoed.
func TestTracestateWithCardNumberDropped(t *testing.T) {
	var tr *tracing.Tracer
	sp := tr.Start(map[string][]string{contracts.HeaderTraceparent: {incomingTP},
		contracts.HeaderTracestate: {"rojo=1", "pan=4111111111111111"}}, tracing.Transaction, "s")
	h := outgoing(&sp)
	if len(h[contracts.HeaderTraceparent]) != 1 {
		t.Fatal("the trace is not continued")
	}
	if v, ok := h[contracts.HeaderTracestate]; ok {
		t.Fatalf("tracestate %q carried", v)
	}
}

func TestCanonicalHeaderNames(t *testing.T) {
	for _, name := range []string{contracts.HeaderTraceparent, contracts.HeaderTracestate} {
		h := map[string][]string{textproto.CanonicalMIMEHeaderKey(name): {incomingTP}}
		if name == contracts.HeaderTracestate {
			h = map[string][]string{"Traceparent": {incomingTP}, textproto.CanonicalMIMEHeaderKey(name): {incomingTS}}
		}
		var tr *tracing.Tracer
		sp := tr.Start(h, tracing.Transaction, "s")
		if !sp.Traced() {
			t.Fatalf("canonical %s not read", name)
		}
		if name == contracts.HeaderTracestate && len(outgoing(&sp)[contracts.HeaderTracestate]) != 1 {
			t.Fatalf("canonical %s not carried", name)
		}
	}
}

// Without export and without a traceparent, a message costs no allocation:
// the hot path is what it was before tracing.
func TestNoTraceparentNoAllocation(t *testing.T) {
	var tr *tracing.Tracer
	hdr := map[string][]string{contracts.HeaderMsgID: {"t1"}}
	out := map[string][]string{contracts.HeaderMsgID: {"t1"}}
	n := testing.AllocsPerRun(1000, func() {
		sp := tr.Start(hdr, tracing.Transaction, "payments.transactions.card")
		sp.Inject(out)
		sp.End(tracing.Outcome{TransactionID: "t1", Decision: "approve"})
	})
	if n != 0 {
		t.Fatalf("%v allocations per message", n)
	}
	if len(out) != 1 {
		t.Fatalf("headers added: %v", out)
	}
}

func TestFromEnvOffByDefault(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"nothing set":       {},
		"exporter none":     {tracing.EnvEndpoint: "http://127.0.0.1:1", tracing.EnvTracesExporter: "none"},
		"sdk disabled":      {tracing.EnvTracesEndpoint: "http://127.0.0.1:1", tracing.EnvSDKDisabled: "true"},
		"protocol, no host": {tracing.EnvProtocol: "http/protobuf"},
	} {
		t.Run(name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			tr, err := tracing.FromEnv(context.Background(), "fraudscore", "test")
			if err != nil || tr.Exporting() {
				t.Fatalf("FromEnv = %v, %v; want off", tr, err)
			}
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFromEnvRefusesWhatItCannotDo(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"grpc":            {tracing.EnvEndpoint: "http://127.0.0.1:1", tracing.EnvProtocol: "grpc"},
		"traces grpc":     {tracing.EnvEndpoint: "http://127.0.0.1:1", tracing.EnvTracesProtocol: "grpc"},
		"zipkin exporter": {tracing.EnvEndpoint: "http://127.0.0.1:1", tracing.EnvTracesExporter: "zipkin"},
	} {
		t.Run(name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			tr, err := tracing.FromEnv(context.Background(), "fraudscore", "test")
			if !errors.Is(err, tracing.ErrConfig) || tr != nil {
				t.Fatalf("FromEnv = %v, %v; want ErrConfig", tr, err)
			}
		})
	}
}

// clearEnv unsets, for this test, every OpenTelemetry variable the
// environment might carry.
func clearEnv(t *testing.T) {
	for _, k := range []string{tracing.EnvEndpoint, tracing.EnvTracesEndpoint, tracing.EnvProtocol, tracing.EnvTracesProtocol,
		tracing.EnvTracesExporter, tracing.EnvSDKDisabled, "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME",
		"OTEL_RESOURCE_ATTRIBUTES"} {
		t.Setenv(k, "")
	}
}

// exporting starts a receiver and a Tracer exporting to it.
func exporting(t *testing.T, env map[string]string) (*tracing.Tracer, *otlptest.Receiver) {
	t.Helper()
	clearEnv(t)
	rcv := otlptest.Start(t)
	t.Setenv(tracing.EnvEndpoint, rcv.URL())
	for k, v := range env {
		t.Setenv(k, v)
	}
	tr, err := tracing.FromEnv(context.Background(), "fraudscore", "test")
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Exporting() {
		t.Fatal("export not enabled by " + tracing.EnvEndpoint)
	}
	return tr, rcv
}

// The exported span is a child of the incoming traceparent, and its span id
// is the parent id the outgoing messages carry.
func TestExportContinuesTheTrace(t *testing.T) {
	tr, rcv := exporting(t, nil)
	in := mustParse(t, incomingTP)
	sp := tr.Start(map[string][]string{contracts.HeaderTraceparent: {incomingTP}, contracts.HeaderTracestate: {incomingTS}},
		tracing.Transaction, "payments.transactions.card")
	out := mustParse(t, outgoing(&sp)[contracts.HeaderTraceparent][0])
	sp.End(tracing.Outcome{TransactionID: "txn_1", Decision: "approve", ModelVersion: "v1"})

	root := tr.Start(nil, tracing.Request, "fraud.score")
	rootOut := mustParse(t, outgoing(&root)[contracts.HeaderTraceparent][0])
	root.End(tracing.Outcome{TransactionID: "txn_2", Code: "400", Error: "bad request"})

	if err := tr.Shutdown(context.Background()); err != nil { // flushes
		t.Fatal(err)
	}
	spans := rcv.WaitSpans(t, 2, 10*time.Second)
	if len(spans) != 2 {
		t.Fatalf("%d spans exported, want 2", len(spans))
	}
	child, newRoot := spans[0], spans[1]
	if string(child.GetName()) != "score transaction" {
		child, newRoot = newRoot, child
	}
	if !bytes.Equal(child.GetTraceId(), in.TraceID[:]) || !bytes.Equal(child.GetParentSpanId(), in.ParentID[:]) {
		t.Errorf("span trace %x parent %x; want the incoming %s", child.GetTraceId(), child.GetParentSpanId(), in)
	}
	if !bytes.Equal(child.GetSpanId(), out.ParentID[:]) || out.TraceID != in.TraceID || out.Flags != in.Flags {
		t.Errorf("span id %x; outgoing traceparent %s", child.GetSpanId(), out)
	}
	if child.GetTraceState() != incomingTS {
		t.Errorf("span tracestate %q", child.GetTraceState())
	}
	attrs := map[string]string{}
	for _, kv := range child.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	if attrs["fraudscore.transaction_id"] != "txn_1" || attrs["fraudscore.decision"] != "approve" ||
		attrs["messaging.destination.name"] != "payments.transactions.card" {
		t.Errorf("span attributes %v", attrs)
	}
	// No incoming trace context: a new trace, whose root is fraudscore's span.
	if len(newRoot.GetParentSpanId()) != 0 || !bytes.Equal(newRoot.GetTraceId(), rootOut.TraceID[:]) ||
		!bytes.Equal(newRoot.GetSpanId(), rootOut.ParentID[:]) {
		t.Errorf("root span trace %x span %x parent %x; outgoing %s", newRoot.GetTraceId(), newRoot.GetSpanId(), newRoot.GetParentSpanId(), rootOut)
	}
	if newRoot.GetStatus().GetCode() != 2 { // STATUS_CODE_ERROR
		t.Errorf("error reply's span status %v", newRoot.GetStatus())
	}
}

// OTEL_TRACES_SAMPLER=always_off: nothing is exported, and the trace is
// still continued (with the sampled flag cleared: fraudscore's span was not
// recorded).
func TestExportSamplerFromEnv(t *testing.T) {
	tr, rcv := exporting(t, map[string]string{"OTEL_TRACES_SAMPLER": "always_off"})
	in := mustParse(t, incomingTP)
	sp := tr.Start(map[string][]string{contracts.HeaderTraceparent: {incomingTP}}, tracing.Transaction, "s")
	out := mustParse(t, outgoing(&sp)[contracts.HeaderTraceparent][0])
	sp.End(tracing.Outcome{})
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out.TraceID != in.TraceID || out.ParentID == in.ParentID || out.Sampled() {
		t.Errorf("outgoing %s for incoming %s under always_off", out, in)
	}
	if n := len(rcv.Spans(t)); n != 0 {
		t.Fatalf("%d spans exported under always_off", n)
	}
}

// The SDK's errors reach the worker's structured log: an unknown sampler
// (the SDK falls back to its default) and an export to a receiver that is
// not there.
func TestLogErrors(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	tracing.LogErrors(slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, nil)))
	t.Cleanup(func() { tracing.LogErrors(slog.Default()) })
	clearEnv(t)
	t.Setenv("OTEL_TRACES_SAMPLER", "bogus")
	t.Setenv(tracing.EnvEndpoint, "http://127.0.0.1:1") // nothing listens on port 1
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "500")
	tr, err := tracing.FromEnv(context.Background(), "fraudscore", "test")
	if err != nil {
		t.Fatal(err)
	}
	sp := tr.Start(map[string][]string{contracts.HeaderTraceparent: {incomingTP}}, tracing.Transaction, "s")
	if !sp.Traceparent().Sampled() {
		t.Error("the fallback sampler (parentbased_always_on) did not follow the sampled caller")
	}
	sp.End(tracing.Outcome{})
	_ = tr.Shutdown(context.Background()) // flushes: the export fails
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	for _, want := range []string{`"msg":"opentelemetry"`, "bogus", "127.0.0.1:1"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
