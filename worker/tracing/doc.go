// Package tracing carries W3C trace context through fraudscore and, when
// asked, exports a span per scored message over OTLP.
//
// A transaction or a score request that carries a valid traceparent header
// (contracts.HeaderTraceparent, version 00 rules: contracts.ParseTraceparent)
// is continued: what fraudscore publishes for it (the verdict, the dead
// letter, the reply) carries a traceparent with the same trace id and flags
// and fraudscore's own span id as parent id, and the incoming tracestate
// values unchanged (all dropped if one looks like a card number: the input
// is refused for it anyway, and its tracestate must not be echoed in an
// error reply, a dead letter or a span). The lowercase header name is looked up first, then the
// canonical MIME form "Traceparent" that Go's http.Header-based carriers
// write. A missing or malformed traceparent is ignored: nothing is added to
// the outgoing messages and any tracestate is dropped with it (W3C: a
// tracestate without a valid traceparent is discarded). This is the whole
// cost when export is off (the nil *Tracer): no allocation for a message
// without a traceparent.
//
// Export is off by default and enabled by the standard OpenTelemetry
// variables (see FromEnv): then every message gets a span, exported in
// batches over OTLP/HTTP, a child of the incoming trace context or the root
// of a new trace when there is none (its traceparent is then the one the
// outgoing messages carry). Sampling follows OTEL_TRACES_SAMPLER (default
// parentbased_always_on: the caller's sampled flag decides).
package tracing
