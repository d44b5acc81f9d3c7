package tracing

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/fraudscore/fraudscore/contracts"
)

// ErrConfig is wrapped by every configuration error of FromEnv.
var ErrConfig = errors.New("tracing: invalid configuration")

// Kind says what a span scores: a transaction from the stream or a request.
type Kind uint8

// Kinds of span.
const (
	// Transaction: a transaction consumed from the input stream (an
	// OpenTelemetry consumer span).
	Transaction Kind = iota
	// Request: a fraud.score request answered with a reply (a server span).
	Request
	// DeadLetter: a transaction moved to the dead letters after its last
	// delivery (a consumer span).
	DeadLetter
)

var kindNames = [...]string{Transaction: "score transaction", Request: "score request", DeadLetter: "dead-letter transaction"}

// Tracer continues incoming trace contexts and, when built by FromEnv with
// export enabled, records a span per message. The nil *Tracer continues
// trace contexts without exporting anything; it is the default. A Tracer is
// safe for concurrent use.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// The standard OpenTelemetry variables FromEnv reads itself; the exporter
// and the SDK read the others (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT,
// _COMPRESSION, _CERTIFICATE, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG,
// OTEL_BSP_*, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, ...).
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
)

// FromEnv returns a Tracer that exports spans over OTLP/HTTP when the
// standard OpenTelemetry variables ask for it: OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, OTEL_SDK_DISABLED is not
// "true" and OTEL_TRACES_EXPORTER is unset or "otlp". Otherwise it returns
// nil and no error: the nil *Tracer only continues trace contexts.
// OTEL_EXPORTER_OTLP_PROTOCOL may be http/protobuf (the default) or
// http/json; grpc is refused (fraudscore ships the HTTP exporter only, see
// ADR 0017), as is any other exporter name. service and version name the
// resource (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override them).
// Call Shutdown to flush the last spans.
func FromEnv(ctx context.Context, service, version string) (*Tracer, error) {
	if strings.EqualFold(strings.TrimSpace(os.Getenv(EnvSDKDisabled)), "true") {
		return nil, nil
	}
	switch e := strings.TrimSpace(os.Getenv(EnvTracesExporter)); e {
	case "", "otlp":
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("%w: %s=%q: only otlp (or none) is supported", ErrConfig, EnvTracesExporter, e)
	}
	if os.Getenv(EnvEndpoint) == "" && os.Getenv(EnvTracesEndpoint) == "" {
		return nil, nil
	}
	proto := os.Getenv(EnvTracesProtocol)
	if proto == "" {
		proto = os.Getenv(EnvProtocol)
	}
	switch proto {
	case "", "http/protobuf", "http/json":
	default:
		return nil, fmt.Errorf("%w: OTLP protocol %q: only http/protobuf and http/json are supported", ErrConfig, proto)
	}
	var opts []otlptracehttp.Option
	if proto == "http/json" {
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: OTLP exporter: %w", ErrConfig, err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service), attribute.String("service.version", version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("%w: resource: %w", ErrConfig, err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracer{provider: tp, tracer: tp.Tracer("github.com/fraudscore/fraudscore/worker")}, nil
}

// LogErrors sends the OpenTelemetry SDK's errors (a failed export, an
// unknown OTEL_TRACES_SAMPLER, which falls back to the default) to log as
// warnings instead of the standard library's logger. The SDK's handler is
// process-wide: a main calls this once, before FromEnv.
func LogErrors(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("opentelemetry", "err", err)
	}))
}

// Exporting reports whether t records and exports spans.
func (t *Tracer) Exporting() bool { return t != nil }

// Shutdown exports the spans still queued and stops the exporter; a no-op
// on the nil *Tracer.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// Span is fraudscore's part in one message's trace. The zero Span carries
// no trace: Inject adds nothing and End does nothing. A Span is used by one
// goroutine.
type Span struct {
	out    contracts.TraceParent // what the outgoing messages carry
	traced bool
	state  []string // incoming tracestate values, carried unchanged
	hdr    []string // out formatted, built at the first Inject
	span   trace.Span
}

// Start begins fraudscore's span for a message with headers hdr (a
// nats.Header or micro.Headers) received on subject. Without export it only
// reads a valid incoming traceparent and draws a new span id; with no (or a
// malformed) traceparent it returns the zero Span without allocating.
func (t *Tracer) Start(hdr map[string][]string, kind Kind, subject string) Span {
	in, state, ok := incoming(hdr)
	var s Span
	if ok {
		s.traced = true
		s.state = state
		for _, v := range state {
			if contracts.LooksLikePAN(v) {
				// Never echoed, stored or exported: the input itself is
				// refused for carrying card data in a header.
				s.state = nil
				break
			}
		}
	}
	if t == nil {
		if ok {
			s.out = in.Child(newSpanID())
		}
		return s
	}
	ctx := context.Background()
	if ok {
		ts, err := trace.ParseTraceState(strings.Join(s.state, ","))
		if err != nil {
			ts = trace.TraceState{} // an invalid tracestate does not break the trace
		}
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: in.TraceID, SpanID: in.ParentID, TraceFlags: trace.TraceFlags(in.Flags), TraceState: ts, Remote: true,
		}))
	}
	spanKind := trace.SpanKindConsumer
	if kind == Request {
		spanKind = trace.SpanKindServer
	}
	// A subject is input: masked like every input-derived text that leaves
	// the worker (a subject that looks like a card number is refused, but
	// the span exists before that check).
	subject, _ = contracts.RedactPANString(subject)
	_, s.span = t.tracer.Start(ctx, kindNames[kind], trace.WithSpanKind(spanKind),
		trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", subject)))
	sc := s.span.SpanContext()
	// The flags are the sampler's decision: the caller's under the default
	// parentbased_always_on.
	s.out = contracts.TraceParent{TraceID: sc.TraceID(), ParentID: sc.SpanID(), Flags: byte(sc.TraceFlags())}
	s.traced = s.out.Valid()
	return s
}

// The canonical MIME forms of the trace headers (what
// textproto.CanonicalMIMEHeaderKey makes of them), written by carriers built
// on Go's http.Header.
const (
	canonicalTraceparent = "Traceparent"
	canonicalTracestate  = "Tracestate"
)

// incoming reads a valid traceparent and its tracestate values from hdr:
// the lowercase W3C names first, then the canonical MIME forms.
func incoming(hdr map[string][]string) (contracts.TraceParent, []string, bool) {
	stateKey := contracts.HeaderTracestate
	v := hdr[contracts.HeaderTraceparent]
	if len(v) == 0 {
		v, stateKey = hdr[canonicalTraceparent], canonicalTracestate
	}
	if len(v) != 1 { // none, or several: W3C says a repeated traceparent is invalid
		return contracts.TraceParent{}, nil, false
	}
	tp, err := contracts.ParseTraceparent(v[0])
	if err != nil {
		return tp, nil, false
	}
	return tp, hdr[stateKey], true
}

// IsTraceparent reports whether a header named k with values vs is a
// single valid traceparent (under either spelling of its name): an
// identifier, hex ids and flags, never card data, whatever digit runs its
// ids happen to hold.
func IsTraceparent(k string, vs []string) bool {
	if k != contracts.HeaderTraceparent && k != canonicalTraceparent || len(vs) != 1 {
		return false
	}
	_, err := contracts.ParseTraceparent(vs[0])
	return err == nil
}

// newSpanID draws a random non-zero span id (math/rand/v2: per-goroutine
// state, no lock, no allocation).
func newSpanID() [8]byte {
	var id [8]byte
	for id == ([8]byte{}) {
		binary.BigEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

// Traced reports whether the message takes part in a trace: the outgoing
// messages will carry a traceparent.
func (s *Span) Traced() bool { return s.traced }

// Traceparent returns the traceparent the outgoing messages carry; valid
// only when Traced.
func (s *Span) Traceparent() contracts.TraceParent { return s.out }

// Inject sets the traceparent (and the incoming tracestate, if any) on an
// outgoing message's headers; it does nothing when the span carries no
// trace. The header value is formatted once per Span, so injecting into
// several messages (a reply and its audit copy) costs one formatting.
func (s *Span) Inject(hdr map[string][]string) {
	if !s.traced || hdr == nil {
		return
	}
	if s.hdr == nil {
		s.hdr = []string{s.out.String()}
	}
	hdr[contracts.HeaderTraceparent] = s.hdr
	if len(s.state) > 0 {
		hdr[contracts.HeaderTracestate] = s.state
	}
}

// Outcome is what happened to a message, recorded on its span.
type Outcome struct {
	TransactionID string
	Decision      string // the verdict's decision, if any
	ModelVersion  string
	DeadLetter    string // the dead-letter reason, if dead-lettered
	Code          string // the reply's status code (requests)
	// Error, when set, marks the span failed with this description: the
	// message was not finished (NAKed) or got an error reply. It must
	// quote no input.
	Error string
}

// End records o on the span and ends it; a no-op without export. Call it
// once.
func (s *Span) End(o Outcome) {
	if s.span == nil {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 5)
	for _, kv := range [...]struct{ k, v string }{
		{"fraudscore.transaction_id", o.TransactionID}, {"fraudscore.decision", o.Decision},
		{"fraudscore.model_version", o.ModelVersion}, {"fraudscore.dead_letter_reason", o.DeadLetter},
		{"fraudscore.status_code", o.Code},
	} {
		if kv.v != "" {
			attrs = append(attrs, attribute.String(kv.k, kv.v))
		}
	}
	s.span.SetAttributes(attrs...)
	if o.Error != "" {
		s.span.SetStatus(codes.Error, o.Error)
	}
	s.span.End()
	s.span = nil
}
