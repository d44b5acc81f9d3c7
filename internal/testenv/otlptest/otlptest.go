// Package otlptest runs a real OTLP/HTTP trace receiver for tests: an
// httptest server that decodes each export request (protobuf) with the
// OpenTelemetry proto types and keeps the spans.
package otlptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Receiver is an OTLP/HTTP trace receiver.
type Receiver struct {
	srv *httptest.Server

	mu    sync.Mutex
	spans []*tracepb.Span
	bad   []string // requests it could not read
}

// Start starts a receiver that accepts POST /v1/traces and shuts it down
// when the test ends. Point an exporter at it with
// OTEL_EXPORTER_OTLP_ENDPOINT=r.URL().
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the receiver's base URL ("/v1/traces" is appended by exporters).
func (r *Receiver) URL() string { return r.srv.URL }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var msg collectortrace.ExportTraceServiceRequest
	switch {
	case req.Method != http.MethodPost || req.URL.Path != "/v1/traces":
		r.fail(w, http.StatusNotFound, req.Method+" "+req.URL.Path)
		return
	case req.Header.Get("Content-Type") != "application/x-protobuf":
		r.fail(w, http.StatusUnsupportedMediaType, "content type "+req.Header.Get("Content-Type"))
		return
	case err != nil:
		r.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := proto.Unmarshal(body, &msg); err != nil {
		r.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	r.mu.Lock()
	for _, rs := range msg.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *Receiver) fail(w http.ResponseWriter, code int, why string) {
	r.mu.Lock()
	r.bad = append(r.bad, why)
	r.mu.Unlock()
	http.Error(w, why, code)
}

// Spans returns the spans received so far and fails the test if a request
// could not be read.
func (r *Receiver) Spans(t testing.TB) []*tracepb.Span {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		t.Fatalf("otlptest: unreadable export requests: %q", r.bad)
	}
	return append([]*tracepb.Span(nil), r.spans...)
}

// WaitSpans waits until at least n spans arrived, at most within, and
// returns them.
func (r *Receiver) WaitSpans(t testing.TB, n int, within time.Duration) []*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		spans := r.Spans(t)
		if len(spans) >= n {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("otlptest: %d spans received within %s, want %d", len(spans), within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
