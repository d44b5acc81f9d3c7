package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/fraudscore/fraudscore/contracts"
	"github.com/fraudscore/fraudscore/worker/tracing"
)

// Status codes of the score endpoint: CodeOK for a verdict, the others in
// the Nats-Service-Error-Code header of an error reply. They are the label
// values of fraudscore_requests_total.
const (
	CodeOK          = "200"
	CodeBadRequest  = "400"
	CodeTooLarge    = "413"
	CodeInternal    = "500"
	CodeUnavailable = "503"
)

var requestCodes = [...]string{CodeOK, CodeBadRequest, CodeTooLarge, CodeInternal, CodeUnavailable}

// startService registers the micro service with its score endpoint in a
// queue group, so every replica shares the requests.
func (w *Worker) startService() (micro.Service, error) {
	svc, err := micro.AddService(w.nc, micro.Config{
		Name:        w.cfg.ServiceName,
		Version:     w.version,
		Description: "fraudscore: real-time fraud scoring of payment transactions",
		QueueGroup:  w.cfg.QueueGroup,
		Metadata:    map[string]string{"worker_id": w.id, "contract": contracts.TransactionEventSchemaV1},
	})
	if err != nil {
		return nil, fmt.Errorf("worker: add service: %w", err)
	}
	var s scratch
	err = svc.AddEndpoint("score", micro.HandlerFunc(func(req micro.Request) { w.handleRequest(req, &s) }),
		micro.WithEndpointSubject(w.cfg.ScoreSubject),
		micro.WithEndpointMetadata(map[string]string{
			"request_schema": contracts.TransactionEventSchemaV1, "response_schema": contracts.VerdictSchemaV1,
		}))
	if err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("worker: add score endpoint: %w", err)
	}
	return svc, nil
}

// handleRequest scores one request. micro calls it from one goroutine per
// endpoint, so s is not shared.
func (w *Worker) handleRequest(req micro.Request, s *scratch) {
	start := time.Now()
	code := CodeOK
	sp := w.tracer.Start(req.Headers(), tracing.Request, req.Subject())
	var outcome tracing.Outcome
	defer func() {
		w.m.Requests.WithLabelValues(code).Inc()
		w.m.RequestLatency.Observe(time.Since(start).Seconds())
		outcome.Code = code
		sp.End(outcome)
	}()
	fail := func(c, desc string) {
		code = c
		outcome.Error = c // the code: the description may quote the input
		var opts []micro.RespondOpt
		if sp.Traced() {
			h := micro.Headers{}
			sp.Inject(h)
			maskInputHeaders(h) // the tracestate is input: a refused one may be why
			opts = append(opts, micro.WithHeaders(h))
		}
		// The description may quote the input: masked, one line, bounded.
		if err := req.Error(c, sanitizeHeader(desc), nil, opts...); err != nil {
			w.log.Warn("respond", "err", err)
		}
	}
	switch {
	case w.draining.Load():
		fail(CodeUnavailable, "draining: retry on another replica")
		return
	case w.cfg.PassThrough:
		fail(CodeUnavailable, "pass-through benchmark mode does not score")
		return
	case w.cfg.AuditRequests && w.js.PublishAsyncPending() >= w.cfg.PublishWindow:
		fail(CodeUnavailable, "overloaded: verdict stream not keeping up")
		return
	}
	data := req.Data()
	if len(data) > w.cfg.MaxPayload {
		fail(CodeTooLarge, fmt.Sprintf("payload of %d bytes exceeds %d", len(data), w.cfg.MaxPayload))
		return
	}
	if err := w.decoder.DecodeEvent(data, &s.ev); err != nil {
		var ve *contracts.ValidationError
		if errors.As(err, &ve) && ve.Kind == contracts.KindTooLarge {
			fail(CodeTooLarge, err.Error())
			return
		}
		fail(CodeBadRequest, err.Error())
		return
	}
	if why := cardDataOutsideContract(req.Subject(), req.Headers(), data); why != "" {
		fail(CodeBadRequest, why)
		return
	}
	if w.enricher != nil {
		if err := w.enrich(s); err != nil {
			fail(CodeInternal, "scoring failed")
			return
		}
	}
	if err := w.score(s); err != nil {
		fail(CodeInternal, "scoring failed")
		return
	}
	out := w.verdictMsg(&s.vd)
	// The reply carries the verdict's headers but not its Msg-Id (a reply is
	// not stored); the values are the cached ones of verdictMsg.
	hdr := micro.Headers{
		contracts.HeaderModelVersion:  out.Header[contracts.HeaderModelVersion],
		contracts.HeaderPolicyVersion: out.Header[contracts.HeaderPolicyVersion],
		contracts.HeaderDecision:      out.Header[contracts.HeaderDecision],
		contracts.HeaderSchema:        out.Header[contracts.HeaderSchema],
	}
	sp.Inject(out.Header) // the audit copy
	sp.Inject(hdr)        // the reply: the same value, formatted once
	outcome = tracing.Outcome{TransactionID: s.vd.TransactionID, Decision: string(s.vd.Decision), ModelVersion: s.vd.ModelVersion}
	if err := req.Respond(out.Data, micro.WithHeaders(hdr)); err != nil {
		w.log.Warn("respond", "transaction_id", s.vd.TransactionID, "err", err)
	}
	// The audit copy goes out after the reply: it is off the caller's path.
	if w.cfg.AuditRequests {
		f, err := w.js.PublishMsgAsync(out)
		if err != nil {
			w.m.ConsumerErrors.WithLabelValues("publish").Inc()
			w.log.Warn("audit verdict publish failed", "transaction_id", s.vd.TransactionID, "err", err)
		} else {
			select {
			case w.audits <- pending{future: f, decision: s.vd.Decision, model: s.vd.ModelVersion, txID: s.vd.TransactionID}:
			default: // the audit loop is behind: the publish still completes, only its metric is skipped
			}
		}
	}
	w.log.Debug("scored request", "transaction_id", s.vd.TransactionID, "decision", s.vd.Decision, "model_version", s.vd.ModelVersion)
}
